import type * as Undici from "@effect/platform-node/Undici"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import { captureLogs, closedPort, fast, send, serve, timed } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

// The policy logs one line per attempt: how the test counts attempts that never reach a server.
const logged = fast({ log: "Info" })

const causeCode = (error: unknown): unknown =>
  Predicate.hasProperty(error, "cause") && Predicate.hasProperty(error.cause, "code") ? error.cause.code : undefined

const asRequestError = (error: unknown): HttpClientError.RequestError => {
  assert.isTrue(HttpClientError.isHttpClientError(error), `expected a RequestError, got ${String(error)}`)
  assert.strictEqual((error as HttpClientError.HttpClientError)._tag, "RequestError")
  return error as HttpClientError.RequestError
}

describe("transport failures reach the core classified", () => {
  it.scopedLive("connection refused is retried, then fails with RequestError caused by ECONNREFUSED", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const logs = captureLogs()
      const [error, elapsed] = yield* timed(Effect.flip(
        send(NodeHttpRetry.layer({ policy: logged }), HttpClientRequest.get(`http://127.0.0.1:${port}/`)).pipe(
          Effect.provide(logs.layer)
        )
      ))
      const requestError = asRequestError(error)
      assert.strictEqual(requestError.reason, "Transport")
      assert.strictEqual(causeCode(requestError), "ECONNREFUSED")
      assert.deepStrictEqual(TransportFailure.classify(requestError), {
        kind: "ConnectionRefused",
        code: "ECONNREFUSED"
      })
      assert.deepStrictEqual(logs.lines.map((line) => line.message.replace(/^GET \S+: /, "")), [
        `attempt 1/4 -> ConnectionRefused: connect ECONNREFUSED 127.0.0.1:${port}; retrying in 20ms (backoff)`,
        `attempt 2/4 -> ConnectionRefused: connect ECONNREFUSED 127.0.0.1:${port}; retrying in 40ms (backoff)`,
        `attempt 3/4 -> ConnectionRefused: connect ECONNREFUSED 127.0.0.1:${port}; retrying in 80ms (backoff)`,
        `attempt 4/4 -> ConnectionRefused: connect ECONNREFUSED 127.0.0.1:${port}; giving up: AttemptsExhausted`
      ])
      assert.isAtLeast(elapsed, 139)
      // No wait of its own beyond the backoff (the connect timeout is 10 s), with room for a busy machine.
      assert.isBelow(elapsed, 5_000)
    }))

  it.scopedLive("a socket destroyed before the headers is a reset: a GET is retried until it succeeds", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.destroyBeforeHeaders(),
        TestServer.destroyBeforeHeaders(),
        TestServer.respond(200, { body: "ok" })
      ]))
      const answer = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 200, body: "ok" })
      assert.strictEqual(server.requests.length, 3)
      assert.strictEqual(server.connections, 3)
    }))

  it.scopedLive("resets on every attempt: RequestError classified ConnectionReset after 4 attempts", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.destroyBeforeHeaders())
      const error = asRequestError(
        yield* Effect.flip(send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url)))
      )
      assert.strictEqual(error.reason, "Transport")
      assert.strictEqual(TransportFailure.classify(error)?.kind, "ConnectionReset")
      assert.strictEqual(server.requests.length, 4)
    }))

  it.scopedLive("a POST whose socket is destroyed before the headers is not retried", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([TestServer.destroyBeforeHeaders(), 200]))
      const logs = captureLogs()
      const error = asRequestError(
        yield* Effect.flip(
          send(
            NodeHttpRetry.layer({ policy: logged }),
            HttpClientRequest.post(server.url).pipe(HttpClientRequest.bodyText("payload"))
          ).pipe(Effect.provide(logs.layer))
        )
      )
      assert.strictEqual(TransportFailure.classify(error)?.kind, "ConnectionReset")
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(server.requests[0].body.toString(), "payload")
      assert.strictEqual(logs.lines.length, 1)
      assert.match(
        logs.lines[0].message,
        /attempt 1\/4 -> ConnectionReset: .*\b(ECONNRESET|UND_ERR_SOCKET)\b.*; giving up: MethodNotRetried$/
      )
    }))
})

// The direct transport's own module: its declarations are internal (stripped from the types the tests compile against).
const internalTransport = "../src/internal/undiciClient.js"
const UndiciClient: { readonly make: (dispatcher: Undici.Dispatcher) => HttpClient.HttpClient } = await import(
  internalTransport
)

describe("an answer that comes after the send ended", () => {
  // A dispatcher that ignores the abort and answers late: the request it answers was given up by the attempt timeout.
  it.live("its body is destroyed at once (nobody will read it), so its connection is not held", () =>
    Effect.gen(function*() {
      let destroyed = false
      const body = { destroy: () => (destroyed = true) }
      const dispatcher = {
        request: () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200, headers: {}, body }), 100))
      } as unknown as Undici.Dispatcher
      const client = HttpRetry.withRetry(
        UndiciClient.make(dispatcher),
        RetryPolicy.make({ maxAttempts: 1, attemptTimeout: "20 millis" })
      )
      const error = yield* Effect.flip(Effect.scoped(client.get("http://127.0.0.1:9/late")))
      assert.strictEqual((error as { readonly _tag: string })._tag, "TimeoutException")
      // The answer comes 100 ms after the request; by then nothing waits for it.
      yield* Effect.sleep("1 second")
      assert.isTrue(destroyed)
    }))
})
