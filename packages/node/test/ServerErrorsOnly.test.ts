import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import { captureLogs, closedPort, send, serve } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

// The requests + backoff original (max_tries=4, giveup on 4xx, raise_for_status) against a scripted server: 4
// attempts on a 500, 1 on a 404, 1 on a refused connection. Waits of 20 ms instead of 1 s keep the test short.
const original = (log = false) =>
  NodeHttpRetry.layer({
    policy: RetryPolicy.make({ ...RetryPolicy.serverErrorsOnly, baseDelay: "20 millis", jitter: "none", log })
  })

describe("RetryPolicy.serverErrorsOnly on a real server", () => {
  it.scopedLive("a 500 is tried 4 times", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(500, { body: "boom" }))
      const error = yield* Effect.flip(send(original(), HttpClientRequest.get(server.url)))
      assert.isTrue(HttpStatusError.isHttpStatusError(error), String(error))
      assert.strictEqual(server.requests.length, 4)
    }))

  it.scopedLive("a 404 once", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(404, { body: "no" }))
      const error = yield* Effect.flip(send(original(), HttpClientRequest.get(server.url)))
      assert.isTrue(HttpStatusError.isHttpStatusError(error) && error.status === 404, String(error))
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("a refused connection once: the RequestError at once, no wait", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const logs = captureLogs()
      const error = yield* Effect.flip(
        send(original(true), HttpClientRequest.get(`http://127.0.0.1:${port}/`)).pipe(Effect.provide(logs.layer))
      )
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
      // The retry logs one line per attempt: one attempt, given up as not retryable.
      assert.deepStrictEqual(logs.lines.map((line) => line.message.replace(/^GET \S+: /, "")), [
        `attempt 1/4 -> ConnectionRefused: connect ECONNREFUSED 127.0.0.1:${port}; giving up: NotRetryable`
      ])
      assert.strictEqual(
        (error as Error).message,
        `Transport: connect ECONNREFUSED 127.0.0.1:${port} (GET http://127.0.0.1:${port}/)`
      )
    }))
})
