/**
 * Retry-After from a hostile or broken server: huge, negative, non-numeric, far-future, past, malformed, repeated.
 * Whatever the value, the retry never waits longer than `maxRetryAfter` or past the deadline, and never crashes. The
 * waits are exact under TestClock with a scripted client; the same values then go through the Node layer against a
 * real server, in real time.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy, TestHttpClient } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { performance } from "node:perf_hooks"
import { send } from "../harness.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"

const ledger = Ledger.make("retryAfter")
afterAll(() => ledger.flush())

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)
const date = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toUTCString()

const BASE = 1_000
const MAX_RETRY_AFTER = 60_000
const MAX_ELAPSED = 50_000

/** What the retry does with the header: wait this long, or give up at once. */
type Expected = { readonly wait: number } | { readonly giveUp: "RetryAfterTooLong"; readonly hint: number }

const backoff: Expected = { wait: BASE }
const honoured = (seconds: number): Expected => ({ wait: seconds * 1000 })
const refused = (seconds: number): Expected => ({ giveUp: "RetryAfterTooLong", hint: seconds * 1000 })

const values: ReadonlyArray<readonly [string, string, Expected]> = [
  ["3600 (an hour)", "3600", refused(3600)],
  // Past 2^31 seconds a value is read as 2^31 (RFC 9111): too long, whatever its size.
  ["2^31 + 1 seconds", String(2 ** 31 + 1), refused(2 ** 31)],
  ["10^12 seconds", "1000000000000", refused(2 ** 31)],
  ["a 20-digit number", "99999999999999999999", refused(2 ** 31)],
  ["a 400-digit number (not a finite number)", "9".repeat(400), refused(2 ** 31)],
  ["-1", "-1", backoff],
  ["soon", "soon", backoff],
  ["empty", "", backoff],
  ["1.5", "1.5", backoff],
  ["0x10", "0x10", backoff],
  ["1e3", "1e3", backoff],
  ["two values, \"1, 3600\" (a repeated header)", "1, 3600", backoff],
  ["0 (no wait asked: the backoff still applies)", "0", backoff],
  ["7, padded with spaces", "  7  ", honoured(7)],
  ["45", "45", honoured(45)],
  ["50 (the wait would reach the 50 s deadline)", "50", refused(50)],
  ["61 (over the 60 s maxRetryAfter)", "61", refused(61)],
  ["an HTTP-date an hour in the past", date(-3600), backoff],
  ["the epoch", "Thu, 01 Jan 1970 00:00:00 GMT", backoff],
  ["an HTTP-date 30 s ahead", date(30), honoured(30)],
  ["an HTTP-date 30 s ahead, RFC 850", "Thursday, 15-Jan-26 12:00:30 GMT", honoured(30)],
  ["an HTTP-date 30 s ahead, asctime", "Thu Jan 15 12:00:30 2026", honoured(30)],
  ["an HTTP-date 55 s ahead (past the 50 s deadline)", date(55), refused(55)],
  ["an HTTP-date two hours ahead", date(7200), refused(7200)],
  [
    "an HTTP-date in year 9999",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    refused((Date.UTC(9999, 11, 31, 23, 59, 59) - NOW) / 1000)
  ],
  ["a malformed HTTP-date (32 Jan)", "Thu, 32 Jan 2026 12:00:30 GMT", backoff],
  ["a malformed HTTP-date (no zone)", "Thu, 15 Jan 2026 12:00:30", backoff],
  ["a malformed HTTP-date (25:00)", "Thu, 15 Jan 2026 25:00:00 GMT", backoff],
  ["an ISO date", "2026-01-15T12:00:30Z", backoff]
]

const policy = RetryPolicy.make({
  maxAttempts: 2,
  baseDelay: Duration.millis(BASE),
  jitter: "none",
  maxRetryAfter: Duration.millis(MAX_RETRY_AFTER),
  maxElapsed: Duration.millis(MAX_ELAPSED)
})

describe("Retry-After abuse, under TestClock", () => {
  for (const status of [429, 503]) {
    for (const [name, value, expected] of values) {
      it.effect(`${status} with Retry-After ${name}`, () =>
        Effect.gen(function*() {
          ledger.fault(`Retry-After: ${name}`)
          yield* TestClock.setTime(NOW)
          const test = yield* TestHttpClient.make([
            TestHttpClient.respond(status, { headers: { "retry-after": value } }),
            TestHttpClient.ok("after the wait")
          ])
          const client = HttpRetry.withRetry(test.client, policy)
          const fiber = yield* Effect.fork(Effect.zip(
            // The guard runs on the TestClock too: past the 3 hours adjusted below.
            ledger.observe(client.get("http://api.test/items"), { bound: 4 * 3_600_000 }),
            Clock.currentTimeMillis
          ))
          // Further than any wait the header could ask for, were it obeyed.
          yield* TestClock.adjust("3 hours")
          const [exit, endMillis] = yield* Fiber.join(fiber)
          const end = endMillis - NOW
          const at = (yield* test.requests).map((r) => r.at - NOW)
          if ("wait" in expected) {
            assert.isTrue(Exit.isSuccess(exit), String(exit))
            assert.deepStrictEqual(at, [0, expected.wait])
            assert.strictEqual(end, expected.wait)
          } else {
            assert.isTrue(Exit.isFailure(exit))
            assert.deepStrictEqual(at, [0])
            assert.strictEqual(end, 0, "given up at once")
            const failure = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
            assert.isTrue(HttpStatusError.isHttpStatusError(failure))
            const statusError = failure as HttpStatusError.HttpStatusError
            assert.strictEqual(statusError.reason, expected.giveUp)
            assert.strictEqual(statusError.attempts, 1)
            assert.strictEqual(Duration.toMillis(Option.getOrThrow(statusError.retryAfter)), expected.hint)
          }
          // Whatever was asked, no wait beyond the cap or the deadline.
          assert.isAtMost(end, Math.min(MAX_RETRY_AFTER, MAX_ELAPSED))
        }))
    }
  }
})

describe("Retry-After abuse, against a real server", () => {
  const real = RetryPolicy.make({ maxAttempts: 2, baseDelay: "20 millis", jitter: "none" })
  // The exact waits are asserted under TestClock above; over the network the point is that none of these headers makes
  // the client wait what it asks (an hour, a day, forever). 5 s is far below any of that, and far above what a busy
  // machine adds to two loopback requests 20 ms apart.
  const MOST = 5_000
  const cases: ReadonlyArray<
    readonly [string, ReadonlyArray<readonly [string, string]>, { readonly attempts: number; readonly most: number }]
  > = [
    ["3600", [["retry-after", "3600"]], { attempts: 1, most: MOST }],
    ["10^12", [["retry-after", "1000000000000"]], { attempts: 1, most: MOST }],
    ["-1", [["retry-after", "-1"]], { attempts: 2, most: MOST }],
    ["soon", [["retry-after", "soon"]], { attempts: 2, most: MOST }],
    ["an HTTP-date in the past", [["retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"]], { attempts: 2, most: MOST }],
    ["a malformed HTTP-date", [["retry-after", "Thu, 99 Foo 2026 99:99:99 GMT"]], { attempts: 2, most: MOST }],
    ["an HTTP-date a day ahead", [["retry-after", new Date(Date.now() + 86_400_000).toUTCString()]], {
      attempts: 1,
      most: MOST
    }],
    ["twice, 0 and 3600", [["retry-after", "0"], ["retry-after", "3600"]], { attempts: 2, most: MOST }]
  ]
  for (const [name, headers, expected] of cases) {
    it.scopedLive(`503 with Retry-After ${name}: ${expected.attempts} attempt(s), at most ${expected.most / 1000} s`, () =>
      Effect.gen(function*() {
        ledger.fault(`Retry-After: ${name}, over the network`)
        const server = yield* Chaos.make(() => Chaos.respond(503, { headers }))
        const began = performance.now()
        const exit = yield* ledger.observe(
          send(NodeHttpRetry.layer({ policy: real }), HttpClientRequest.get(server.url))
        )
        const elapsed = performance.now() - began
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(server.requests.length, expected.attempts)
        assert.isBelow(elapsed, expected.most)
      }))
  }
})
