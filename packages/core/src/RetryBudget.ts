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
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

/**
 * What the retry asks of a budget. `record` runs on every attempt, so it is
 * synchronous and makes no I/O (a shared store batches); `acquire` runs only
 * before a retry and may ask a shared store, but never fails: a store that
 * cannot answer decides on what it knows locally.
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
export class RetryBudget extends Context.Tag("@http-retry/core/RetryBudget")<RetryBudget, Service>() {}
