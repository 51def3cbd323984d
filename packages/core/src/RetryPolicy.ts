/**
 * A retry policy as plain, inspectable data: what to retry, how long to wait,
 * and when to stop. `make` validates every field; `toSchedule` compiles the
 * backoff into an Effect `Schedule`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as LogLevel from "effect/LogLevel"
import type * as Schedule from "effect/Schedule"
import * as internal from "./internal/retryPolicy.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * `"full"` waits a uniformly random time in `[0, delay]` (backoff's and the
 * AWS SDKs' full jitter); `"none"` waits exactly `delay`.
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter = "full" | "none"

/**
 * A status code, or a whole class of them.
 *
 * @since 0.1.0
 * @category models
 */
export type StatusPattern = number | "4xx" | "5xx"

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryOn {
  /** Statuses that are retried; every other non-2xx status gives up at once. */
  readonly statuses: ReadonlyArray<StatusPattern>
  /** Whether transport failures that can heal (refused, reset, timeouts) are retried. */
  readonly transport: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Logging {
  /** The level of every line: one per attempt and one on give-up. */
  readonly level: LogLevel.Literal
  /** Include query parameters (secret-named ones redacted) in the URL. */
  readonly query: boolean
  /** Include the request body, when it is text or bytes; secret-named fields of a form or JSON body redacted. */
  readonly body: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Redaction {
  /** Header names redacted on top of Authorization, Cookie, Set-Cookie, Proxy-Authorization, X-Api-Key, Api-Key, ApiKey, X-Auth-Token, Private-Token, X-Amz-Security-Token. */
  readonly headers: ReadonlyArray<string>
  /** Query parameter names redacted on top of token, access_token, api_key, apikey, key, password, secret, signature, sig and friends. */
  readonly query: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy {
  /** Marks a policy made by `make`; see `isRetryPolicy`. */
  readonly [TypeId]: TypeId
  /** Attempts including the first (backoff's `max_tries`). */
  readonly maxAttempts: number
  /**
   * Deadline over all attempts and waits: no wait that would end past it and no
   * attempt with `minTimeLeft` or less left is started, and a running attempt is cut there.
   */
  readonly maxElapsed: Duration.Duration
  /** The first backoff delay. */
  readonly baseDelay: Duration.Duration
  /** Each backoff delay is the previous one times `factor`. */
  readonly factor: number
  /** Cap on a single backoff delay, applied before jitter. */
  readonly maxDelay: Duration.Duration
  /** Randomization of each backoff delay; never applied to a `Retry-After` wait. */
  readonly jitter: Jitter
  /** Timeout of each attempt, up to the response headers; shrinks to the time left before the deadline. */
  readonly attemptTimeout: Duration.Duration
  /** Which failures are retried. */
  readonly retryOn: RetryOn
  /** Methods that are retried. Others are retried only with an `Idempotency-Key` header. */
  readonly methods: ReadonlyArray<string>
  /** Honour a positive `Retry-After` on 429 and 503 instead of the backoff delay (`0` keeps the backoff). */
  readonly retryAfter: boolean
  /** A `Retry-After` longer than this is not slept: the request gives up at once. */
  readonly maxRetryAfter: Duration.Duration
  /**
   * The largest failed body read to its end, as undici's `dump()` does, so the
   * connection is reused; a larger one is cut off and its connection closed.
   */
  readonly maxDrainBytes: number
  /**
   * The least time left before `maxElapsed` to start another attempt; with
   * less, the call gives up with the last failure (reason `DeadlineExceeded`).
   * `"lastAttempt"`: as long as the previous attempt took, at most `attemptTimeout`.
   */
  readonly minTimeLeft: Duration.Duration | "lastAttempt"
  /** `false`, or how to log each attempt. */
  readonly log: Logging | false
  /** Secret names hidden from log lines, error messages and span attributes. */
  readonly redact: Redaction
}

/**
 * What `make` accepts: every field optional, durations as any
 * `Duration.DurationInput` or a string such as `"250ms"`, `"2s"`, `"1.5 minutes"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Attempts including the first, at least 1 (default 4). */
  readonly maxAttempts?: number | undefined
  /** Deadline over all attempts and waits, greater than zero (default 50 seconds). */
  readonly maxElapsed?: DurationInput | undefined
  /** The first backoff delay (default 1 second). */
  readonly baseDelay?: DurationInput | undefined
  /** Growth of the backoff delay, at least 1 (default 2). */
  readonly factor?: number | undefined
  /** Cap on a single backoff delay, before jitter (default 20 seconds). */
  readonly maxDelay?: DurationInput | undefined
  /** `"full"` (default) or `"none"`. */
  readonly jitter?: Jitter | undefined
  /** Timeout of each attempt, greater than zero (default 10 seconds). */
  readonly attemptTimeout?: DurationInput | undefined
  /** Merged field by field over the current `retryOn`. */
  readonly retryOn?: Partial<RetryOn> | undefined
  /** Replaces the retried methods (default GET, HEAD, OPTIONS, PUT, DELETE, TRACE). */
  readonly methods?: ReadonlyArray<string> | undefined
  /** Honour `Retry-After` on 429 and 503 (default `true`). */
  readonly retryAfter?: boolean | undefined
  /** The longest `Retry-After` that is slept (default 60 seconds). */
  readonly maxRetryAfter?: DurationInput | undefined
  /** The largest failed body read to its end to keep the connection, in bytes (default 131072, 128 KiB). */
  readonly maxDrainBytes?: number | undefined
  /** The least time left to start another attempt, or `"lastAttempt"` (default). */
  readonly minTimeLeft?: DurationInput | "lastAttempt" | undefined
  /** `true` turns logging on (at `Info` unless the policy already logs); a level logs at that level. */
  readonly log?: boolean | LogLevel.Literal | Partial<Logging> | undefined
  /** Extra secret names, merged field by field over the current ones. */
  readonly redact?: Partial<Redaction> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type DurationInput = Duration.DurationInput | `${number}${"ms" | "s" | "m" | "h"}`

/**
 * A bad policy value: names the field and the value.
 *
 * @since 0.1.0
 * @category errors
 */
export const RetryPolicyError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.RetryPolicyError>): RetryPolicyError
} = internal.RetryPolicyError

/**
 * @since 0.1.0
 * @category errors
 */
export interface RetryPolicyError extends internal.RetryPolicyError {}

/**
 * The defaults: `requests` + `backoff` (4 tries, 50 seconds, exponential
 * backoff with full jitter) made safe for any service:
 *
 * | field | default |
 * | --- | --- |
 * | maxAttempts | 4 |
 * | maxElapsed | 50 seconds |
 * | baseDelay | 1 second |
 * | factor | 2 |
 * | maxDelay | 20 seconds |
 * | jitter | "full" |
 * | attemptTimeout | 10 seconds |
 * | retryOn | 408, 429, 500, 502, 503, 504 and transport failures |
 * | methods | GET, HEAD, OPTIONS, PUT, DELETE, TRACE |
 * | retryAfter | true (429 and 503) |
 * | maxRetryAfter | 60 seconds |
 * | maxDrainBytes | 131072 (128 KiB) |
 * | minTimeLeft | "lastAttempt" |
 * | log | false |
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: RetryPolicy = internal.defaults

/**
 * Retry every 5xx and transport failures, give up on every 4xx (including
 * 408 and 429). Use as `RetryPolicy.make({ retryOn: RetryPolicy.retryOnServerErrors })`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retryOnServerErrors: RetryOn = { statuses: ["5xx"], transport: true }

/**
 * The rule of `requests` + `backoff` with `raise_for_status()` and
 * `giveup=lambda e: 400 <= e.response.status_code < 500`, exactly: retry a
 * 5xx only; a refused or reset connection, or a timeout, fails at once (it is
 * not an `HTTPError`); `Retry-After` is ignored. With the defaults' 4 attempts
 * and 50 seconds, `RetryPolicy.make(RetryPolicy.serverErrorsOnly)` makes the
 * same attempts as `max_tries=4, max_time=50`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverErrorsOnly: Options = {
  retryOn: { statuses: ["5xx"], transport: false },
  retryAfter: false
}

/**
 * Makes a policy from the defaults and `options`, merged field by field.
 * Throws a `RetryPolicyError` naming the field and the value when a value is
 * out of range; use `validate` for an `Either`.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "@http-retry/core"
 *
 * const policy = RetryPolicy.make({ maxAttempts: 5, baseDelay: "250ms", jitter: "none" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => RetryPolicy = internal.make

/**
 * `make`, returning the error instead of throwing it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate: (options?: Options) => Either.Either<RetryPolicy, RetryPolicyError> = internal.validate

/**
 * Merges `options` into an existing policy, field by field (`retryOn`,
 * `log` and `redact` merge their own fields too). Throws like `make`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge: {
  (options: Options): (self: RetryPolicy) => RetryPolicy
  (self: RetryPolicy, options: Options): RetryPolicy
} = internal.merge

/**
 * Reads a policy from `Config`, by default from environment variables such as
 * `HTTP_RETRY_MAX_ATTEMPTS`, `HTTP_RETRY_MAX_ELAPSED`, `HTTP_RETRY_BASE_DELAY`,
 * `HTTP_RETRY_FACTOR`, `HTTP_RETRY_MAX_DELAY`, `HTTP_RETRY_JITTER`,
 * `HTTP_RETRY_ATTEMPT_TIMEOUT`, `HTTP_RETRY_STATUSES` (comma-separated, `5xx`
 * allowed), `HTTP_RETRY_METHODS`, `HTTP_RETRY_RETRY_AFTER`,
 * `HTTP_RETRY_MAX_RETRY_AFTER`, `HTTP_RETRY_MAX_DRAIN_BYTES`,
 * `HTTP_RETRY_MIN_TIME_LEFT`. Unset variables keep the defaults; a bad value
 * fails with a `ConfigError` naming the variable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: (prefix?: string) => Config.Config<RetryPolicy> = internal.config

/**
 * @since 0.1.0
 * @category guards
 */
export const isRetryPolicy: (u: unknown) => u is RetryPolicy = internal.isRetryPolicy

/**
 * Parses a duration as it is written in text: `"250ms"`, `"2s"`,
 * `"1.5 minutes"`, `"3 hours"`. A plain number is milliseconds, or with
 * `{ unit: "required" }` (as the environment is read) refused with a message
 * saying what to write.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration: (
  text: string,
  options?: { readonly unit?: "optional" | "required" | undefined }
) => Either.Either<Duration.Duration, string> = internal.parseDuration

/**
 * The backoff as an Effect `Schedule`: `Schedule.exponential(baseDelay, factor)`
 * capped at `maxDelay`, jittered, limited to `maxAttempts - 1` recurrences,
 * and ended before a wait that would end `maxElapsed` or more after its
 * first step (where `Schedule.upTo` would still start it). Its output is the
 * delay before the next attempt. `HttpRetry.withRetry` waits the same
 * delays (computed by its loop, not by running this schedule), and on top of
 * them honours `Retry-After`, counts the deadline from the call's start and
 * keeps `minTimeLeft` for the next attempt.
 *
 * @since 0.1.0
 * @category schedules
 */
export const toSchedule: (self: RetryPolicy) => Schedule.Schedule<Duration.Duration, unknown> = internal.toSchedule

/**
 * The delays the policy's schedule produces for `n` consecutive failures,
 * computed without sleeping. With `jitter: "full"` they depend on Effect's
 * `Random`: provide a seeded one for repeatable output.
 *
 * @since 0.1.0
 * @category schedules
 */
export const delays: (self: RetryPolicy, n: number) => Effect.Effect<Array<Duration.Duration>> = internal.delays

/**
 * Whether a status is retried by this policy.
 *
 * @since 0.1.0
 * @category predicates
 */
export const retriesStatus: {
  (status: number): (self: RetryPolicy) => boolean
  (self: RetryPolicy, status: number): boolean
} = internal.retriesStatus
