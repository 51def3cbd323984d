/**
 * docs/resilience.md, run: each region is one of the guide's examples,
 * character for character (`pnpm run docs` checks that).
 */
// #region budget
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryBudget, RetryPolicy, TestHttpClient } from "@http-retry/core"
import { Effect, Fiber, Layer, TestClock } from "effect"

describe("a retry budget", () => {
  it.effect("stops retrying a backend that is down, then fails calls at once", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ maxTokens: 10 })
      const test = yield* TestHttpClient.make(() => TestHttpClient.respond(503))
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ jitter: "none" }), { budget })

      // Every call fails here: run one on the TestClock and return its error.
      const call = Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(client.get("http://api.test/items")))
        yield* TestClock.adjust("1 minute")
        return yield* Fiber.join(fiber)
      })

      // 10 tokens, each failure costs 1: the first call's failures leave 9, 8, 7 (more than half: retried), 6.
      yield* call
      assert.strictEqual((yield* test.requests).length, 4)
      assert.strictEqual(budget.tokens("http://api.test"), 6)

      // The next failure leaves 5, half of 10: the retry is not made, the call ends at once with its 503.
      const error = yield* call
      assert.strictEqual((yield* test.requests).length, 5)
      if (!HttpStatusError.isHttpStatusError(error)) return assert.fail(`expected an HttpStatusError: ${error}`)
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.reason, "BudgetExhausted")
      assert.strictEqual(error.attempts, 1)
    }))

  it.effect("a layer with budget: true uses the RetryBudget it is given", () => {
    const budget = RetryBudget.unsafeMake({ maxTokens: 2 })
    const Live = HttpRetry.layer(RetryPolicy.make({ jitter: "none" }), { budget: true }).pipe(
      Layer.provideMerge(TestHttpClient.layer(() => TestHttpClient.respond(503))),
      Layer.provide(Layer.succeed(RetryBudget.RetryBudget, budget))
    )
    return Effect.gen(function*() {
      const client = yield* HttpRetry.client
      const fiber = yield* Effect.fork(Effect.either(client.get("http://api.test/items")))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      // 2 tokens: the first failure leaves 1, half of 2, so no retry.
      const test = yield* TestHttpClient.TestHttpClient
      assert.strictEqual((yield* test.requests).length, 1)
      assert.strictEqual(budget.tokens("http://api.test"), 1)
    }).pipe(Effect.provide(Live))
  })
})
// #endregion budget
