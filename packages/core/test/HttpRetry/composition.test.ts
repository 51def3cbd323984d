import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
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

// HttpClient.filterStatusOk under the retry turns an answer into a ResponseError (reason StatusCode): the retry reads
// the answer it carries, as it would the answer itself.
describe("HttpClient.filterStatusOk under the retry", () => {
  it.effect("its ResponseError is retried by the status it carries, with the answer's Retry-After", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([respond(503, { headers: { "retry-after": "3" } }), respond(200)])
      const client = test.client.pipe(HttpClient.filterStatusOk, HttpRetry.withRetry(noJitter()))
      const out = yield* observe(test, client.get(url))
      assert.deepStrictEqual(out.at, [0, 3000])
      assert.strictEqual(out.result._tag === "Right" && out.result.right.status, 200)
    }))

  it.effect("a side call's ResponseError for the same URL by another method stays as it is, not retried", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make((request) => request.method === "POST" ? respond(503) : respond(200))
      // An audit POST to the same URL after every answer, through filterStatusOk: its 503 is not this attempt's answer.
      const audited = HttpClient.transformResponse(
        test.client,
        (effect) => Effect.tap(effect, () => HttpClient.filterStatusOk(test.client).post(url))
      )
      const out = yield* observe(test, HttpRetry.withRetry(audited, noJitter()).get(url))
      assert.deepStrictEqual(out.requests.map((r) => r.request.method), ["GET", "POST"])
      const error = out.result._tag === "Left" ? out.result.left : undefined
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "ResponseError")
      assert.strictEqual((error as HttpClientError.ResponseError).request.method, "POST")
      assert.strictEqual((error as HttpClientError.ResponseError).response.status, 503)
    }))

  it.effect("given up on as an HttpStatusError, and a status the policy does not retry is not", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([...times(4, respond(502)), respond(404)])
      const client = test.client.pipe(HttpClient.filterStatusOk, HttpRetry.withRetry(noJitter({ baseDelay: 0 })))
      const exhausted = yield* observe(test, client.get(url))
      assert.strictEqual(exhausted.attempts, 4)
      const error = exhausted.result._tag === "Left" ? exhausted.result.left : undefined
      assert.isTrue(HttpStatusError.isHttpStatusError(error))
      assert.strictEqual((error as HttpStatusError.HttpStatusError).status, 502)
      assert.strictEqual((error as HttpStatusError.HttpStatusError).reason, "AttemptsExhausted")
      const notFound = yield* observe(test, client.get(url))
      assert.strictEqual(notFound.attempts, 5)
      const error404 = notFound.result._tag === "Left" ? notFound.result.left : undefined
      assert.strictEqual((error404 as HttpStatusError.HttpStatusError).status, 404)
      assert.strictEqual((error404 as HttpStatusError.HttpStatusError).reason, "NotRetryable")
    }))
})
