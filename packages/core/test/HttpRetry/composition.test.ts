import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { noJitter, observe, times, url } from "../utils.js"

const { fail, respond } = TestHttpClient

// What stacking a second retry over the retrying client does: the README's composition section documents these
// counts. The retrying client makes 4 attempts per call; the platform's retryTransient({ times: 2 }) calls it up to
// 3 times.
describe("HttpClient.retryTransient over the retrying client", () => {
  const stacked = (
    script: TestHttpClient.Script,
    options: { readonly while?: (error: unknown) => boolean } = {}
  ) =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(script)
      const client = HttpRetry.withRetry(test.client, noJitter({ baseDelay: 0 })).pipe(
        HttpClient.retryTransient({ times: 2, ...options })
      )
      return yield* observe(test, client.get(url))
    })

  it.effect("a 503 every time: 4 attempts, the outer retry does not count HttpStatusError as transient", () =>
    Effect.gen(function*() {
      const out = yield* stacked(times(12, respond(503)))
      assert.strictEqual(out.attempts, 4)
    }))

  it.effect("with while: () => true, 3 calls of 4 attempts: 12", () =>
    Effect.gen(function*() {
      const out = yield* stacked(times(12, respond(503)), { while: () => true })
      assert.strictEqual(out.attempts, 12)
    }))

  it.effect("a while that reads HttpStatusError.attempts sees the retry already happened: 4", () =>
    Effect.gen(function*() {
      const out = yield* stacked(times(12, respond(503)), {
        while: (error) => !(HttpStatusError.isHttpStatusError(error) && error.attempts > 1)
      })
      assert.strictEqual(out.attempts, 4)
    }))

  it.effect("a refused connection every time: the platform counts the RequestError as transient, 12 attempts", () =>
    Effect.gen(function*() {
      const out = yield* stacked(times(12, fail("ECONNREFUSED")))
      assert.strictEqual(out.attempts, 12)
    }))
})
