import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, HttpRetry, RetryBudget, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { failure, observe, statusError, success } from "./utils.js"

const { delayed, ok, respond } = TestHttpClient

const policy = RetryPolicy.make({ maxAttempts: 2, baseDelay: "100 millis", jitter: "none" })

describe("hedging under a circuit breaker", () => {
  it.effect("a hedged round whose attempts both fail is one failure for the breaker", () =>
    Effect.gen(function*() {
      // Attempt 1 answers 503 after 2 s; its hedge goes at 1 s and answers 503 at once, while attempt 1 still runs.
      const test = yield* TestHttpClient.make([delayed("2 seconds", respond(503)), respond(503), ok("after")])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const client = test.client.pipe(
        HttpRetry.withRetry(policy, { breaker }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const request = HttpClientRequest.get("http://guarded-0.test/items")
      const first = yield* observe(test, client.execute(request), "3 seconds")
      assert.deepStrictEqual(first.at, [0, 1000], "attempt 1, then its hedge")
      assert.strictEqual(statusError(first.result).attempts, 2)
      // Two failed attempts, one round: one failure in a row, so the breaker is still closed and the next call goes.
      const status = yield* Effect.clockWith((clock) =>
        Effect.sync(() => breaker.status("http://guarded-0.test", clock.unsafeCurrentTimeMillis()))
      )
      assert.strictEqual(status._tag, "Closed")
      const second = yield* observe(test, client.execute(request), "1 second")
      assert.strictEqual(second.result._tag, "Right")
      assert.strictEqual(second.attempts, 3)
    }))

  it.effect("failed attempts in a row open the breaker under hedging, and an open breaker sends nothing", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([respond(503), respond(503), ok("never sent")])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const client = test.client.pipe(
        HttpRetry.withRetry(policy, { breaker }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const request = HttpClientRequest.get("http://guarded.test/items")
      // Attempt 1 (a round that may hedge) fails before its delay, attempt 2 fails: two failures in a row.
      // (The clock moves 1 s per call, well inside the breaker's 5 s open time.)
      const first = yield* observe(test, client.execute(request), "1 second")
      assert.strictEqual(first.attempts, 2)
      assert.deepStrictEqual(first.at, [0, 100])
      assert.strictEqual(statusError(first.result).attempts, 2)
      // Open: the next call fails at once, and the client is not asked.
      const second = yield* observe(test, client.execute(request), "1 second")
      assert.strictEqual(second.attempts, 2)
      assert.isTrue(CircuitBreaker.isCircuitOpenError(failure(second.result)))
      assert.strictEqual(second.end, 0)
    }))

  it.effect("the winner of a hedged round is the success the breaker records", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        respond(503),
        delayed("10 seconds", ok("slow")),
        ok("hedge"),
        respond(503)
      ])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const client = test.client.pipe(
        HttpRetry.withRetry(policy, { breaker }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const request = HttpClientRequest.get("http://guarded-2.test/items")
      // A failure, then a call whose slow first attempt loses to its hedge: the success resets the count.
      const failed = yield* observe(test, client.execute(HttpClientRequest.post("http://guarded-2.test/items")))
      assert.strictEqual(failed.attempts, 1)
      const won = yield* observe(test, client.execute(request))
      assert.strictEqual(won.result._tag, "Right")
      assert.strictEqual(won.attempts, 3)
      // Another failure: one in a row after the recorded success, so the breaker stays closed (without the
      // success recorded it would be the second in a row, and open it).
      const again = yield* observe(test, client.execute(HttpClientRequest.post("http://guarded-2.test/items")))
      assert.strictEqual(again.attempts, 4)
      const status = yield* Effect.clockWith((clock) =>
        Effect.sync(() => breaker.status("http://guarded-2.test", clock.unsafeCurrentTimeMillis()))
      )
      assert.strictEqual(status._tag, "Closed")
    }))

  it.effect("no hedge goes to an origin whose breaker opened while the round ran", () =>
    Effect.gen(function*() {
      // Call A's first attempt answers after 3 s; call B fails twice meanwhile and opens the breaker at 100 ms.
      const test = yield* TestHttpClient.make([delayed("3 seconds", ok("A")), respond(503), respond(503), ok("hedge")])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const client = test.client.pipe(
        HttpRetry.withRetry(policy, { breaker }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const a = yield* Effect.fork(client.get("http://guarded-3.test/a"))
      const b = yield* Effect.fork(Effect.either(client.get("http://guarded-3.test/b")))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(statusError(yield* Fiber.join(b)).attempts, 2)
      assert.strictEqual(yield* (yield* Fiber.join(a)).text, "A")
      // A's hedge timer fired at 1 s, with the breaker open: no request for it.
      assert.deepStrictEqual((yield* test.requests).map((r) => [r.at, new URL(r.request.url).pathname]), [
        [0, "/a"],
        [0, "/b"],
        [100, "/b"]
      ])
    }))

  it.effect("a half-open probe goes alone: no hedge beside it", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        respond(503),
        respond(503),
        delayed("2 seconds", ok("probe")),
        ok("hedge")
      ])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openFor: "5 seconds" })
      const client = test.client.pipe(
        HttpRetry.withRetry(policy, { breaker }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const opened = yield* observe(test, client.get("http://guarded-4.test/items"), "6 seconds")
      assert.strictEqual(statusError(opened.result).attempts, 2)
      // Half-open now: this call is the probe, slower than the hedge delay.
      const probe = yield* observe(test, client.get("http://guarded-4.test/items"), "5 seconds")
      assert.strictEqual(yield* success(probe.result).text, "probe")
      assert.strictEqual(probe.attempts, 3, "the probe's one request, and no hedge")
    }))

  it.effect("calls the breaker refuses do not count as requests in the hedge budget", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        respond(503),
        ok("probe"),
        delayed("500 millis", ok("X")),
        ok("X's hedge"),
        delayed("500 millis", ok("Y")),
        ok("Y's hedge")
      ])
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openFor: "1 second" })
      const client = test.client.pipe(
        HttpRetry.withRetry(RetryPolicy.make({ maxAttempts: 2, jitter: "none" }), { breaker }),
        HttpRetry.withHedging({ delay: "100 millis", budget: { ratio: 0.2, minimum: 0, window: "1 minute" } })
      )
      const url = "http://guarded-5.test/items"
      // One failure opens it; 20 calls are refused while it is open, sending nothing.
      yield* observe(test, client.execute(HttpClientRequest.post(url)), "10 millis")
      for (let i = 0; i < 20; i++) {
        assert.isTrue(CircuitBreaker.isCircuitOpenError(failure(yield* Effect.either(client.get(url)))))
      }
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* (yield* client.get(url)).text, "probe")
      // Counted: the probe and X (a POST is never hedged, so not counted): X's hedge is within 20% of 2 calls, Y's
      // would be a second for 3.
      const x = yield* observe(test, client.get(url), "1 second")
      assert.strictEqual(yield* success(x.result).text, "X's hedge")
      const y = yield* observe(test, client.get(url), "1 second")
      assert.strictEqual(yield* success(y.result).text, "Y")
    }))

  it.effect("a hedged round's failed attempts each cost the retry budget a token", () =>
    Effect.gen(function*() {
      // Attempt 1 answers 503 after 2 s, its hedge (at 1 s) 503 at once: two failed attempts, one round.
      const test = yield* TestHttpClient.make([delayed("2 seconds", respond(503)), respond(503)])
      const budget = yield* RetryBudget.make({ maxTokens: 10 })
      const client = test.client.pipe(
        HttpRetry.withRetry(RetryPolicy.make({ maxAttempts: 2, jitter: "none" }), { budget }),
        HttpRetry.withHedging({ delay: "1 second" })
      )
      const out = yield* observe(test, client.get("http://guarded-6.test/items"), "3 seconds")
      assert.strictEqual(statusError(out.result).attempts, 2)
      assert.strictEqual(budget.tokens("http://guarded-6.test"), 8)
    }))
})
