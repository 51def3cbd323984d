import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { eventually, fast, send, serve, timed } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

describe("interruption", () => {
  it.scopedLive("during the backoff: the server sees no further attempt, even after the backoff would have ended", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([503, 200]))
      const layer = NodeHttpRetry.layer({ policy: fast({ baseDelay: "300 millis" }) })
      const fiber = yield* Effect.fork(send(layer, HttpClientRequest.get(server.url)))
      yield* eventually(() => server.requests.length === 1)
      // The 503 arrived; the retry now sleeps 300 ms.
      yield* Effect.sleep("50 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* Effect.sleep("500 millis")
      assert.strictEqual(server.requests.length, 1)
      // The drained 503 left its connection idle; the interrupted program closed its layer, and with it the socket
      // (well before the 4 s keep-alive would; the server sees the close a turn of its loop later).
      yield* eventually(() => server.openSockets() === 0, 2_000)
      assert.strictEqual(server.connections, 1)
    }))

  it.scopedLive("in flight: the socket is closed at once, while the layer stays open, and nothing is retried", () =>
    Effect.gen(function*() {
      const server = yield* serve(
        TestServer.sequence([TestServer.hang(), TestServer.respond(200, { body: "ok" })])
      )
      const answer = yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const fiber = yield* Effect.fork(client.get(server.url))
        yield* eventually(() => server.requests.length === 1 && server.openSockets() === 1)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        // At once rather than at the 4 s keep-alive timeout; 2 s leaves a busy machine room for its turns of the loop.
        const [, closedAfter] = yield* timed(eventually(() => server.openSockets() === 0, 2_000))
        assert.isBelow(closedAfter, 2_000)
        // Past every backoff of the policy: no retry of the interrupted request.
        yield* Effect.sleep("300 millis")
        assert.strictEqual(server.requests.length, 1)
        // The layer is still usable.
        return yield* Effect.flatMap(client.get(server.url), (response) => response.text)
      }).pipe(Effect.provide(NodeHttpRetry.layer({ policy: fast() })))
      assert.strictEqual(answer, "ok")
      assert.strictEqual(server.requests.length, 2)
      yield* eventually(() => server.openSockets() === 0, 2_000)
    }))
})

describe("a request queued in the pool, waiting for a connection", () => {
  it.scopedLive.each(["direct", "platform"] as const)(
    "%s transport: ends at its attempt timeout, without waiting for the connection it queued for",
    (transport) =>
      Effect.gen(function*() {
        // One connection, held by a first answer whose body stalls (its attempt timer ended with its headers).
        const server = yield* serve(TestServer.sequence([TestServer.stallBody(200, { body: "0123456789", sent: 4 })]))
        const layer = NodeHttpRetry.layer({
          transport,
          connections: 1,
          policy: fast({ maxAttempts: 1, attemptTimeout: "300 millis" })
        })
        const outcome = yield* Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const first = yield* client.get(server.url)
          const queued = yield* Effect.fork(client.get(server.url))
          // Without its timer ending it, it would wait for the connection the first body holds: no end within 2 s.
          const exit = yield* Effect.timeoutOption(Fiber.await(queued), "2 seconds")
          yield* Fiber.interrupt(queued)
          // Read only now, so that the first response stays reachable until here: collected, the platform would
          // abort it and free the connection, and the queued request would end however its timer is handled.
          assert.strictEqual(first.status, 200)
          return exit
        }).pipe(Effect.provide(layer))
        const ended = Option.isNone(outcome) ?
          "still pending after 2 s" :
          Exit.isFailure(outcome.value) ?
          (Cause.squash(outcome.value.cause) as { readonly _tag?: string })._tag :
          "answered"
        assert.strictEqual(ended, "TimeoutException")
        // Only the first request reached the server: the queued one never had a connection.
        assert.strictEqual(server.requests.length, 1)
      })
  )
})

describe("a send aborted before it starts", () => {
  // The retry hands a send `abortWith` (a hedge round's first attempt); after a hedge has won, a later send of that
  // attempt (a redirect hop) is aborted as soon as it registers. It must end at once: nothing sent, no timer left.
  it.scopedLive("direct transport, through AttemptTimeout.abortWith: interrupted, no request at the server, no timer armed", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(200, { body: "ok" }))
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length
      const exit = yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const before = timers()
        const exit = yield* Effect.exit(
          client.get(server.url).pipe(
            Effect.provideService(HttpRetry.AttemptTimeout, {
              millis: 60_000,
              onTimeout: () => new Cause.TimeoutException("attempt timed out"),
              abortWith: (abort) => abort()
            })
          )
        )
        assert.strictEqual(timers(), before)
        return exit
        // The direct transport reads abortWith; the platform's does not.
      }).pipe(Effect.provide(NodeHttpRetry.layerClient({ transport: "direct" })))
      assert.isTrue(Exit.isInterrupted(exit))
      // Past a turn of the loop: no request went out.
      yield* Effect.sleep("100 millis")
      assert.strictEqual(server.requests.length, 0)
      assert.strictEqual(server.connections, 0)
    }))
})
