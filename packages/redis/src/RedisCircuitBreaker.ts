/**
 * The fleet form of `@http-retry/core`'s circuit breaker: one breaker per
 * origin for every process of a service, its open state shared through
 * Redis. When one process's breaker opens for an origin, the others stop
 * calling it within a sync or two; when a probe closes it, they close too.
 *
 * The checks stay in the process: counting (failures in a row, the failure
 * ratio) is the core's breaker, per process, and `admit` and `record` make no
 * I/O. Transitions are shared: an opening is written to Redis (its end, its
 * start and what opened it, in one atomic Lua script), and a background
 * fiber reads the openings of every origin this process calls, in one round
 * trip each `syncInterval`. While an origin is open anywhere, a first attempt
 * to it fails here with the core's `CircuitOpenError` carrying the shared
 * `openedAt`, `openUntil` and `openedBy`.
 *
 * Half-open, the fleet sends at most `halfOpenProbes` probes at once (one by
 * default): a process probes only on a slot claimed in Redis (`SET NX PX`,
 * renewed while its probe is out, so a process that dies with it frees it
 * within `probeLease`). A probe's success deletes the opening, and every
 * process closes; its failure writes a new opening.
 *
 * When Redis is unreachable or slow, each process's breaker goes on alone
 * (it opens, probes and closes on its own counts), one warning is logged, and
 * one info line when Redis answers again: a call never fails because the
 * store is down.
 *
 * @since 0.2.0
 */
import type * as CircuitBreaker from "@http-retry/core/CircuitBreaker"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/redisCircuitBreaker.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Where Redis is: a URL (`redis://user:password@host:6379/0`, `rediss://`
   * for TLS) or ioredis options. Default `redis://127.0.0.1:6379`. The layer
   * makes its own connection, without ioredis' offline queue, and quits it
   * when its scope closes.
   */
  readonly redis?: string | RedisOptions | undefined
  /** A client of yours to use instead of `redis` (not both): used as it is, and left open when the scope closes. */
  readonly client?: Redis | undefined
  /**
   * Prefix of the keys: `<prefix>open:<origin>` holds an origin's opening,
   * `<prefix>probe:<origin>:<n>` its probe slots. Processes that share a
   * prefix share the breaker, and should share its numbers. Default
   * `"http-retry:breaker:"`.
   */
  readonly keyPrefix?: string | undefined
  /** The breaker's numbers, as `CircuitBreaker.Options` (the core's defaults). */
  readonly breaker?: CircuitBreaker.Options | undefined
  /** How often the openings are read (and what changed here written). Default 100 millis. */
  readonly syncInterval?: Duration.DurationInput | undefined
  /**
   * How long a probe slot is held without being renewed: a process renews
   * its slot each sync while its probe is out; a slot claimed and not used,
   * or held by a process that died, is free again after this. At least twice
   * `syncInterval`. Default 3 seconds.
   */
  readonly probeLease?: Duration.DurationInput | undefined
  /**
   * How long an opening stays in Redis after its open time when no probe
   * ends it (nobody calls the origin any more). Default 1 minute.
   */
  readonly idleExpiry?: Duration.DurationInput | undefined
  /** A sync with no answer after this long counts as Redis being down. Default 1 second. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How long building the layer waits for the first connection; without one
   * by then the breakers start alone (and warn once). Default 1 second.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Defaults {
  /** `"http-retry:breaker:"` */
  readonly keyPrefix: string
  /** 100 millis */
  readonly syncInterval: Duration.Duration
  /** 3 seconds */
  readonly probeLease: Duration.Duration
  /** 1 minute */
  readonly idleExpiry: Duration.Duration
  /** 1 second */
  readonly timeout: Duration.Duration
  /** 1 second */
  readonly connectTimeout: Duration.Duration
}

/**
 * The defaults of `Options`; the breaker's own are `CircuitBreaker.defaults`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaults: Defaults = internal.defaults

/**
 * An option out of range, named with its value (`breaker.openFor` for the
 * breaker's numbers).
 *
 * @since 0.2.0
 * @category errors
 */
export const RedisCircuitBreakerError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.RedisCircuitBreakerError>): RedisCircuitBreakerError
} = internal.RedisCircuitBreakerError

/**
 * @since 0.2.0
 * @category errors
 */
export interface RedisCircuitBreakerError extends internal.RedisCircuitBreakerError {}

/**
 * Checks `options` as `make` and `layer` do, without connecting: the error
 * names the field and the value.
 *
 * @since 0.2.0
 * @category constructors
 */
export const validate = (options?: Options): Either.Either<Options, RedisCircuitBreakerError> =>
  Either.map(internal.validate(options), () => options ?? {})

/**
 * The breaker, in a scope: the connection and the syncing fiber live until
 * the scope closes, which writes what is pending, gives back a probe slot
 * held, and quits.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<CircuitBreaker.Service, RedisCircuitBreakerError, Scope.Scope> = internal.make

/**
 * The breaker as the `CircuitBreaker` service: give it to a layer whose
 * `breaker` option is on.
 *
 * @example
 * ```ts
 * import { NodeHttpRetry } from "@http-retry/node"
 * import { RedisCircuitBreaker } from "@http-retry/redis"
 * import { Layer } from "effect"
 *
 * const HttpLive = NodeHttpRetry.layer({ breaker: true }).pipe(
 *   Layer.provide(RedisCircuitBreaker.layer({ redis: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<CircuitBreaker.CircuitBreaker, RedisCircuitBreakerError> =
  internal.layer
