import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { formatWait } from "../../src/internal/logging.js"
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
            message: `GET ${url}: attempt 3/4 -> ConnectionReset: simulated ECONNRESET; retrying in 4s (backoff)`
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

    it.effect("a cause whose words run over lines (OpenSSL's end with a newline) is logged on one line", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(
          runScript(
            [fail(
              "ERR_SSL_WRONG_VERSION_NUMBER",
              "802C0000:error:0A00010B:SSL routines:ssl3_get_record:\n  wrong version number\n"
            )],
            noJitter({ log: "Debug", maxAttempts: 1 })
          )
        )
        assert.deepStrictEqual(lines.map((l) => l.message), [
          `GET ${url}: attempt 1/1 -> Unknown: 802C0000:error:0A00010B:SSL routines:ssl3_get_record: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER); giving up: AttemptsExhausted`
        ])
      }))

    it.effect("a zero base delay waits 0 ms, also once its factor's power overflows", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(
          runScript(
            [respond(503), respond(503), respond(503), ok()],
            noJitter({ log: "Debug", baseDelay: 0, factor: 1e308 })
          )
        )
        assert.deepStrictEqual(out.at, [0, 0, 0, 0])
        assert.deepStrictEqual(lines.map((l) => l.message), [
          `GET ${url}: attempt 1/4 -> HTTP 503; retrying in 0ms (backoff)`,
          `GET ${url}: attempt 2/4 -> HTTP 503; retrying in 0ms (backoff)`,
          `GET ${url}: attempt 3/4 -> HTTP 503; retrying in 0ms (backoff)`,
          `GET ${url}: attempt 4/4 -> 200`
        ])
      }))

    it.effect("waits print rounded: milliseconds below a second, then tenths of a second", () =>
      Effect.gen(function*() {
        // A jittered wait is a fraction of a millisecond; Duration.format would print "704ms 799805ns".
        const [, lines] = yield* captureLogs(
          runScript(
            [respond(503), respond(503), respond(503), ok()],
            noJitter({ log: "Debug", baseDelay: "704799805 nanos", factor: 2.5 })
          )
        )
        assert.deepStrictEqual(lines.map((l) => l.message), [
          `GET ${url}: attempt 1/4 -> HTTP 503; retrying in 705ms (backoff)`,
          `GET ${url}: attempt 2/4 -> HTTP 503; retrying in 1.8s (backoff)`,
          `GET ${url}: attempt 3/4 -> HTTP 503; retrying in 4.4s (backoff)`,
          `GET ${url}: attempt 4/4 -> 200`
        ])
      }))

    it("formatWait rounds to what a reader can use", () => {
      const table: Array<[number, string]> = [
        [0, "0ms"],
        [20, "20ms"],
        [704.799805, "705ms"],
        [999.6, "1s"],
        [1000, "1s"],
        [1249.9, "1.2s"],
        [30_000, "30s"],
        [59_960, "1m"],
        [90_400, "1m 30s"]
      ]
      assert.deepStrictEqual(table.map(([millis]) => [millis, formatWait(millis)]), table)
    })

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

    const logBody = noJitter({ log: { level: "Debug", body: true }, redact: { query: ["pin"] } })
    const bodyLogged = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.map(captureLogs(runScript([respond(503), ok()], logBody, request)), ([, lines]) => lines[0].message)

    it.effect("body: true redacts secret-named fields of a urlencoded form, the policy's redact.query too", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(
          HttpClientRequest.bodyUrlParams({ user: "ada", password: "hunter2", PIN: "1234", note: "a b" })
        )
        const message = yield* bodyLogged(request)
        assert.include(message, "body=\"user=ada&password=<redacted>&PIN=<redacted>&note=a%20b\"")
        assert.notInclude(message, "hunter2")
        assert.notInclude(message, "1234")
      }))

    it.effect("body: true redacts fields named as credentials, bracketed and camel-cased too; cursors stay", () =>
      Effect.gen(function*() {
        const form = yield* bodyLogged(
          requestWith("PUT").pipe(
            HttpClientRequest.bodyUrlParams({ "user[name]": "ada", "user[password]": "hunter2", pageToken: "p2" })
          )
        )
        assert.include(form, "body=\"user%5Bname%5D=ada&user%5Bpassword%5D=<redacted>&pageToken=p2\"")
        const json = yield* bodyLogged(
          requestWith("PUT").pipe(
            HttpClientRequest.bodyUnsafeJson({
              newPassword: "n3w",
              refreshToken: "r3f",
              privateKey: "k3y",
              sortKey: "a"
            })
          )
        )
        assert.include(
          json,
          `body=${
            JSON.stringify(JSON.stringify({
              newPassword: "<redacted>",
              refreshToken: "<redacted>",
              privateKey: "<redacted>",
              sortKey: "a"
            }))
          }`
        )
      }))

    it.effect("body: true redacts secret-named fields of a JSON document at any depth", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(
          HttpClientRequest.bodyUnsafeJson({ user: "ada", auth: { token: "t0k", pin: 1234 }, items: [{ secret: "s" }] })
        )
        const message = yield* bodyLogged(request)
        assert.include(
          message,
          `body=${
            JSON.stringify(
              JSON.stringify({
                user: "ada",
                auth: { token: "<redacted>", pin: "<redacted>" },
                items: [{ secret: "<redacted>" }]
              })
            )
          }`
        )
        assert.notInclude(message, "t0k")
      }))

    it.effect("a body said to be JSON that does not parse is not shown", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(HttpClientRequest.bodyText("{\"password\": \"hun", "application/json"))
        const message = yield* bodyLogged(request)
        assert.include(message, "body=\"<unparsed JSON, 17 chars>\"")
        assert.notInclude(message, "hun\"")
      }))

    it.effect("the log line, redacted, is what a span records as its event", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(HttpClientRequest.bodyUrlParams({ user: "ada", password: "hunter2" }))
        // At Info, which passes the default minimum level: Effect's tracer logger records it on the caller's span.
        const atInfo = noJitter({ log: { level: "Info", body: true } })
        const events = yield* Effect.gen(function*() {
          const span = yield* Effect.currentSpan
          yield* runScript([respond(503), ok()], atInfo, request)
          // Effect's own (native) span keeps its events as [name, time, attributes].
          return (span as unknown as { readonly events: ReadonlyArray<readonly [string, bigint, unknown]> }).events
            .map(([name]) => name)
        }).pipe(Effect.withSpan("caller"))
        const logged = events.filter((event) => event.includes("attempt 1/4"))
        assert.strictEqual(logged.length, 1)
        assert.include(logged[0], "body=\"user=ada&password=<redacted>\"")
        assert.isFalse(events.some((event) => event.includes("hunter2")))
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
