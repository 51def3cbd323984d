import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, HttpRetry, RetryBudget, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Budget from "../src/internal/retryBudget.js"
import {
  captureLogs,
  failure,
  noJitter,
  observe,
  requestError,
  requestWith,
  statusError,
  timeoutError,
  times
} from "./utils.js"

const { fail, hang, ok, respond } = TestHttpClient

/** A fresh origin per test: the metrics are global and the tests of a file run concurrently. */
let next = 0
const freshOrigin = (name: string) => `http://${name}-${++next}.test`

const policyError = (f: () => unknown): RetryPolicy.RetryPolicyError => {
  try {
    f()
  } catch (error) {
    if (error instanceof RetryPolicy.RetryPolicyError) return error
    throw error
  }
  return assert.fail("expected a RetryPolicyError")
}

describe.concurrent("RetryBudget", () => {
  describe("the bucket (gRPC retryThrottling)", () => {
    it.effect("an origin never seen is full; each failure costs 1 until half is left, then retries stop", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make()
        const origin = "http://a.test"
        assert.deepStrictEqual(budget.options, { maxTokens: 100, tokenRatio: 0.1 })
        assert.strictEqual(budget.tokens(origin), 100)
        assert.isTrue(yield* budget.acquire(origin))
        for (let i = 0; i < 49; i++) budget.record(origin, "failure")
        assert.strictEqual(budget.tokens(origin), 51)
        assert.isTrue(yield* budget.acquire(origin))
        budget.record(origin, "failure")
        assert.strictEqual(budget.tokens(origin), 50)
        // At exactly half, retries are throttled (gRPC: tokens must exceed maxTokens / 2).
        assert.isFalse(yield* budget.acquire(origin))
        // acquire takes nothing: asking again does not drain.
        assert.isFalse(yield* budget.acquire(origin))
        assert.strictEqual(budget.tokens(origin), 50)
        for (let i = 0; i < 100; i++) budget.record(origin, "failure")
        assert.strictEqual(budget.tokens(origin), 0)
      }))

    it.effect("successes refund tokenRatio exactly, up to maxTokens and no further", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make()
        const origin = "http://a.test"
        for (let i = 0; i < 50; i++) budget.record(origin, "failure")
        assert.isFalse(yield* budget.acquire(origin))
        // Ten successes give back exactly one token (thousandths, no float drift).
        for (let i = 0; i < 10; i++) budget.record(origin, "success")
        assert.strictEqual(budget.tokens(origin), 51)
        assert.isTrue(yield* budget.acquire(origin))
        budget.record(origin, "success")
        assert.strictEqual(budget.tokens(origin), 51.1)
        for (let i = 0; i < 1000; i++) budget.record(origin, "success")
        assert.strictEqual(budget.tokens(origin), 100)
        budget.record(origin, "failure")
        assert.strictEqual(budget.tokens(origin), 99)
      }))

    it.effect("origins are independent", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ maxTokens: 4, tokenRatio: 0.5 })
        for (let i = 0; i < 2; i++) budget.record("http://a.test", "failure")
        assert.isFalse(yield* budget.acquire("http://a.test"))
        assert.isTrue(yield* budget.acquire("http://b.test"))
        assert.isTrue(yield* budget.acquire("https://a.test"))
        assert.strictEqual(budget.tokens("http://b.test"), 4)
        budget.record("http://b.test", "success")
        assert.strictEqual(budget.tokens("http://b.test"), 4)
        assert.strictEqual(budget.tokens("http://a.test"), 2)
      }))

    it.effect("past 4,096 origins below maxTokens, the one whose last failure is oldest is forgotten (full again)", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ maxTokens: 10 })
        for (let i = 0; i < 4096; i++) budget.record(`http://down-${i}.test`, "failure")
        // down-0 went below first but fails again: it keeps its count, and down-1 is the one forgotten.
        budget.record("http://down-0.test", "failure")
        assert.strictEqual(budget.tokens("http://down-0.test"), 8)
        budget.record("http://down-4096.test", "failure")
        assert.strictEqual(budget.tokens("http://down-0.test"), 8)
        assert.strictEqual(budget.tokens("http://down-1.test"), 10)
        assert.strictEqual(budget.tokens("http://down-2.test"), 9)
        assert.strictEqual(budget.tokens("http://down-4096.test"), 9)
      }))

    it.effect("options: odd maxTokens and a ratio to 3 places", () =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ maxTokens: 3, tokenRatio: 0.001 })
        const origin = "http://a.test"
        budget.record(origin, "failure")
        assert.isTrue(yield* budget.acquire(origin)) // 2 > 1.5
        budget.record(origin, "failure")
        assert.isFalse(yield* budget.acquire(origin)) // 1 <= 1.5
        for (let i = 0; i < 500; i++) budget.record(origin, "success")
        assert.strictEqual(budget.tokens(origin), 1.5)
        assert.isFalse(yield* budget.acquire(origin))
        budget.record(origin, "success")
        assert.isTrue(yield* budget.acquire(origin))
      }))
  })

  describe("options", () => {
    const bad: ReadonlyArray<[string, unknown, string, unknown]> = [
      ["maxTokens 0", { maxTokens: 0 }, "budget.maxTokens", 0],
      ["maxTokens negative", { maxTokens: -1 }, "budget.maxTokens", -1],
      ["maxTokens over 1000", { maxTokens: 1001 }, "budget.maxTokens", 1001],
      ["maxTokens NaN", { maxTokens: Number.NaN }, "budget.maxTokens", Number.NaN],
      ["maxTokens a string", { maxTokens: "100" }, "budget.maxTokens", "100"],
      ["maxTokens past 3 places", { maxTokens: 10.0005 }, "budget.maxTokens", 10.0005],
      ["tokenRatio 0", { tokenRatio: 0 }, "budget.tokenRatio", 0],
      ["tokenRatio over 1", { tokenRatio: 1.5 }, "budget.tokenRatio", 1.5],
      ["tokenRatio Infinity", { tokenRatio: Infinity }, "budget.tokenRatio", Infinity],
      ["tokenRatio past 3 places", { tokenRatio: 0.0001 }, "budget.tokenRatio", 0.0001],
      ["an unknown key", { maxToken: 5 }, "budget.maxToken", 5]
    ]
    for (const [name, options, field, value] of bad) {
      it(`${name}: a RetryPolicyError naming ${field}`, () => {
        const error = policyError(() => RetryBudget.unsafeMake(options as RetryBudget.Options))
        assert.strictEqual(error.field, field)
        assert.deepStrictEqual(error.value, value)
        assert.include(error.message, field)
        const validated = RetryBudget.validate(options as RetryBudget.Options)
        assert.isTrue(Either.isLeft(validated) && validated.left.field === field)
      })
    }

    it("the message names field, value and the rule", () => {
      assert.strictEqual(
        policyError(() => RetryBudget.unsafeMake({ maxTokens: 0 })).message,
        "Invalid retry policy: budget.maxTokens = 0 (expected a number more than 0 and at most 1000)"
      )
    })

    it.effect("make fails with the error in its error channel, and so does layer", () =>
      Effect.gen(function*() {
        const made = yield* Effect.exit(RetryBudget.make({ tokenRatio: 2 }))
        assert.isTrue(Exit.isFailure(made))
        const error = yield* Effect.flip(RetryBudget.make({ tokenRatio: 2 }))
        assert.strictEqual(error._tag, "RetryPolicyError")
        assert.strictEqual(error.field, "budget.tokenRatio")
        const layered = yield* Effect.flip(
          Effect.provide(RetryBudget.RetryBudget, RetryBudget.layer({ maxTokens: -5 }))
        )
        assert.strictEqual(layered.field, "budget.maxTokens")
      }))

    it("the extremes are accepted", () => {
      assert.deepStrictEqual(RetryBudget.unsafeMake({ maxTokens: 1000, tokenRatio: 1 }).options, {
        maxTokens: 1000,
        tokenRatio: 1
      })
      assert.deepStrictEqual(RetryBudget.unsafeMake({ maxTokens: 0.001, tokenRatio: 0.001 }).options, {
        maxTokens: 0.001,
        tokenRatio: 0.001
      })
    })

    it("HttpRetry.layer validates budget options when it is made", () => {
      assert.strictEqual(
        policyError(() => HttpRetry.layer(undefined, { budget: { maxTokens: 2000 } })).field,
        "budget.maxTokens"
      )
      assert.strictEqual(
        policyError(() => HttpRetry.layer(undefined, { budget: "yes" as unknown as boolean })).field,
        "budget"
      )
    })
  })

  describe("originOf", () => {
    const urls = [
      "http://api.test/items",
      "https://api.test/items?x=1#y",
      "http://api.test",
      "http://API.Test:80/",
      "https://api.test:443/x",
      "https://api.test:8443/x",
      "http://api.test:443/",
      "HTTPS://Api.Test:80",
      "http://api.test:/x",
      "http://user:pa%40ss@api.test:8080/x",
      "http://a:b@c@api.test/",
      "http://127.0.0.1:4000/x",
      "http://10.0.0.1",
      "http://127.1/",
      "http://0x7f.0.0.1/",
      "http://2130706433/",
      "http://api.test:080/",
      "http://api.test:0/",
      "http://[::1]:3000/x",
      "http://[0:0::1]/",
      "http://bücher.example/",
      "http://xn--bcher-kva.example/",
      "http://api.test?x",
      "http://api.test#x",
      "http:\\\\api.test\\x",
      "http:api.test/x",
      " http://api.test/ ",
      "http://api.test./x",
      "http://my_host.test/",
      "ws://api.test:8080/",
      "file:///etc/hosts",
      "http://api.test:99999/",
      "not a url",
      "/relative",
      "//user:pw@api.test/x?sig=s3cret"
    ]
    // A URL that does not parse (there is no page here to resolve a relative one against) is never sent: its
    // origin shows none of its text, which may hold a password or a token.
    const reference = (url: string): string => {
      try {
        return new URL(url).origin
      } catch {
        return "invalid-url:"
      }
    }
    for (const url of urls) {
      it(`${JSON.stringify(url)} as new URL(url).origin`, () => {
        assert.strictEqual(RetryBudget.originOf(url), reference(url))
      })
    }
  })

  describe("in the retry loop", () => {
    const small = (origin: string) => ({ budget: RetryBudget.unsafeMake({ maxTokens: 10 }), origin })

    it.effect("retries stop when the budget is drained; first attempts are always sent", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("drain"))
        const test = yield* TestHttpClient.make(() => respond(503))
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        const one = yield* observe(test, client.get(`${origin}/items`))
        // 10 tokens: 9, 8, 7 let retries through; the 4th attempt is the last of the policy.
        assert.strictEqual(one.attempts, 4)
        assert.deepStrictEqual(one.at, [0, 1000, 3000, 7000])
        assert.strictEqual(statusError(one.result).reason, "AttemptsExhausted")
        assert.strictEqual(budget.tokens(origin), 6)
        const results = []
        for (let i = 0; i < 3; i++) {
          const before = (yield* test.requests).length
          const out = yield* observe(test, client.get(`${origin}/items`))
          results.push({ attempts: out.attempts - before, end: out.end, error: statusError(out.result) })
        }
        // 6 -> 5: at half, refused at once, no wait.
        assert.deepStrictEqual(results.map((r) => [r.attempts, r.end, r.error.reason, r.error.attempts]), [
          [1, 0, "BudgetExhausted", 1],
          [1, 0, "BudgetExhausted", 1],
          [1, 0, "BudgetExhausted", 1]
        ])
        assert.strictEqual(results[0].error.status, 503)
        assert.strictEqual(
          results[0].error.message,
          `HTTP 503 for GET ${origin}/items after 1 attempt (retry budget exhausted)`
        )
        assert.strictEqual(budget.tokens(origin), 3)
      }))

    it.effect("another origin through the same budget still retries", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("sick"))
        const healthy = freshOrigin("healthy")
        for (let i = 0; i < 5; i++) budget.record(origin, "failure")
        const test = yield* TestHttpClient.make(() => respond(503))
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        const sick = yield* observe(test, client.get(`${origin}/x`))
        assert.strictEqual(sick.attempts, 1)
        assert.strictEqual(statusError(sick.result).reason, "BudgetExhausted")
        const other = yield* observe(test, client.get(`${healthy}/x`))
        assert.strictEqual(other.attempts - sick.attempts, 4)
        assert.strictEqual(statusError(other.result).reason, "AttemptsExhausted")
        assert.strictEqual(budget.tokens(healthy), 6)
        assert.strictEqual(budget.tokens(origin), 4)
      }))

    it.effect("successes refund; a refill lets retries through again", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("refill"))
        for (let i = 0; i < 5; i++) budget.record(origin, "failure")
        let fail503 = true
        const test = yield* TestHttpClient.make(() => fail503 ? respond(503) : ok())
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        const refused = yield* observe(test, client.get(`${origin}/x`))
        assert.strictEqual(statusError(refused.result).reason, "BudgetExhausted")
        assert.strictEqual(budget.tokens(origin), 4)
        fail503 = false
        for (let i = 0; i < 11; i++) yield* observe(test, client.get(`${origin}/x`))
        assert.strictEqual(budget.tokens(origin), 5.1)
        fail503 = true
        const before = (yield* test.requests).length
        const retried = yield* observe(test, client.get(`${origin}/x`))
        // 5.1 - 1 = 4.1: the first failure already leaves too little for a retry.
        assert.strictEqual(retried.attempts - before, 1)
        assert.strictEqual(budget.tokens(origin), 4.1)
      }))

    it.effect("answers the policy neither accepts nor retries are not recorded; a POST's 503 is", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("neutral"))
        const test = yield* TestHttpClient.make((request) => request.method === "POST" ? respond(503) : respond(404))
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        const notFound = yield* observe(test, client.get(`${origin}/x`))
        assert.strictEqual(statusError(notFound.result).reason, "NotRetryable")
        assert.strictEqual(budget.tokens(origin), 10)
        const post = yield* observe(test, client.execute(requestWith("POST", `${origin}/x`)))
        assert.strictEqual(statusError(post.result).reason, "MethodNotRetried")
        assert.strictEqual(budget.tokens(origin), 9)
      }))

    it.effect("a refused transport failure ends with the RequestError; onGiveUp and the log line say why", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("refused"))
        for (let i = 0; i < 4; i++) budget.record(origin, "failure")
        const test = yield* TestHttpClient.make(() => fail("ECONNREFUSED"))
        const reasons: Array<string> = []
        const client = HttpRetry.withRetry(test.client, noJitter({ log: true }), {
          budget,
          onGiveUp: (info) =>
            Effect.sync(() => reasons.push(`${info.attempt}/${info.maxAttempts} ${info.reason} ${info.failure._tag}`))
        })
        const [out, lines] = yield* captureLogs(observe(test, client.get(`${origin}/x`)))
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(requestError(failure(out.result)).reason, "Transport")
        assert.deepStrictEqual(reasons, ["1/4 BudgetExhausted Error"])
        assert.deepStrictEqual(lines.map((l) => l.message), [
          `GET ${origin}/x: attempt 1/4 -> ConnectionRefused: simulated ECONNREFUSED; giving up: BudgetExhausted`
        ])
      }))

    it.effect("a timeout is a failure the budget counts; onGiveUp sees every give-up reason", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("timeout"))
        for (let i = 0; i < 3; i++) budget.record(origin, "failure")
        const test = yield* TestHttpClient.make(times(3, hang))
        const reasons: Array<string> = []
        const client = HttpRetry.withRetry(test.client, noJitter({ attemptTimeout: "1 second" }), {
          budget,
          onGiveUp: (info) => Effect.sync(() => reasons.push(info.reason))
        })
        const out = yield* observe(test, client.get(`${origin}/x`))
        // 7 -> 6 (retry), 6 -> 5 (refused).
        assert.strictEqual(out.attempts, 2)
        assert.deepStrictEqual(out.at, [0, 2000])
        timeoutError(failure(out.result))
        assert.deepStrictEqual(reasons, ["BudgetExhausted"])
        assert.strictEqual(budget.tokens(origin), 5)
      }))

    it.effect("the budget's metrics carry the fiber's own metric labels (Effect.tagMetrics) after the origin", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("labels"))
        const test = yield* TestHttpClient.make(() => respond(503))
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        yield* observe(test, client.get(`${origin}/x`)).pipe(Effect.tagMetrics("service", "checkout"))
        const labelled = Metric.tagged(Metric.tagged(RetryBudget.retries, "origin", origin), "service", "checkout")
        assert.strictEqual((yield* Metric.value(labelled)).count, 3)
        assert.strictEqual((yield* Metric.value(Metric.tagged(RetryBudget.retries, "origin", origin))).count, 0)
      }))

    it.effect("metrics per origin: retries made, retries refused, tokens left; a span event on refusal", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("metrics"))
        const test = yield* TestHttpClient.make(() => respond(503))
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget })
        const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => Metric.tagged(metric, "origin", origin)
        yield* observe(test, client.get(`${origin}/x`))
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retries))).count, 3)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retriesRefused))).count, 0)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.tokens))).value, 6)
        const [span, out] = yield* Effect.withSpan(
          Effect.zip(Effect.orDie(Effect.currentSpan), observe(test, client.get(`${origin}/x`))),
          "call"
        )
        assert.strictEqual(statusError(out.result).reason, "BudgetExhausted")
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retries))).count, 3)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retriesRefused))).count, 1)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.tokens))).value, 5)
        const events = (span as unknown as { events: Array<[string, bigint, Record<string, unknown>]> }).events
        assert.deepStrictEqual(
          events.filter(([name]) => name.startsWith("http_retry")).map(([name, , a]) => [name, a]),
          [
            ["http_retry.retry_refused", {
              "http_retry.origin": origin,
              "http_retry.attempt": 1,
              "http_retry.budget.tokens": 5
            }]
          ]
        )
        // An origin whose bucket stays full: the gauge reads maxTokens, set once.
        const healthy = freshOrigin("metrics-ok")
        const fine = yield* TestHttpClient.make(() => ok())
        yield* HttpRetry.withRetry(fine.client, noJitter(), { budget }).get(`${healthy}/x`)
        assert.strictEqual((yield* Metric.value(Metric.tagged(RetryBudget.tokens, "origin", healthy))).value, 10)
      }))

    it.effect("a retry the breaker refuses is not granted by the budget: the failure costs its token, no retry counted", () =>
      Effect.gen(function*() {
        const { budget, origin } = small(freshOrigin("breaker"))
        const test = yield* TestHttpClient.make(() => respond(503))
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
        const client = HttpRetry.withRetry(test.client, noJitter(), { budget, breaker })
        const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => Metric.tagged(metric, "origin", origin)
        const out = yield* observe(test, client.get(`${origin}/x`))
        // The 503 opened the breaker: the retry is refused by it, and the call gives up with the 503.
        assert.strictEqual(statusError(out.result).reason, "CircuitOpen")
        assert.strictEqual(out.requests.length, 1)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retries))).count, 0)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.retriesRefused))).count, 0)
        assert.strictEqual((yield* Metric.value(tagged(RetryBudget.tokens))).value, 9)
      }))

    it.effect("what was last published per origin is forgotten past 4,096 origins", () =>
      Effect.gen(function*() {
        const hooks = Budget.hooksOf(RetryBudget.unsafeMake({ maxTokens: 10 }))
        let most = 0
        for (let i = 0; i < 10_000; i++) {
          yield* hooks.succeeded(`http://published-${i}.test`, Effect.void)
          most = Math.max(most, hooks.publishedOrigins)
        }
        assert.strictEqual(most, 4096)
      }))

    it.effect("onGiveUp, with no budget: once per failed call, with its reason; never on success", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make((request) =>
          request.url.endsWith("/gone") ? respond(404) : request.url.endsWith("/ok") ? ok() : respond(503)
        )
        const seen: Array<string> = []
        const client = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 2 }), {
          onGiveUp: (info) =>
            Effect.sync(() => {
              seen.push(`${info.attempt}/${info.maxAttempts} ${info.reason} ${info.failure._tag} ${info.request.url}`)
            })
        })
        yield* observe(test, client.get("http://api.test/down"))
        yield* observe(test, client.get("http://api.test/gone"))
        yield* observe(test, client.get("http://api.test/ok"))
        assert.deepStrictEqual(seen, [
          "2/2 AttemptsExhausted Status http://api.test/down",
          "1/2 NotRetryable Status http://api.test/gone"
        ])
      }))

    it.effect("without a budget, nothing is recorded", () =>
      Effect.gen(function*() {
        const origin = freshOrigin("none")
        const test = yield* TestHttpClient.make(() => respond(503))
        const out = yield* observe(test, HttpRetry.withRetry(test.client, noJitter()).get(`${origin}/x`))
        assert.strictEqual(out.attempts, 4)
        assert.strictEqual(
          (yield* Metric.value(Metric.tagged(RetryBudget.retries, "origin", origin))).count,
          0
        )
      }))
  })

  describe("layers", () => {
    const layered = (budget: boolean | RetryBudget.Options | undefined) =>
      HttpRetry.layer(noJitter(), { budget }).pipe(Layer.provideMerge(TestHttpClient.layer(() => respond(503))))

    const firstCalls = (origin: string) =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const attempts: Array<number> = []
        for (let i = 0; i < 3; i++) {
          const before = (yield* test.requests).length
          const out = yield* observe(test, client.get(`${origin}/x`))
          attempts.push(out.attempts - before)
        }
        return attempts
      })

    it.effect("off by default: every call makes its 4 attempts", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* firstCalls(freshOrigin("off")), [4, 4, 4])
      }).pipe(Effect.provide(layered(undefined))))

    it.effect("budget: false is off", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* firstCalls(freshOrigin("false")), [4, 4, 4])
      }).pipe(Effect.provide(layered(false))))

    it.effect("budget with options and no RetryBudget in context: a local budget with them", () =>
      Effect.gen(function*() {
        // 4 tokens: 3 (retry), 2 (refused); then 1 and 0, refused.
        assert.deepStrictEqual(yield* firstCalls(freshOrigin("local")), [2, 1, 1])
      }).pipe(Effect.provide(layered({ maxTokens: 4 }))))

    it.effect("budget: true uses the RetryBudget in the layer's context, not a new one", () => {
      const budget = RetryBudget.unsafeMake({ maxTokens: 6 })
      const origin = freshOrigin("context")
      return Effect.gen(function*() {
        // 6 tokens: 5, 4 (retries), 3 (refused); then refused at once.
        assert.deepStrictEqual(yield* firstCalls(origin), [3, 1, 1])
        assert.strictEqual(budget.tokens(origin), 1)
        assert.strictEqual(yield* RetryBudget.RetryBudget, budget)
      }).pipe(
        Effect.provide(
          layered({ maxTokens: 100 }).pipe(Layer.provideMerge(Layer.succeed(RetryBudget.RetryBudget, budget)))
        )
      )
    })

    it.effect("HttpRetry.request with a full policy and withPolicy keep the layer's budget", () => {
      const budget = RetryBudget.unsafeMake({ maxTokens: 10 })
      const origin = freshOrigin("request")
      for (let i = 0; i < 5; i++) budget.record(origin, "failure")
      return Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const viaRequest = yield* observe(
          test,
          HttpRetry.request(HttpClientRequest.get(`${origin}/x`), noJitter({ maxAttempts: 3 }))
        )
        assert.strictEqual(viaRequest.attempts, 1)
        assert.strictEqual(statusError(viaRequest.result).reason, "BudgetExhausted")
        const client = yield* HttpRetry.client
        const viaPolicy = yield* observe(test, client.get(`${origin}/x`).pipe(HttpRetry.withPolicy({ maxAttempts: 5 })))
        assert.strictEqual(viaPolicy.attempts, 2)
        assert.strictEqual(statusError(viaPolicy.result).reason, "BudgetExhausted")
      }).pipe(
        Effect.provide(layered(true).pipe(Layer.provideMerge(Layer.succeed(RetryBudget.RetryBudget, budget))))
      )
    })
  })
})
