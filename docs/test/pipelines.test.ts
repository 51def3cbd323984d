/**
 * docs/retrying-in-pipelines.md, run: each region is one of the guide's
 * examples, character for character (`pnpm run docs` checks that), and the
 * tests below assert what the guide says about it.
 */
// #region decode
import { HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { HttpRetry } from "@http-retry/core"
import { Effect, Option, Schema } from "effect"

const Item = Schema.Struct({ id: Schema.Number, name: Schema.String })

// Retried until a 2xx arrives; then the body is read and decoded, once.
const getItem = (id: number) =>
  HttpRetry.request(HttpClientRequest.get(`https://api.internal.test/items/${id}`)).pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(Item))
  )

// A 404 is an answer, not a failure: make it a value.
const findItem = (id: number) =>
  getItem(id).pipe(
    Effect.map(Option.some),
    Effect.catchTag("HttpStatusError", (error) => error.status === 404 ? Effect.succeedNone : Effect.fail(error))
  )
// #endregion decode

// #region timeouts
const getItemQuickly = (id: number) =>
  getItem(id).pipe(
    // The retry's own clocks, for this call only: 2 s per attempt, 5 s for all attempts and waits.
    HttpRetry.withPolicy({ attemptTimeout: "2 seconds", maxElapsed: "5 seconds" }),
    // A bound on the whole step, reading and decoding the body included.
    Effect.timeout("6 seconds")
  )
// #endregion timeouts

// #region concurrency
// Fails fast: the first error interrupts the other requests, waits included.
const getItems = (ids: ReadonlyArray<number>) => Effect.forEach(ids, getItem, { concurrency: 4 })

// Goes on past failures: one Either per id, in order.
const getItemsSettled = (ids: ReadonlyArray<number>) =>
  Effect.forEach(ids, (id) => Effect.either(getItem(id)), { concurrency: 4 })
// #endregion concurrency

// #region main
import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { Console } from "effect"

const main = getItemsSettled([1, 2, 3]).pipe(
  Effect.flatMap((results) => Console.log(results)),
  Effect.provide(NodeHttpRetry.layer({ policy: RetryPolicy.make({ maxAttempts: 5 }), connections: 8 }))
)

// Run it with NodeRuntime.runMain(main) from @effect/platform-node.
// #endregion main

import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { TestHttpClient } from "@http-retry/core"
import { Cause, Either, Fiber, Layer, ParseResult, Random, TestClock } from "effect"

const { hang, ok, respond } = TestHttpClient

/** Runs `effect` against a scripted client under the default policy, with the TestClock moved 10 minutes on. */
const run = <A, E>(script: TestHttpClient.Script, effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const test = yield* TestHttpClient.make(script)
    const live = HttpRetry.layer().pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, test.client)))
    const fiber = yield* Effect.fork(Effect.either(Effect.provide(effect, live)))
    yield* TestClock.adjust("10 minutes")
    const result = yield* Fiber.join(fiber)
    const requests = yield* test.requests
    return { result, requests, at: requests.map((request) => request.at) }
  })

const json = (value: unknown) => ok(JSON.stringify(value))

describe("retrying in pipelines", () => {
  it.effect("decodes the body of the answer that finally arrived", () =>
    Effect.gen(function*() {
      const out = yield* run([respond(503), json({ id: 1, name: "bolt" })], getItem(1))
      assert.deepStrictEqual(out.result, Either.right({ id: 1, name: "bolt" }))
      assert.strictEqual(out.requests.length, 2)
      assert.strictEqual(out.requests[0].request.url, "https://api.internal.test/items/1")
    }))

  it.effect("does not retry a body that does not decode", () =>
    Effect.gen(function*() {
      const out = yield* run([json({ id: "one" })], getItem(1))
      assert.isTrue(Either.isLeft(out.result) && ParseResult.isParseError(out.result.left))
      assert.strictEqual(out.requests.length, 1)
    }))

  it.effect("turns a 404 into None and keeps other statuses as errors", () =>
    Effect.gen(function*() {
      const missing = yield* run([respond(404)], findItem(1))
      // Not deepStrictEqual against Either.right(Option.none()): chai's deep equality passes None against a Some.
      assert.isTrue(Either.isRight(missing.result) && Option.isNone(missing.result.right))
      const broken = yield* run([respond(400)], findItem(1))
      assert.isTrue(Either.isLeft(broken.result) && broken.result.left._tag === "HttpStatusError")
    }))

  it.effect("withPolicy bounds every attempt and the whole retry", () =>
    Effect.gen(function*() {
      const out = yield* run((_, index) => index <= 3 ? hang : json({ id: 1, name: "bolt" }), getItemQuickly(1))
      assert.isTrue(Either.isLeft(out.result) && Cause.isTimeoutException(out.result.left))
      // Each attempt gets at most 2 s and nothing starts or runs past 5 s; the outer 6 s never fires.
      assert.isTrue(out.requests.length >= 2 && out.requests.length <= 3)
      assert.isTrue(out.at.every((at) => at < 5000))
    }))

  it.effect("an outer timeout interrupts a wait, and no further attempt is made", () =>
    Effect.gen(function*() {
      const out = yield* run(
        [respond(503, { headers: { "retry-after": "5" } }), json({ id: 1, name: "bolt" })],
        Effect.timeout(getItem(1), "2 seconds")
      )
      assert.isTrue(Either.isLeft(out.result) && Cause.isTimeoutException(out.result.left))
      assert.strictEqual(out.requests.length, 1)
    }))

  it.effect("forEach fails fast, and interrupts the requests still retrying", () =>
    Effect.gen(function*() {
      // Item 2 is gone at once; the others keep answering 503 (each would retry for seconds).
      const out = yield* run(
        (request) => request.url.endsWith("/2") ? respond(404) : respond(503),
        getItems([1, 2, 3, 4])
      )
      assert.isTrue(Either.isLeft(out.result) && out.result.left._tag === "HttpStatusError")
      // No retry: every attempt made was a first attempt, and nobody's wait outlived the failure.
      assert.isTrue(out.requests.some((request) => request.request.url.endsWith("/2")))
      assert.isTrue(out.at.every((at) => at === 0))
    }))

  it.effect("settled: one result per id, each request with its own attempts and jitter", () =>
    Effect.gen(function*() {
      const seen = new Map<string, number>()
      const script: TestHttpClient.Script = (request) => {
        const n = (seen.get(request.url) ?? 0) + 1
        seen.set(request.url, n)
        if (request.url.endsWith("/3")) return respond(404)
        const id = Number(request.url.split("/").pop())
        return n === 1 ? respond(503) : json({ id, name: `item ${id}` })
      }
      const out = yield* Effect.withRandom(run(script, getItemsSettled([1, 2, 3, 4])), Random.make("herd"))
      assert.isTrue(Either.isRight(out.result))
      if (Either.isRight(out.result)) {
        assert.deepStrictEqual(out.result.right.map(Either.isRight), [true, true, false, true])
      }
      // The three 503s came back together; full jitter spreads their retries over [0, 1 s].
      const retries = out.requests.filter((request) => request.at > 0).map((request) => request.at)
      assert.strictEqual(retries.length, 3)
      assert.strictEqual(new Set(retries).size, 3)
      assert.isTrue(retries.every((at) => at <= 1000))
    }))

  it("main type-checks with the Node layer", () => {
    assert.isTrue(Effect.isEffect(main))
  })
})
