import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
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
      // The drained 503 left its connection idle; the interrupted program closed its layer, and with it the socket.
      yield* eventually(() => server.openSockets() === 0, 500)
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
      yield* eventually(() => server.openSockets() === 0, 500)
    }))
})
