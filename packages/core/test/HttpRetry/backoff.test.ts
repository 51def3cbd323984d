import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import {
  failure,
  millis,
  noJitter,
  observe,
  type Outcome,
  runScript,
  statusError,
  success,
  timeoutError,
  times,
  url,
  waits
} from "../utils.js"

const { delayed, hang, ok, respond } = TestHttpClient

describe.concurrent("HttpRetry.withRetry: when the next attempt is sent", () => {
  describe("backoff", () => {
    it.effect("defaults with jitter none wait 1s, 2s, 4s, then give up after 4 attempts", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), RetryPolicy.make({ jitter: "none" }))
        assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
        assert.strictEqual(out.end, 7000)
        const error = statusError(out.result)
        assert.strictEqual(error.attempts, 4)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        assert.strictEqual(error.status, 503)
      }))

    it.effect("the same error type whether or not a retry happened", () =>
      Effect.gen(function*() {
        const cases = [[[respond(404)], 404, 1], [times(4, respond(503)), 503, 4]] as const
        for (const [script, status, attempts] of cases) {
          const test = yield* TestHttpClient.make(script)
          const client = HttpRetry.withRetry(test.client, noJitter())
          const out = yield* observe(
            test,
            client.get(url).pipe(
              Effect.catchTag("HttpStatusError", (e) =>
                Effect.succeed({
                  status: e.status,
                  attempts: e.attempts,
                  instance: e instanceof HttpStatusError.HttpStatusError
                }))
            )
          )
          assert.deepStrictEqual(success(out.result), { status, attempts, instance: true })
        }
      }))

    it.effect("the final error keeps the last response, body unread", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503, { body: "first" }), respond(500, { body: "last" })],
          noJitter({ maxAttempts: 2 })
        )
        const error = statusError(out.result)
        assert.strictEqual(error.status, 500)
        assert.strictEqual(yield* error.response.text, "last")
      }))

    it.effect("maxDelay caps every wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(6, respond(503)), noJitter({ maxAttempts: 6, maxDelay: "3 seconds" }))
        assert.deepStrictEqual(waits(out.at), [1000, 2000, 3000, 3000, 3000])
        assert.strictEqual(statusError(out.result).attempts, 6)
      }))

    it.effect("factor multiplies each wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ factor: 3 }))
        assert.deepStrictEqual(waits(out.at), [1000, 3000, 9000])
      }))

    it.effect("factor 1 waits the same every time", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ factor: 1, baseDelay: "300 millis" }))
        assert.deepStrictEqual(waits(out.at), [300, 300, 300])
      }))

    it.effect("baseDelay is the first wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ baseDelay: "250 millis" }))
        assert.deepStrictEqual(waits(out.at), [250, 500, 1000])
      }))

    it.effect("maxAttempts 1 never retries", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503)], noJitter({ maxAttempts: 1 }))
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
      }))

    it.effect("jitter full waits a seeded random time in [0, delay], different from the unjittered delay", () =>
      Effect.gen(function*() {
        const run = (seed: number) =>
          runScript(times(6, respond(503)), RetryPolicy.make({ maxAttempts: 6, maxDelay: "5 seconds" })).pipe(
            Effect.withRandom(Random.make(seed))
          )
        const out = yield* run(42)
        assert.strictEqual(out.attempts, 6)
        const jittered = waits(out.at)
        const unjittered = [1000, 2000, 4000, 5000, 5000]
        assert.strictEqual(jittered.length, unjittered.length)
        jittered.forEach((wait, i) => {
          assert.isAtLeast(wait, 0)
          assert.isAtMost(wait, unjittered[i])
          assert.notStrictEqual(wait, unjittered[i])
        })
        // The clock now stands at a fractional millisecond: compare to the microsecond.
        const micros = (out: Outcome) => waits(out.at).map((ms) => Math.round(ms * 1000))
        assert.deepStrictEqual(micros(yield* run(42)), micros(out), "the same seed gives the same waits")
        assert.notDeepEqual(micros(yield* run(7)), micros(out), "another seed gives other waits")
      }))
  })

  describe("deadline (maxElapsed)", () => {
    it.effect("makes no attempt whose wait would end past the deadline", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ maxElapsed: "2500 millis" }))
        assert.strictEqual(out.attempts, 2)
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(out.end, 1000, "gives up at once rather than waiting")
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "DeadlineExceeded")
        assert.strictEqual(error.attempts, 2)
      }))

    it.effect("a wait ending exactly at the deadline is not made either", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ maxElapsed: "3 seconds" }))
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(statusError(out.result).reason, "DeadlineExceeded")
      }))

    it.effect("the attempt timeout shrinks to the time left", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), hang],
          noJitter({ maxElapsed: "5 seconds", attemptTimeout: "10 seconds" })
        )
        assert.deepStrictEqual(out.at, [0, 1000])
        timeoutError(failure(out.result))
        assert.strictEqual(out.end, 5000, "cut at the deadline, not after the 10s attempt timeout")
      }))

    it.effect("the first attempt's timeout is the smaller of attemptTimeout and maxElapsed", () =>
      Effect.gen(function*() {
        const short = yield* runScript([hang], noJitter({ maxElapsed: "3 seconds", attemptTimeout: "10 seconds" }))
        assert.strictEqual(short.attempts, 1)
        timeoutError(failure(short.result))
        assert.strictEqual(short.end, 3000)
      }))

    // A 503 that takes 2.5 s, 1 s of backoff: the second attempt would start at 3.5 s.
    const slow503 = times(4, delayed("2500 millis", respond(503)))

    it.effect("no attempt starts with no more time left than the last one took: the 503 is the answer", () =>
      Effect.gen(function*() {
        const out = yield* runScript(slow503, noJitter({ maxElapsed: "6 seconds" }))
        assert.deepStrictEqual(out.at, [0])
        assert.strictEqual(out.end, 2500, "gives up at the failure, without waiting")
        const error = statusError(out.result)
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.reason, "DeadlineExceeded")
        assert.strictEqual(error.attempts, 1)
      }))

    it.effect("with 1 ms more the attempt starts, its answer arrives before the cut, and it is still a 503", () =>
      Effect.gen(function*() {
        const out = yield* runScript(slow503, noJitter({ maxElapsed: "6001 millis" }))
        assert.deepStrictEqual(out.at, [0, 3500])
        assert.strictEqual(out.end, 6000)
        const error = statusError(out.result)
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.reason, "DeadlineExceeded")
        assert.strictEqual(error.attempts, 2)
      }))

    it.effect("the last attempt's time counts at most attemptTimeout", () =>
      Effect.gen(function*() {
        // Timed out after 2 s; 1 s of backoff; 2 s left at 3 s is not more than 2 s, 2.001 s is.
        const at = (maxElapsed: RetryPolicy.DurationInput) =>
          runScript([hang, ok()], noJitter({ maxElapsed, attemptTimeout: "2 seconds" }))
        const short = yield* at("5 seconds")
        assert.deepStrictEqual(short.at, [0])
        timeoutError(failure(short.result))
        const long = yield* at("5001 millis")
        assert.deepStrictEqual(long.at, [0, 3000])
        success(long.result)
      }))

    it.effect("a fixed minTimeLeft replaces the rule", () =>
      Effect.gen(function*() {
        // Instant 503s: attempt 2 at 1 s leaves 3 s, more than 2.999 s; attempt 3 would leave 1 s.
        const out = yield* runScript(
          times(4, respond(503)),
          noJitter({ maxElapsed: "4 seconds", minTimeLeft: "2999 millis" })
        )
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(statusError(out.result).reason, "DeadlineExceeded")
        const none = yield* runScript(
          times(4, respond(503)),
          noJitter({ maxElapsed: "4 seconds", minTimeLeft: "3 seconds" })
        )
        assert.deepStrictEqual(none.at, [0])
        assert.strictEqual(statusError(none.result).reason, "DeadlineExceeded")
      }))

    it.effect("the last attempt gets only the milliseconds left", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), respond(503), hang],
          noJitter({ maxElapsed: "3001 millis", attemptTimeout: "10 seconds" })
        )
        assert.deepStrictEqual(out.at, [0, 1000, 3000])
        timeoutError(failure(out.result))
        assert.strictEqual(out.end, 3001)
      }))
  })

  describe("Retry-After", () => {
    for (const status of [429, 503]) {
      it.effect(`${status} with delta-seconds waits exactly that long, unjittered`, () =>
        Effect.gen(function*() {
          const out = yield* runScript(
            [respond(status, { headers: { "Retry-After": "3" } }), ok()],
            RetryPolicy.make({ jitter: "full" })
          ).pipe(Effect.withRandom(Random.make(1)))
          assert.deepStrictEqual(out.at, [0, 3000])
          success(out.result)
        }))
    }

    it.effect("an HTTP-date is read against the TestClock", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript([
          respond(503, { headers: { "retry-after": "Thu, 15 Jan 2026 12:00:05 GMT" } }),
          ok()
        ])
        assert.deepStrictEqual(waits(out.at), [5000])
        assert.strictEqual(out.requests[1].at, Date.UTC(2026, 0, 15, 12, 0, 5))
      }))

    it.effect("an HTTP-date is honoured with jitter full too", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript(
          [respond(429, { headers: { "retry-after": "Thu, 15 Jan 2026 12:00:07 GMT" } }), ok()],
          RetryPolicy.make()
        ).pipe(Effect.withRandom(Random.make(3)))
        assert.deepStrictEqual(waits(out.at), [7000])
      }))

    it.effect("Retry-After: 0 waits the backoff, as a date already past does", () =>
      Effect.gen(function*() {
        const sources: Array<string> = []
        const out = yield* runScript(
          [respond(503, { headers: { "retry-after": "0" } }), respond(429, { headers: { "retry-after": "0" } }), ok()],
          noJitter(),
          HttpClientRequest.get(url),
          { onRetry: (info) => Effect.sync(() => sources.push(info.source)) }
        )
        assert.deepStrictEqual(waits(out.at), [1000, 2000])
        assert.deepStrictEqual(sources, ["backoff", "backoff"])
        success(out.result)
      }))

    it.effect("an HTTP-date in the past falls back to the backoff delay", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript([
          respond(503, { headers: { "retry-after": "Thu, 15 Jan 2026 11:59:00 GMT" } }),
          ok()
        ])
        assert.deepStrictEqual(waits(out.at), [1000])
      }))

    for (const value of ["soon", "-5", "1.5", "Sun, 31 Feb 2026 00:00:00 GMT"]) {
      it.effect(`an invalid value (${value}) falls back to the backoff delay`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(429, { headers: { "retry-after": value } }), respond(503), ok()])
          assert.deepStrictEqual(waits(out.at), [1000, 2000])
        }))
    }

    it.effect("a value longer than maxRetryAfter (60s) gives up at once with the hint", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503, { headers: { "retry-after": "61" } })])
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(out.end, 0)
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(error.attempts, 1)
        assert.isTrue(Option.isSome(error.retryAfter))
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 61_000)
      }))

    it.effect("a value too large for a double gives up at once, as any value over maxRetryAfter", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503, { headers: { "retry-after": "9".repeat(400) } }), ok()])
        assert.strictEqual(out.attempts, 1)
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 2 ** 31 * 1000)
      }))

    it.effect("a custom maxRetryAfter is the limit", () =>
      Effect.gen(function*() {
        const policy = noJitter({ maxRetryAfter: "5 seconds" })
        const tooLong = yield* runScript([respond(429, { headers: { "retry-after": "6" } })], policy)
        assert.strictEqual(tooLong.attempts, 1)
        assert.strictEqual(statusError(tooLong.result).reason, "RetryAfterTooLong")
        const fits = yield* runScript([respond(429, { headers: { "retry-after": "5" } }), ok()], policy)
        assert.deepStrictEqual(fits.at, [0, 5000])
      }))

    it.effect("a value longer than the time left before the deadline gives up at once with the hint", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), respond(503, { headers: { "retry-after": "9" } })],
          noJitter({ maxElapsed: "10 seconds" })
        )
        // The second answer comes at 1000; 1000 + 9000 reaches the deadline.
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(out.end, 1000)
        const error = statusError(out.result)
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 9000)
      }))

    it.effect("retryAfter: false ignores the header", () =>
      Effect.gen(function*() {
        const policy = noJitter({ retryAfter: false })
        const short = yield* runScript([respond(503, { headers: { "retry-after": "3" } }), ok()], policy)
        assert.deepStrictEqual(short.at, [0, 1000])
        const long = yield* runScript([respond(429, { headers: { "retry-after": "3600" } }), ok()], policy)
        assert.deepStrictEqual(long.at, [0, 1000], "not given up: the header is not consulted")
      }))

    for (const status of [500, 502, 504, 408]) {
      it.effect(`Retry-After on ${status} is ignored`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(status, { headers: { "retry-after": "30" } }), ok()])
          assert.deepStrictEqual(out.at, [0, 1000])
          success(out.result)
        }))
    }

    it.effect("the error carries the final response's Retry-After", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503, { headers: { "retry-after": "2" } })], noJitter({ maxAttempts: 1 }))
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 2000)
        assert.include(error.message, "Retry-After 2s")
      }))

    it.effect("Retry-After waits count against the attempts", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(429, { headers: { "retry-after": "2" } })))
        assert.deepStrictEqual(out.at, [0, 2000, 4000, 6000])
        assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
      }))
  })
})
