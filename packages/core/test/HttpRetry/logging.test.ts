import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { captureLogs, noJitter, requestWith, runScript, url } from "../utils.js"

const { fail, hang, ok, respond } = TestHttpClient

describe.concurrent("HttpRetry.withRetry: logging", () => {
  describe("logging", () => {
    it.effect("is off by default", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(runScript([respond(503), fail("ECONNRESET"), respond(404)]))
        assert.strictEqual(out.attempts, 3)
        assert.deepStrictEqual(lines, [])
      }))

    it.effect("log: \"Debug\" writes one line per attempt at Debug, the last one giving up", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(
          runScript(
            [respond(503), respond(429, { headers: { "retry-after": "3" } }), fail("ECONNRESET"), respond(502)],
            noJitter({ log: "Debug" })
          )
        )
        assert.strictEqual(out.attempts, 4)
        assert.deepStrictEqual(lines, [
          { level: "DEBUG", message: `GET ${url}: attempt 1/4 -> HTTP 503; retrying in 1s (backoff)` },
          { level: "DEBUG", message: `GET ${url}: attempt 2/4 -> HTTP 429; retrying in 3s (Retry-After)` },
          {
            level: "DEBUG",
            message: `GET ${url}: attempt 3/4 -> ConnectionReset (ECONNRESET); retrying in 4s (backoff)`
          },
          { level: "DEBUG", message: `GET ${url}: attempt 4/4 -> HTTP 502; giving up: AttemptsExhausted` }
        ])
      }))

    it.effect("logs the successful attempt and a give-up for a status not retried", () =>
      Effect.gen(function*() {
        const [, success] = yield* captureLogs(runScript([respond(500), ok()], noJitter({ log: "Warning" })))
        assert.deepStrictEqual(success.map((l) => [l.level, l.message]), [
          ["WARN", `GET ${url}: attempt 1/4 -> HTTP 500; retrying in 1s (backoff)`],
          ["WARN", `GET ${url}: attempt 2/4 -> 200`]
        ])
        const [, giveUp] = yield* captureLogs(runScript([respond(404)], noJitter({ log: "Debug" })))
        assert.deepStrictEqual(giveUp.map((l) => l.message), [
          `GET ${url}: attempt 1/4 -> HTTP 404; giving up: NotRetryable`
        ])
      }))

    it.effect("log: true logs at Info", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(runScript([respond(503), ok()], noJitter({ log: true })))
        assert.deepStrictEqual(lines.map((l) => l.level), ["INFO", "INFO"])
      }))

    it.effect("query parameters and body appear only when asked", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT", "http://api.test/x?page=2").pipe(HttpClientRequest.bodyText("payload-7"))
        const [, plain] = yield* captureLogs(runScript([respond(503), ok()], noJitter({ log: "Debug" }), request))
        assert.strictEqual(plain[0].message, "PUT http://api.test/x: attempt 1/4 -> HTTP 503; retrying in 1s (backoff)")
        const [, asked] = yield* captureLogs(
          runScript([respond(503), ok()], noJitter({ log: { level: "Debug", query: true, body: true } }), request)
        )
        assert.strictEqual(
          asked[0].message,
          "PUT http://api.test/x?page=2: attempt 1/4 -> HTTP 503; retrying in 1s (backoff) body=\"payload-7\""
        )
      }))

    it.effect("a timed-out attempt is logged as such", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(
          runScript([hang, ok()], noJitter({ log: "Debug", attemptTimeout: "2 seconds" }))
        )
        assert.strictEqual(lines[0].message, `GET ${url}: attempt 1/4 -> timed out; retrying in 1s (backoff)`)
      }))
  })
})
