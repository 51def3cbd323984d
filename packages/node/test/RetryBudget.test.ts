import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { RetryBudget, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fast, serve } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

const CALLS = 64

/** `CALLS` calls in flight at once through the layer's client; how many attempts the server saw for them. */
const wave = (server: TestServer.TestServer) =>
  Effect.gen(function*() {
    const before = server.requests.length
    const client = yield* HttpClient.HttpClient
    const results = yield* Effect.forEach(
      Array.from({ length: CALLS }, (_, i) => i),
      (i) => Effect.either(Effect.scoped(client.get(`${server.url}/items/${i}`))),
      { concurrency: "unbounded" }
    )
    return { attempts: server.requests.length - before, results }
  })

const reasons = (results: ReadonlyArray<{ readonly _tag: string; readonly left?: unknown }>) => {
  const count: Record<string, number> = {}
  for (const r of results) {
    const left = r.left as { readonly _tag?: string; readonly reason?: string } | undefined
    const key = left?._tag === "HttpStatusError" ? String(left.reason) : String(left?._tag ?? r._tag)
    count[key] = (count[key] ?? 0) + 1
  }
  return count
}

describe("NodeHttpRetry with a retry budget, against a real server failing every request", () => {
  it.scopedLive(`budget off: ${CALLS} calls in flight make 4 attempts each`, () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const { attempts, results } = yield* wave(server).pipe(Effect.provide(NodeHttpRetry.layer({ policy: fast() })))
      assert.strictEqual(attempts, CALLS * 4)
      assert.deepStrictEqual(reasons(results), { AttemptsExhausted: CALLS })
    }))

  it.scopedLive(`budget on: at most 49 retries drain it, then every call makes one attempt`, () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const budget = RetryBudget.unsafeMake()
      const layer = NodeHttpRetry.layer({ policy: fast(), budget: true }).pipe(
        Layer.provide(Layer.succeed(RetryBudget.RetryBudget, budget))
      )
      const [first, tokens, second] = yield* Effect.all([
        wave(server),
        Effect.sync(() => budget.tokens(server.url)),
        wave(server)
      ]).pipe(Effect.provide(layer))
      // Every attempt failed and cost a token (down to 0).
      assert.strictEqual(tokens, Math.max(0, 100 - first.attempts))
      // 100 tokens: a failure that leaves more than 50 lets its retry go, so at most 49 retries are made, whatever
      // the order the answers arrive in. Fewer when a call's last allowed attempt (AttemptsExhausted, after 3
      // retries) is among those 49 failures: it costs a token and asks for no retry.
      const { AttemptsExhausted = 0, BudgetExhausted = 0, ...other } = reasons(first.results)
      assert.deepStrictEqual(other, {})
      assert.strictEqual(AttemptsExhausted + BudgetExhausted, CALLS)
      assert.isAtMost(first.attempts, CALLS + 49)
      assert.isAtLeast(first.attempts, CALLS + 49 - AttemptsExhausted)
      // Drained: one attempt per call (the target is at most 1.2).
      assert.strictEqual(second.attempts, CALLS)
      assert.deepStrictEqual(reasons(second.results), { BudgetExhausted: CALLS })
    }))

  it.scopedLive("a RetryBudget provided to the layer is the one it uses", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const budget = RetryBudget.unsafeMake({ maxTokens: 4 })
      const layer = NodeHttpRetry.layer({ policy: fast(), budget: { maxTokens: 1000 } }).pipe(
        Layer.provide(Layer.succeed(RetryBudget.RetryBudget, budget))
      )
      const client = HttpClient.HttpClient.pipe(
        Effect.flatMap((client) => Effect.either(Effect.scoped(client.get(`${server.url}/x`))))
      )
      yield* client.pipe(Effect.provide(layer))
      // 4 tokens: 3 lets the retry go, 2 refuses the next.
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(budget.tokens(server.url), 2)
      assert.strictEqual(RetryBudget.originOf(`${server.url}/x`), server.url)
    }))

  it.scopedLive("a success refunds through the layer", () =>
    Effect.gen(function*() {
      let healthy = false
      const server = yield* serve(() => healthy ? TestServer.respond(200) : TestServer.respond(503))
      const budget = RetryBudget.unsafeMake({ maxTokens: 10, tokenRatio: 0.5 })
      const layer = NodeHttpRetry.layer({ policy: fast({ maxAttempts: 1 }), budget: true }).pipe(
        Layer.provide(Layer.succeed(RetryBudget.RetryBudget, budget))
      )
      yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const get = Effect.either(Effect.scoped(client.get(`${server.url}/x`)))
        for (let i = 0; i < 3; i++) yield* get
        assert.strictEqual(budget.tokens(server.url), 7)
        healthy = true
        yield* get
        assert.strictEqual(budget.tokens(server.url), 7.5)
      }).pipe(Effect.provide(layer))
    }))
})

describe("NodeHttpRetry budget options", () => {
  it("a bad number throws a RetryPolicyError naming it", () => {
    try {
      NodeHttpRetry.layer({ budget: { maxTokens: 0 } })
      assert.fail("expected a RetryPolicyError")
    } catch (error) {
      assert.instanceOf(error, RetryPolicy.RetryPolicyError)
      assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "budget.maxTokens")
    }
    try {
      NodeHttpRetry.layer({ budget: "on" as unknown as boolean })
      assert.fail("expected a RetryPolicyError")
    } catch (error) {
      assert.instanceOf(error, RetryPolicy.RetryPolicyError)
      assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "budget")
    }
  })

  it("layerClient has no retry, so no budget", () => {
    try {
      NodeHttpRetry.layerClient({ budget: true } as NodeHttpRetry.ClientOptions)
      assert.fail("expected a NodeHttpRetryOptionsError")
    } catch (error) {
      assert.instanceOf(error, NodeHttpRetry.NodeHttpRetryOptionsError)
      assert.strictEqual((error as NodeHttpRetry.NodeHttpRetryOptionsError).field, "budget")
    }
  })

  const provider = (variables: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries(variables)), { pathDelim: "_" })
  const configFrom = (variables: Record<string, string>) =>
    NodeHttpRetry.config().pipe(Effect.withConfigProvider(provider(variables)))

  const read: ReadonlyArray<[Record<string, string>, RetryBudget.Options | undefined]> = [
    [{}, undefined],
    [{ HTTP_RETRY_BUDGET: "true" }, {}],
    [{ HTTP_RETRY_BUDGET: "on", HTTP_RETRY_BUDGET_MAX_TOKENS: "20" }, { maxTokens: 20 }],
    [{ HTTP_RETRY_BUDGET_MAX_TOKENS: "20", HTTP_RETRY_BUDGET_TOKEN_RATIO: "0.5" }, { maxTokens: 20, tokenRatio: 0.5 }],
    [{ HTTP_RETRY_BUDGET: "false", HTTP_RETRY_BUDGET_MAX_TOKENS: "20" }, undefined],
    [{ HTTP_RETRY_BUDGET: "false" }, undefined]
  ]
  for (const [variables, budget] of read) {
    it.effect(`${JSON.stringify(variables)} reads budget ${JSON.stringify(budget)}`, () =>
      Effect.gen(function*() {
        const options = yield* configFrom(variables)
        assert.deepStrictEqual(options.budget, budget)
        assert.strictEqual("budget" in options, budget !== undefined)
      }))
  }

  const failures: ReadonlyArray<[Record<string, string>, string, string]> = [
    [{ HTTP_RETRY_BUDGET: "maybe" }, "HTTP_RETRY_BUDGET", "HTTP_RETRY_BUDGET=\"maybe\": expected true or false"],
    [
      { HTTP_RETRY_BUDGET_MAX_TOKENS: "0" },
      "HTTP_RETRY_BUDGET_MAX_TOKENS",
      "HTTP_RETRY_BUDGET_MAX_TOKENS=\"0\": Invalid retry policy: budget.maxTokens = 0 (expected a number more than 0 and at most 1000)"
    ],
    [
      { HTTP_RETRY_BUDGET_MAX_TOKENS: "lots" },
      "HTTP_RETRY_BUDGET_MAX_TOKENS",
      "HTTP_RETRY_BUDGET_MAX_TOKENS=\"lots\": expected a (decimal) number"
    ],
    [
      { HTTP_RETRY_BUDGET: "false", HTTP_RETRY_BUDGET_TOKEN_RATIO: "2" },
      "HTTP_RETRY_BUDGET_TOKEN_RATIO",
      "HTTP_RETRY_BUDGET_TOKEN_RATIO=\"2\": Invalid retry policy: budget.tokenRatio = 2 (expected a number more than 0 and at most 1)"
    ]
  ]
  for (const [variables, path, reason] of failures) {
    it.effect(`${JSON.stringify(variables)} fails with a ConfigError naming ${path}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(configFrom(variables))
        assert.isTrue(ConfigError.isConfigError(error))
        assert.deepStrictEqual(error._op === "InvalidData" ? error.path : error, [path])
        assert.include(String(error), reason)
      }))
  }

  it.scopedLive("layerConfig with HTTP_RETRY_BUDGET_MAX_TOKENS: the budget is on with it", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const layer = NodeHttpRetry.layerConfig.pipe(
        Layer.provide(Layer.setConfigProvider(provider({
          HTTP_RETRY_BASE_DELAY: "20ms",
          HTTP_RETRY_JITTER: "none",
          HTTP_RETRY_BUDGET_MAX_TOKENS: "4"
        })))
      )
      yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        for (let i = 0; i < 3; i++) yield* Effect.either(Effect.scoped(client.get(`${server.url}/x`)))
      }).pipe(Effect.provide(layer))
      // 4 tokens: 3 (retry), 2 (refused); then 1 and 0, refused.
      assert.strictEqual(server.requests.length, 4)
    }))
})
