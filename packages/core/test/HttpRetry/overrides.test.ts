import { assert, describe, it } from "@effect/vitest"
import type { RetryPolicy } from "@http-retry/core"
import { HttpRetry, HttpStatusError, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { noJitter, observe, statusError, success, times, url } from "../utils.js"

const { fail, ok, respond } = TestHttpClient

describe.concurrent("HttpRetry.withPolicy", () => {
  describe("withPolicy", () => {
    it.effect("overrides attempts for requests inside it only, keeping the client's other fields", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(6, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter({ baseDelay: "500 millis" }))
        const inside = yield* observe(test, HttpRetry.withPolicy(client.get(url), { maxAttempts: 2 }))
        assert.strictEqual(inside.attempts, 2)
        assert.deepStrictEqual(inside.at, [0, 500], "baseDelay and jitter none come from the client's policy")
        assert.strictEqual(statusError(inside.result).attempts, 2)

        const test2 = yield* TestHttpClient.make(times(4, respond(503)))
        const client2 = HttpRetry.withRetry(test2.client, noJitter({ baseDelay: "500 millis" }))
        const outside = yield* observe(test2, client2.get(url))
        assert.strictEqual(outside.attempts, 4)
      }))

    it.effect("applies to one part of a program", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(5, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter())
        const program = Effect.gen(function*() {
          const a = yield* Effect.flip(HttpRetry.withPolicy(client.get(url), { maxAttempts: 1 }))
          const b = yield* Effect.flip(client.get(url))
          return [a, b] as const
        })
        const out = yield* observe(test, program)
        const [a, b] = success(out.result)
        assert.strictEqual(HttpStatusError.isHttpStatusError(a) && a.attempts, 1)
        assert.strictEqual(HttpStatusError.isHttpStatusError(b) && b.attempts, 4)
        assert.strictEqual(out.attempts, 5)
      }))

    it.effect("nested overrides merge field by field, the inner one winning", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(4, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter())
        const program = client.get(url).pipe(
          HttpRetry.withPolicy({ maxAttempts: 2 }),
          HttpRetry.withPolicy({ maxAttempts: 3, baseDelay: "200 millis" })
        )
        const out = yield* observe(test, program)
        assert.deepStrictEqual(out.at, [0, 200])
        assert.strictEqual(statusError(out.result).attempts, 2)
      }))

    it.effect("merges nested records such as retryOn field by field", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([fail("ECONNRESET"), respond(404), ok()])
        const client = HttpRetry.withRetry(test.client, noJitter())
        const out = yield* observe(test, HttpRetry.withPolicy(client.get(url), { retryOn: { statuses: [404] } }))
        assert.strictEqual(out.attempts, 3, "transport failures still retried, 404 added by the override")
        success(out.result)
      }))

    it.effect("rejects a bad override where it is written", () =>
      Effect.sync(() => {
        try {
          HttpRetry.withPolicy(Effect.void, { maxAttempts: 0 })
          assert.fail("expected a RetryPolicyError")
        } catch (error) {
          assert.strictEqual((error as RetryPolicy.RetryPolicyError)._tag, "RetryPolicyError")
          assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "maxAttempts")
        }
      }))
  })
})
