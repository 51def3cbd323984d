/**
 * Every difference docs/migration/effect-retry-transient.md lists between
 * @effect/platform's HttpClient.retryTransient and HttpRetry.withRetry,
 * shown against the installed @effect/platform with the same scripted client
 * on both sides, so the table cannot drift from what the platform does.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import { Clock, Effect, Either, Fiber, Option, Schedule, TestClock } from "effect"

const { fail, ok, respond } = TestHttpClient

const url = "http://api.test/items"

const observe = <A, E>(
  script: TestHttpClient.Script,
  use: (client: HttpClient.HttpClient) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const test = yield* TestHttpClient.make(script)
    const fiber = yield* Effect.fork(Effect.either(use(test.client)))
    yield* TestClock.adjust("10 minutes")
    const result = yield* Fiber.join(fiber)
    const at = (yield* test.requests).map((request) => request.at - start)
    return { result, attempts: at.length, at }
  })

const noJitter = RetryPolicy.make({ jitter: "none", maxAttempts: 3 })

describe("HttpClient.retryTransient next to HttpRetry.withRetry", () => {
  it.effect("response retries and error retries keep separate counters: times 2 makes 9 attempts", () =>
    Effect.gen(function*() {
      // 503, 503, reset, 503, 503, reset …: each reset restarts the response retries from zero.
      const script: TestHttpClient.Script = (_, index) => index % 3 === 0 ? fail("ECONNRESET") : respond(503)
      const transient = yield* observe(script, (client) => HttpClient.retryTransient(client, { times: 2 }).get(url))
      assert.strictEqual(transient.attempts, 9)

      const retried = yield* observe(script, (client) => HttpRetry.withRetry(client, noJitter).get(url))
      assert.strictEqual(retried.attempts, 3)
    }))

  it.effect("POST is retried", () =>
    Effect.gen(function*() {
      const script = [respond(503), respond(503), ok()]
      const post = HttpClientRequest.post(url)
      const transient = yield* observe(
        script,
        (client) => HttpClient.retryTransient(client, { times: 2 }).execute(post)
      )
      assert.strictEqual(transient.attempts, 3)

      const retried = yield* observe(script, (client) => HttpRetry.withRetry(client, noJitter).execute(post))
      assert.strictEqual(retried.attempts, 1)
      assert.isTrue(Either.isLeft(retried.result) && retried.result.left._tag === "HttpStatusError")
    }))

  it.effect("no delay unless a schedule is given, and Retry-After is not read", () =>
    Effect.gen(function*() {
      const script = [respond(503, { headers: { "retry-after": "5" } }), ok()]
      const bare = yield* observe(script, (client) => HttpClient.retryTransient(client, { times: 2 }).get(url))
      assert.deepStrictEqual(bare.at, [0, 0])

      const scheduled = yield* observe(
        script,
        (client) => HttpClient.retryTransient(client, { schedule: Schedule.spaced("1 second"), times: 2 }).get(url)
      )
      assert.deepStrictEqual(scheduled.at, [0, 1000])

      const retried = yield* observe(script, (client) => HttpRetry.withRetry(client, noJitter).get(url))
      assert.deepStrictEqual(retried.at, [0, 5000])
    }))

  it.effect("a 503 that outlasts the retries is returned as a success without filterStatusOk", () =>
    Effect.gen(function*() {
      const script = [respond(503), respond(503), respond(503)]
      const transient = yield* observe(
        script,
        (client) => HttpClient.retryTransient(client, { times: 2 }).get(url).pipe(Effect.map((r) => r.status))
      )
      assert.deepStrictEqual(transient.result, Either.right(503))

      const filtered = yield* observe(
        script,
        (client) => client.pipe(HttpClient.filterStatusOk, HttpClient.retryTransient({ times: 2 })).get(url)
      )
      assert.isTrue(Either.isLeft(filtered.result) && filtered.result.left._tag === "ResponseError")
      assert.strictEqual(filtered.attempts, 3)

      const retried = yield* observe(script, (client) => HttpRetry.withRetry(client, noJitter).get(url))
      assert.isTrue(Either.isLeft(retried.result) && retried.result.left._tag === "HttpStatusError")
    }))

  it.effect("every transport error is transient, DNS not found and TLS verification included", () =>
    Effect.gen(function*() {
      for (const code of ["ENOTFOUND", "DEPTH_ZERO_SELF_SIGNED_CERT"]) {
        const script = [fail(code), fail(code), fail(code)]
        const transient = yield* observe(script, (client) => HttpClient.retryTransient(client, { times: 2 }).get(url))
        assert.strictEqual(transient.attempts, 3)

        const retried = yield* observe(script, (client) => HttpRetry.withRetry(client, noJitter).get(url))
        assert.strictEqual(retried.attempts, 1)
      }
    }))

  it.effect("no attempt timeout: a hung attempt hangs the request", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([TestHttpClient.hang, ok()])
      const fiber = yield* Effect.fork(HttpClient.retryTransient(test.client, { times: 2 }).get(url))
      yield* TestClock.adjust("10 minutes")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* test.requests).length, 1)

      const retried = yield* observe([TestHttpClient.hang, ok()], (client) =>
        HttpRetry.withRetry(client, noJitter).get(url))
      assert.deepStrictEqual(retried.at, [0, 11000])
    }))
})
