/**
 * The fleet form of the retry budget: `@http-retry/core`'s `RetryBudget`
 * (gRPC `retryThrottling` per origin) with its buckets in Redis, so that every
 * process of a service draws from one budget per origin and a backend that is
 * down sees about one attempt per call from the whole fleet.
 *
 * The success path makes no round trip: `record` only counts in this process,
 * and a background fiber sends the counts of every origin in one atomic Lua
 * script each `flushInterval`. `acquire`, before a retry, sends its origin's
 * counts and reads the shared tokens in one round trip, waiting at most
 * `timeout`. When Redis is unreachable or slow, decisions are made on this
 * process's view (the tokens Redis last gave plus what was counted here since),
 * one warning is logged, and one info line when Redis answers again: a call
 * never fails because the store is down.
 *
 * @since 0.2.0
 */
import type * as RetryBudget from "@http-retry/core/RetryBudget"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/redisRetryBudget.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Where Redis is: a URL (`redis://user:password@host:6379/0`, `rediss://`
   * for TLS) or ioredis options. Default `redis://127.0.0.1:6379`. The layer
   * makes its own connection, without ioredis' offline queue (a command while
   * the connection is down fails at once and the budget decides locally), and
   * quits it when its scope closes.
   */
  readonly redis?: string | RedisOptions | undefined
  /**
   * A client of yours to use instead of `redis` (not both): used as it is,
   * and left open when the scope closes.
   */
  readonly client?: Redis | undefined
  /**
   * Prefix of the keys, one per origin: `<prefix><origin>`, the origin as
   * `new URL(url).origin` writes it (`http-retry:budget:https://api.example.com`).
   * Processes that share a prefix share the budget, and should share its
   * numbers. Default `"http-retry:budget:"`.
   */
  readonly keyPrefix?: string | undefined
  /** The budget's numbers, as `RetryBudget.Options`: 100 tokens per origin, 0.1 back per accepted answer. */
  readonly budget?: RetryBudget.Options | undefined
  /** How often the counts recorded in this process are sent. Default 100 millis. */
  readonly flushInterval?: Duration.DurationInput | undefined
  /**
   * How long an origin's key lives after its last write: an origin quiet for
   * that long starts again from a full bucket. Default 10 minutes.
   */
  readonly idleExpiry?: Duration.DurationInput | undefined
  /**
   * How long a decision (and the last flush, at close) waits for Redis
   * before going on with the local view. Default 100 millis.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How long building the layer waits for the first connection; without one
   * by then the budget starts on the local view (and warns once). Default 1 second.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Defaults {
  /** `"http-retry:budget:"` */
  readonly keyPrefix: string
  /** 100 millis */
  readonly flushInterval: Duration.Duration
  /** 10 minutes */
  readonly idleExpiry: Duration.Duration
  /** 100 millis */
  readonly timeout: Duration.Duration
  /** 1 second */
  readonly connectTimeout: Duration.Duration
  /** 100, as the core's budget */
  readonly maxTokens: number
  /** 0.1, as the core's budget */
  readonly tokenRatio: number
}

/**
 * The defaults of `Options`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaults: Defaults = internal.defaults

/**
 * An option out of range, named with its value.
 *
 * @since 0.2.0
 * @category errors
 */
export const RedisRetryBudgetError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.RedisRetryBudgetError>): RedisRetryBudgetError
} = internal.RedisRetryBudgetError

/**
 * @since 0.2.0
 * @category errors
 */
export interface RedisRetryBudgetError extends internal.RedisRetryBudgetError {}

/**
 * Checks `options` as `make` and `layer` do, without connecting: the error
 * names the field and the value.
 *
 * @since 0.2.0
 * @category constructors
 */
export const validate = (options?: Options): Either.Either<Options, RedisRetryBudgetError> =>
  Either.map(internal.validate(options), () => options ?? {})

/**
 * The budget store, in a scope: the connection and the flushing fiber live
 * until the scope closes, which sends what is pending and quits.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<RetryBudget.Service, RedisRetryBudgetError, Scope.Scope> =
  internal.make

/**
 * The budget store as the `RetryBudget` service.
 *
 * @example
 * ```ts
 * import { RedisRetryBudget } from "@http-retry/redis"
 *
 * const BudgetLive = RedisRetryBudget.layer({ redis: "redis://127.0.0.1:6379" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<RetryBudget.RetryBudget, RedisRetryBudgetError> = internal.layer
