import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { eventually, fast, send, serve, timed } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

const gaps = (server: TestServer.TestServer) =>
  server.requests.slice(1).map((request, i) => request.receivedAt - server.requests[i].receivedAt)

/**
 * How much later than its least a real-time case may end. A busy machine slows every turn of the event loop, so an
 * upper bound only shows that nothing waited on something it should not have (a second Retry-After, a timeout the
 * case does not expect): 5 s shows that and holds on a loaded machine. The exact waits are asserted under TestClock
 * in the core package's tests.
 */
const SLACK = 5_000

describe("NodeHttpRetry.layer: status sequences", () => {
  it.scopedLive("503, 503, 200 succeeds on the third attempt, 20 then 40 ms apart", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        503,
        503,
        TestServer.respond(200, { body: "ok" })
      ]))
      const answer = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 200, body: "ok" })
      assert.strictEqual(server.requests.length, 3)
      const [first, second] = gaps(server)
      assert.isAtLeast(first, 19)
      assert.isAtLeast(second, 39)
      assert.isBelow(first + second, 60 + SLACK)
    }))

  it.scopedLive("404 gives up at once: HttpStatusError, attempts 1, NotRetryable", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([404, 200]))
      const error = yield* Effect.flip(
        send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(`${server.url}/missing`))
      )
      assert.isTrue(HttpStatusError.isHttpStatusError(error))
      assert.deepStrictEqual(
        error._tag === "HttpStatusError" ? [error.status, error.attempts, error.reason, error.method] : error,
        [404, 1, "NotRetryable", "GET"]
      )
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("503 four times gives up with HttpStatusError, attempts 4, AttemptsExhausted", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([503]))
      const [error, elapsed] = yield* timed(
        Effect.flip(send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url)))
      )
      assert.deepStrictEqual(
        error._tag === "HttpStatusError" ? [error.status, error.attempts, error.reason] : error,
        [503, 4, "AttemptsExhausted"]
      )
      assert.strictEqual(server.requests.length, 4)
      // 20 + 40 + 80 ms of backoff
      assert.isAtLeast(elapsed, 139)
      assert.isBelow(elapsed, 140 + SLACK)
    }))

  it.scopedLive("Retry-After: 1 on a 503 is honoured: the second attempt arrives about a second later", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(503, { headers: { "retry-after": "1" } }),
        TestServer.respond(200, { body: "later" })
      ]))
      const answer = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 200, body: "later" })
      assert.strictEqual(server.requests.length, 2)
      const [gap] = gaps(server)
      assert.isAtLeast(gap, 990)
      assert.isBelow(gap, 1_000 + SLACK)
    }))

  it.scopedLive("the final HttpStatusError carries the last Retry-After", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(429, { headers: { "retry-after": "0" } }))
      const error = yield* Effect.flip(
        send(NodeHttpRetry.layer({ policy: fast({ maxAttempts: 2 }) }), HttpClientRequest.get(server.url))
      )
      assert.deepStrictEqual(
        error._tag === "HttpStatusError" ?
          [error.status, error.attempts, error.reason, Option.isSome(error.retryAfter)] :
          error,
        [429, 2, "AttemptsExhausted", true]
      )
      assert.strictEqual(server.requests.length, 2)
    }))
})

describe("NodeHttpRetry.layer: slow and broken answers", () => {
  // 500 ms: the second attempt's answer must come in time on a busy machine too; the first comes 5 s later.
  it.scopedLive("headers later than attemptTimeout: TimeoutException, then a retry that succeeds", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(200, { body: "too late", delay: 5_000 }),
        TestServer.respond(200, { body: "in time" })
      ]))
      const [answer, elapsed] = yield* timed(send(
        NodeHttpRetry.layer({ policy: fast({ attemptTimeout: "500 millis" }) }),
        HttpClientRequest.get(server.url)
      ))
      assert.deepStrictEqual(answer, { status: 200, body: "in time" })
      assert.strictEqual(server.requests.length, 2)
      // The timed-out attempt's socket is destroyed, so the retry comes on a new connection. undici reconnects at once
      // after an abort and drops that idle socket again, hence three connections for two requests.
      assert.deepStrictEqual(server.requests.map((request) => request.connectionId), [1, 3])
      assert.strictEqual(server.connections, 3)
      assert.isAtLeast(elapsed, 519)
      assert.isBelow(elapsed, 520 + SLACK)
    }))

  // Node fires a native timer longer than 2^31 - 1 ms after 1 ms; Effect's clock never fires such a sleep.
  it.scopedLive.each(["direct", "platform"] as const)(
    "%s transport: an attemptTimeout of 30 days does not cut an answer that takes 50 ms",
    (transport) =>
      Effect.gen(function*() {
        const server = yield* serve(() => TestServer.respond(200, { body: "ok", delay: 50 }))
        const answer = yield* send(
          NodeHttpRetry.layer({ transport, policy: fast({ attemptTimeout: "30 days", maxElapsed: "30 days" }) }),
          HttpClientRequest.get(server.url)
        )
        assert.deepStrictEqual(answer, { status: 200, body: "ok" })
        assert.strictEqual(server.requests.length, 1)
      })
  )

  it.scopedLive("headers always later than attemptTimeout: TimeoutException after every attempt", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.hang())
      const [error, elapsed] = yield* timed(Effect.flip(send(
        NodeHttpRetry.layer({ policy: fast({ maxAttempts: 2, attemptTimeout: "100 millis" }) }),
        HttpClientRequest.get(server.url)
      )))
      assert.isTrue(Cause.isTimeoutException(error))
      assert.include(error.message, "attempt 2 of 2 timed out")
      assert.strictEqual(server.requests.length, 2)
      assert.isAtLeast(elapsed, 219)
      assert.isBelow(elapsed, 220 + SLACK)
    }))

  // The transport's own timer (the direct transport arms it; the platform's is bounded by the retry): the server sees
  // the next attempt one attempt timeout and one backoff after the first. A timer off by half its time fails this;
  // the 400 ms over are for a busy machine.
  it.scopedLive("the attempt timeout ends an attempt on time: two 1 s attempts and the 20 ms wait take 2.02 s", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.hang())
      const [error, elapsed] = yield* timed(Effect.flip(send(
        NodeHttpRetry.layer({ policy: fast({ maxAttempts: 2, attemptTimeout: "1 second" }) }),
        HttpClientRequest.get(server.url)
      )))
      assert.isTrue(Cause.isTimeoutException(error))
      assert.strictEqual(server.requests.length, 2)
      // Timed by the caller: each attempt's timer starts before its request leaves, so no timeout ends early.
      assert.isAtLeast(elapsed, 2018)
      assert.isBelow(elapsed, 2020 + SLACK)
      // At the server the gap is 1,020 ms less whatever more the first request took to arrive (a cold connection,
      // a busy machine) than the second: bounded above only, below what a second attempt timeout waited would make.
      const gap = server.requests[1].receivedAt - server.requests[0].receivedAt
      assert.isBelow(gap, 2000)
    }))

  it.scopedLive("a 200 whose body stalls: the response is returned, reading it hangs until a timeout ends it", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.stallBody(200, { body: "0123456789", sent: 4 }))
      const layer = NodeHttpRetry.layer({ policy: fast({ attemptTimeout: "100 millis" }) })
      const [outcome, elapsed] = yield* timed(
        HttpClient.get(server.url).pipe(
          Effect.flatMap((response) =>
            response.text.pipe(
              Effect.timeout("300 millis"),
              Effect.flip,
              Effect.map((error) => ({ status: response.status, error }))
            )
          ),
          // Interrupting the read aborts the request: its socket closes while the layer is still open.
          Effect.tap(() => eventually(() => server.openSockets() === 0)),
          Effect.provide(layer)
        )
      )
      // attemptTimeout covers the wait for headers only: the body read outlives it and is ended by the caller's timeout.
      assert.strictEqual(outcome.status, 200)
      assert.isTrue(Cause.isTimeoutException(outcome.error))
      assert.isAtLeast(elapsed, 299)
      assert.isBelow(elapsed, 300 + SLACK)
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("a 503 whose socket is destroyed mid-body is still retried", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.destroyMidBody(503, { body: "0123456789", sent: 4 }),
        TestServer.respond(200, { body: "ok" })
      ]))
      const answer = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 200, body: "ok" })
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(server.connections, 2)
    }))
})

describe("NodeHttpRetry.layerClient", () => {
  it.scopedLive("does not retry: a 503 is a successful response, after one attempt", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([TestServer.respond(503, { body: "busy" }), 200]))
      const answer = yield* send(NodeHttpRetry.layerClient(), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 503, body: "busy" })
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("an attempt's timeout ends with the attempt: a later request on the same fiber and client has none", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(404),
        TestServer.hang(),
        TestServer.respond(200, { body: "slow", delay: 300 })
      ]))
      const plain = yield* HttpClient.HttpClient
      const retrying = HttpRetry.withRetry(plain, fast({ maxAttempts: 1, attemptTimeout: "100 millis" }))
      // An attempt that ends with an answer (404) and one that fails (timed out): each set a 100 ms budget, and
      // each must clear it.
      assert.strictEqual((yield* Effect.flip(retrying.get(server.url)))._tag, "HttpStatusError")
      assert.isTrue(Cause.isTimeoutException(yield* Effect.flip(retrying.get(server.url))))
      const response = yield* plain.get(server.url)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(yield* response.text, "slow")
    }).pipe(Effect.provide(NodeHttpRetry.layerClient())))
})
