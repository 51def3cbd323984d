/**
 * A retry budget: how many retries the calls to one origin may make, shared by
 * every call through the client, so that a backend that is down sees about one
 * attempt per call instead of `maxAttempts` (no retry storm).
 *
 * The algorithm is gRPC's `retryThrottling` (gRFC A6), per origin (scheme,
 * host, port): a bucket of `maxTokens` tokens, full at the start; an attempt
 * that fails in a way the policy retries (`retryOn`) takes 1 token, an answer
 * the policy accepts gives back `tokenRatio` (never above `maxTokens`); a retry
 * is made only while more than half of `maxTokens` is left. First attempts are
 * never refused. With the defaults (100 tokens, 0.1) retries stop once about 50
 * more attempts have failed than a tenth of those that succeeded, and in
 * steady state they go on while fewer than about 1 attempt in 11 fails.
 *
 * The `RetryBudget` service is the store: `make` keeps the buckets in this
 * process; `@http-retry/redis` keeps them in Redis, shared by a fleet. Tests
 * swap it with a Layer.
 *
 * @since 0.2.0
 */
import type * as Config from "effect/Config"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as internal from "./internal/retryBudget.js"
import type { RetryPolicyError } from "./RetryPolicy.js"

/**
 * What the retry asks of a budget. `record` runs on every attempt, so it is
 * synchronous and makes no I/O (a shared store batches); `acquire` runs only
 * before a retry and may ask a shared store, but never fails: a store that
 * cannot answer decides on what it knows locally.
 *
 * How the retry calls it: `origin` is always `originOf(request.url)`. After
 * a failed attempt it calls `record(origin, "failure")` first, then, if the
 * policy would retry, `acquire(origin)`: the failure already counts when the
 * retry is asked for. `acquire` takes nothing (as in gRPC): a retry that is
 * made costs a token only if it fails too. A first attempt is never asked
 * for.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /**
   * An attempt to `origin` ended: `"success"` for an answer the policy
   * accepts, `"failure"` for a failure it retries (whether or not a retry
   * follows). Answers the policy neither accepts nor retries (a 404) are not
   * recorded.
   */
  readonly record: (origin: string, outcome: "success" | "failure") => void
  /** May a retry to `origin` be made now? `true` lets it go. */
  readonly acquire: (origin: string) => Effect.Effect<boolean>
  /** The tokens left for `origin`, as this process knows them (`maxTokens` for an origin never seen). */
  readonly tokens: (origin: string) => number
  /** The numbers the budget runs with. */
  readonly options: Required<Options>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Tokens per origin, full at the start. Default 100; more than 0, at most 1000 (as gRPC). */
  readonly maxTokens?: number | undefined
  /** Tokens an accepted answer gives back. Default 0.1; more than 0, at most 1. */
  readonly tokenRatio?: number | undefined
}

/**
 * The budget the retrying clients use.
 *
 * @since 0.2.0
 * @category tags
 */
export const RetryBudget: Context.Tag<RetryBudget, Service> = internal.RetryBudget

/**
 * @since 0.2.0
 * @category tags
 */
export interface RetryBudget extends internal.RetryBudget {}

/**
 * The defaults, gRPC's example numbers: `{ maxTokens: 100, tokenRatio: 0.1 }`.
 * Retries stop once 50 more attempts to an origin have failed than a tenth of
 * those that succeeded, and come back after about 10 successes.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaults: Required<Options> = internal.defaults

/**
 * Checks `options` and fills in the defaults. A bad value is a
 * `RetryPolicyError` naming the field (`budget.maxTokens`,
 * `budget.tokenRatio`) and the value: numbers more than 0, `maxTokens` at
 * most 1000 and `tokenRatio` at most 1, to 3 decimal places (tokens are
 * counted in thousandths, as gRPC counts them). For a store that implements
 * `Service` with the same rules.
 *
 * @since 0.2.0
 * @category constructors
 */
export const validate: (options?: Options) => Either.Either<Required<Options>, RetryPolicyError> = internal.validate

/**
 * A budget kept in this process: one bucket per origin, full for an origin
 * never seen. Fails with a `RetryPolicyError` for a bad option.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { HttpRetry, RetryBudget } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make({ maxTokens: 50 })
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpRetry.withRetry(undefined, { budget }))
 *   return yield* client.get("https://api.internal.test/items")
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, RetryPolicyError> = internal.make

/**
 * `make`, for a budget made outside an Effect (a module-level client):
 * throws the `RetryPolicyError` instead.
 *
 * @since 0.2.0
 * @category constructors
 */
export const unsafeMake: (options?: Options) => Service = internal.unsafeMake

/**
 * A `RetryBudget` kept in this process. Provided to `HttpRetry.layer` or
 * `NodeHttpRetry.layer` with `budget` on, it is the one they use (so is any
 * other `RetryBudget`, such as `@http-retry/redis`'s).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<RetryBudget, RetryPolicyError> = internal.layer

/**
 * The budget's numbers from `Config`: `<prefix>_BUDGET` (true or false),
 * `<prefix>_BUDGET_MAX_TOKENS` and `<prefix>_BUDGET_TOKEN_RATIO` (default
 * prefix `HTTP_RETRY`). `false` when off. Setting a number turns the budget on
 * unless `<prefix>_BUDGET` is false. A bad value fails with a `ConfigError`
 * naming the variable, under the rules of `validate`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const config: (prefix?: string) => Config.Config<false | Options> = internal.config

/**
 * The origin a budget is kept for: `scheme://host[:port]`, as
 * `new URL(url).origin` (the default port left out), without parsing the URL
 * in the common case: it runs on every attempt.
 *
 * @since 0.2.0
 * @category utils
 */
export const originOf: (url: string) => string = internal.originOf

/**
 * Retries made under a budget (granted by it), tagged `origin`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const retries: Metric.Metric.Counter<number> = internal.retries

/**
 * Retries the budget refused, tagged `origin`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const retriesRefused: Metric.Metric.Counter<number> = internal.retriesRefused

/**
 * The tokens left per origin, as this process knows them after its last
 * attempt there, tagged `origin`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tokens: Metric.Metric.Gauge<number> = internal.tokens
