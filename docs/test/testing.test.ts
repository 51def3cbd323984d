/**
 * docs/testing.md, run: each region is one of the guide's examples,
 * character for character (`pnpm run docs` checks that).
 */
// #region basic
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import { Effect, Fiber, TestClock } from "effect"

describe("the items client", () => {
  it.effect("retries a 503 after exactly 1 s, then 2 s", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        TestHttpClient.respond(503),
        TestHttpClient.respond(503),
        TestHttpClient.ok("[]")
      ])
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ jitter: "none" }))

      // The retry sleeps on the TestClock: run it in a fiber, move the clock, then join.
      const fiber = yield* Effect.fork(client.get("http://api.test/items"))
      yield* TestClock.adjust("1 minute")
      const response = yield* Fiber.join(fiber)

      assert.strictEqual(response.status, 200)
      const arrivals = (yield* test.requests).map((request) => request.at)
      assert.deepStrictEqual(arrivals, [0, 1000, 3000])
    }))
})
// #endregion basic

// #region give-up
import { HttpStatusError } from "@http-retry/core"

describe("giving up", () => {
  it.effect("a 404 is not retried: one attempt, a typed error", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([TestHttpClient.respond(404)])
      const client = HttpRetry.withRetry(test.client)

      const error = yield* Effect.flip(client.get("http://api.test/items/7"))

      assert.isTrue(HttpStatusError.isHttpStatusError(error))
      if (HttpStatusError.isHttpStatusError(error)) {
        assert.strictEqual(error.status, 404)
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(error.reason, "NotRetryable")
      }
      assert.strictEqual((yield* test.requests).length, 1)
    }))

  it.effect("four 503s: the attempts run out", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(Array.from({ length: 4 }, () => TestHttpClient.respond(503)))
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ jitter: "none" }))

      const fiber = yield* Effect.fork(Effect.flip(client.get("http://api.test/items")))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)

      assert.strictEqual(error._tag, "HttpStatusError")
      if (error._tag === "HttpStatusError") {
        assert.strictEqual(error.attempts, 4)
        assert.strictEqual(error.reason, "AttemptsExhausted")
      }
      assert.deepStrictEqual((yield* test.requests).map((request) => request.at), [0, 1000, 3000, 7000])
    }))
})
// #endregion give-up

// #region layer
import { HttpClient } from "@effect/platform"
import { Layer } from "effect"

// The code under test takes whatever HttpClient is in context, as it does in production.
const countItems = Effect.gen(function*() {
  const response = yield* HttpClient.get("http://api.test/items")
  const items = yield* response.json
  return Array.isArray(items) ? items.length : 0
})

const TestLive = HttpRetry.layer(RetryPolicy.make({ jitter: "none" })).pipe(
  Layer.provideMerge(TestHttpClient.layer([TestHttpClient.fail("ECONNRESET"), TestHttpClient.ok("[1, 2, 3]")]))
)

describe("countItems", () => {
  it.effect("rides out a reset connection", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(countItems)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), 3)

      const test = yield* TestHttpClient.TestHttpClient
      assert.deepStrictEqual((yield* test.requests).map((request) => request.at), [0, 1000])
    }).pipe(Effect.provide(TestLive)))
})
// #endregion layer

// #region retry-after
describe("Retry-After", () => {
  it.effect("waits what the server says, in seconds or as an HTTP-date read from the Clock", () =>
    Effect.gen(function*() {
      // The TestClock starts at 0, which is Thu, 01 Jan 1970 00:00:00 GMT.
      const test = yield* TestHttpClient.make([
        TestHttpClient.respond(429, { headers: { "retry-after": "5" } }),
        TestHttpClient.respond(503, { headers: { "retry-after": "Thu, 01 Jan 1970 00:00:30 GMT" } }),
        TestHttpClient.ok()
      ])
      const client = HttpRetry.withRetry(test.client)

      const fiber = yield* Effect.fork(client.get("http://api.test/items"))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)

      // No jitter on a server's wait, even with the default jitter "full".
      assert.deepStrictEqual((yield* test.requests).map((request) => request.at), [0, 5000, 30000])
    }))

  it.effect("a Retry-After past maxRetryAfter gives up at once, with the hint on the error", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([TestHttpClient.respond(503, { headers: { "retry-after": "3600" } })])
      const client = HttpRetry.withRetry(test.client)

      const error = yield* Effect.flip(client.get("http://api.test/items"))

      assert.strictEqual(error._tag, "HttpStatusError")
      if (error._tag === "HttpStatusError") {
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(
          error.message,
          "HTTP 503 for GET http://api.test/items after 1 attempt (Retry-After too long, Retry-After 1h)"
        )
      }
    }))
})
// #endregion retry-after

// #region jitter
import { Duration, Random } from "effect"

describe("full jitter", () => {
  it.effect("each wait is somewhere in [0, 1 s], then [0, 2 s]", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        TestHttpClient.respond(502),
        TestHttpClient.respond(502),
        TestHttpClient.ok()
      ])
      const client = HttpRetry.withRetry(test.client) // the defaults: jitter "full"

      const fiber = yield* Effect.fork(client.get("http://api.test/items"))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)

      const [first, second, third] = (yield* test.requests).map((request) => request.at)
      assert.strictEqual(first, 0)
      assert.isTrue(second >= 0 && second <= 1000)
      assert.isTrue(third - second >= 0 && third - second <= 2000)
    }))

  it.effect("a seeded Random makes the jittered waits repeatable", () =>
    Effect.gen(function*() {
      const waits = RetryPolicy.delays(RetryPolicy.defaults, 3).pipe(
        Effect.map((delays) => delays.map(Duration.toMillis))
      )
      const once = yield* Effect.withRandom(waits, Random.make("seed"))
      const again = yield* Effect.withRandom(waits, Random.make("seed"))
      assert.deepStrictEqual(once, again)
      assert.isTrue(once.every((wait, i) => wait >= 0 && wait <= 1000 * 2 ** i))
    }))
})
// #endregion jitter

// #region transport
describe("transport failures", () => {
  it.effect("a reset is retried; a name that does not resolve is not", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([TestHttpClient.fail("ECONNRESET"), TestHttpClient.fail("ENOTFOUND")])
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ jitter: "none" }))

      const fiber = yield* Effect.fork(Effect.flip(client.get("http://api.test/items")))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)

      // The platform's own RequestError comes back, its cause carrying the code.
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual((yield* test.requests).length, 2)
    }))

  it.effect("an attempt that hangs times out after attemptTimeout and is retried", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([TestHttpClient.hang, TestHttpClient.ok()])
      const policy = RetryPolicy.make({ jitter: "none", attemptTimeout: "2 seconds" })
      const client = HttpRetry.withRetry(test.client, policy)

      const fiber = yield* Effect.fork(client.get("http://api.test/items"))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)

      // 2 s of timeout, then the 1 s backoff.
      assert.deepStrictEqual((yield* test.requests).map((request) => request.at), [0, 3000])
    }))
})
// #endregion transport

// #region on-retry
import { Ref } from "effect"

describe("onRetry", () => {
  it.effect("sees every decision: attempt, wait and where the wait came from", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const test = yield* TestHttpClient.make([
        TestHttpClient.respond(503),
        TestHttpClient.respond(429, { headers: { "retry-after": "7" } }),
        TestHttpClient.ok()
      ])
      const client = HttpRetry.withRetry(test.client, RetryPolicy.make({ jitter: "none" }), {
        onRetry: (info) =>
          Ref.update(seen, (lines) => [
            ...lines,
            `attempt ${info.attempt}/${info.maxAttempts}: wait ${Duration.format(info.delay)} (${info.source})`
          ])
      })

      const fiber = yield* Effect.fork(client.get("http://api.test/items"))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)

      assert.deepStrictEqual(yield* Ref.get(seen), [
        "attempt 1/4: wait 1s (backoff)",
        "attempt 2/4: wait 7s (Retry-After)"
      ])
    }))
})
// #endregion on-retry
