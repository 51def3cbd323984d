/**
 * docs/circuit-breaker.md, run: the code between the region markers is the
 * guide's, character for character (`pnpm run docs` checks that).
 */
// #region transitions
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import { Effect, Either, TestClock } from "effect"

describe("the breaker of api.test", () => {
  it.effect("opens after 3 failures, sends nothing for 5 s, then closes on a good probe", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make((_, index) =>
        index <= 3 ? TestHttpClient.respond(503) : TestHttpClient.ok("[]")
      )
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
      // One attempt per call, so each call is one failure for the breaker.
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ maxAttempts: 1 }), { breaker })
      const call = Effect.either(client.get("http://api.test/items"))

      for (let i = 0; i < 3; i++) yield* call // 503, 503, 503: open

      const rejected = yield* call
      assert.isTrue(Either.isLeft(rejected) && CircuitBreaker.isCircuitOpenError(rejected.left))
      assert.strictEqual((yield* test.requests).length, 3) // the rejected call sent nothing

      yield* TestClock.adjust("5 seconds") // openFor: the next call is the probe
      assert.isTrue(Either.isRight(yield* call)) // 200: closed again
      assert.isTrue(Either.isRight(yield* call))
      assert.strictEqual((yield* test.requests).length, 5)
    }))
})
// #endregion transitions
