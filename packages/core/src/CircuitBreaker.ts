/**
 * A circuit breaker per origin (scheme, host, port), shared by every call
 * through the client: after enough failures the origin is left alone for a
 * while, and calls to it fail at once with a `CircuitOpenError` instead of
 * waiting out their timeouts and backoffs against a backend that is down.
 *
 * - **Closed** (normal): every call goes. It opens after
 *   `consecutiveFailures` failures in a row (default 5), or when at least
 *   `failureRatio` (default 0.5) of the calls in the last `window` (default
 *   10 seconds) failed, counted once `minimumCalls` (default 20) were made in
 *   it. Either rule may be turned off with `false`.
 * - **Open**: no call goes, for `openFor` (default 5 seconds), or longer when
 *   the failure that opened it was a 429 or 503 with a `Retry-After` (capped
 *   at the policy's `maxRetryAfter`). A first attempt fails with
 *   `CircuitOpenError`; a retry is not made, and the call ends with its last
 *   failure (give-up reason `CircuitOpen` on an `HttpStatusError`).
 * - **Half-open**: from `openFor` on, at most `halfOpenProbes` calls (default
 *   1) go as probes; a probe's success closes the breaker, its failure opens
 *   it again for `openFor`. A probe that is interrupted gives its place back.
 *
 * What counts as a failure is what the call's policy retries (`retryOn`: its
 * statuses, transport failures that can heal, attempt timeouts); a 2xx answer
 * is a success; any other answer (a 404) is neither.
 *
 * The `CircuitBreaker` service is the store: `make` keeps the state in this
 * process; a shared store (Redis) implements the same `Service`. Its checks
 * and records are synchronous and make no I/O, as they run on every attempt.
 * Times are milliseconds on Effect's `Clock`, passed in by the caller, so a
 * breaker is exact under `TestClock`.
 *
 * @since 0.2.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as internal from "./internal/breaker.js"
import type * as RetryPolicy from "./RetryPolicy.js"
import type * as TransportFailure from "./TransportFailure.js"

/**
 * @since 0.2.0
 * @category models
 */
export type State = "Closed" | "Open" | "HalfOpen"

/**
 * The failure that opened a breaker, described without the request: a
 * status, a transport failure's kind, or an attempt timeout.
 *
 * @since 0.2.0
 * @category models
 */
export type Failure =
  | {
    /** An answer whose status the policy retries. */
    readonly _tag: "Status"
    /** Its status. */
    readonly status: number
  }
  | {
    /** A transport failure the policy retries (refused, reset …). */
    readonly _tag: "Transport"
    /** What `TransportFailure.classify` made of it. */
    readonly kind: TransportFailure.Kind
  }
  | {
    /** The attempt timed out. */
    readonly _tag: "Timeout"
  }

/**
 * Why and until when an origin is open.
 *
 * @since 0.2.0
 * @category models
 */
export interface Opening {
  /** When it opened, in milliseconds on Effect's `Clock`. */
  readonly openedAt: number
  /** From when a probe may go, in milliseconds on Effect's `Clock`. */
  readonly openUntil: number
  /** The failure that opened it. */
  readonly failure: Failure
}

/**
 * What an origin's breaker is, as the store knows it at a given time. An
 * open breaker whose `openUntil` has passed is reported `HalfOpen`.
 *
 * @since 0.2.0
 * @category models
 */
export type Status =
  | {
    /** Every call goes. */
    readonly _tag: "Closed"
  }
  | {
    /** No call goes until `opening.openUntil`. */
    readonly _tag: "Open"
    /** Why and until when. */
    readonly opening: Opening
  }
  | {
    /** Probes may go. */
    readonly _tag: "HalfOpen"
    /** The opening that ended. */
    readonly opening: Opening
    /** Probes in flight. */
    readonly probes: number
  }

/**
 * The answer to `admit`. `Pass` and `Probe` let the attempt go; a `Probe`
 * holds one of the half-open places until its outcome is recorded or it is
 * released.
 *
 * @since 0.2.0
 * @category models
 */
export type Admission =
  | {
    /** Closed: the attempt goes. */
    readonly _tag: "Pass"
  }
  | {
    /** Half-open: the attempt goes as a probe. */
    readonly _tag: "Probe"
    /** Set on the probe that moved the breaker from open to half-open. */
    readonly transition: Transition | undefined
  }
  | {
    /** The attempt does not go. */
    readonly _tag: "Reject"
    /** `Open`, or `HalfOpen` with every probe place taken. */
    readonly state: "Open" | "HalfOpen"
    /** Why and until when it is open. */
    readonly opening: Opening
  }

/**
 * An attempt's outcome, as the breaker counts it.
 *
 * @since 0.2.0
 * @category models
 */
export type Outcome =
  | {
    /** A 2xx answer. */
    readonly _tag: "Success"
  }
  | {
    /** A failure the call's policy retries (`retryOn`). */
    readonly _tag: "Failure"
    /** What it was. */
    readonly failure: Failure
    /** A 429's or 503's `Retry-After`, already capped at the policy's `maxRetryAfter`. */
    readonly retryAfterMillis: number | undefined
  }
  | {
    /** Anything else (a 404): neither a success nor a failure. */
    readonly _tag: "Ignored"
  }

/**
 * A change of state, for metrics and span events.
 *
 * @since 0.2.0
 * @category models
 */
export interface Transition {
  /** The state before. */
  readonly from: State
  /** The state after. */
  readonly to: State
  /** The opening, when `to` is `Open`. */
  readonly opening: Opening | undefined
}

/**
 * What the retry asks of a breaker store. Every method is synchronous and
 * makes no I/O: they run on every attempt (a shared store keeps a local view
 * and synchronises it in the background). `nowMillis` is the time on
 * Effect's `Clock`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** May an attempt to `origin` go now? */
  readonly admit: (origin: string, nowMillis: number) => Admission
  /** An admitted attempt ended. Returns the transition it caused, if any. */
  readonly record: (
    origin: string,
    admission: Admission,
    outcome: Outcome,
    nowMillis: number
  ) => Transition | undefined
  /** An admitted attempt ended with no outcome (interrupted): a probe gives its place back. */
  readonly release: (origin: string, admission: Admission) => void
  /** The state of `origin` at `nowMillis`, without changing it. */
  readonly status: (origin: string, nowMillis: number) => Status
  /** The numbers the breaker runs with. */
  readonly settings: Settings
}

/**
 * What `make` and the layers' `breaker` option accept; every field optional.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Open after this many failures in a row, at least 1 (default 5); `false`: no such rule. */
  readonly consecutiveFailures?: number | false | undefined
  /**
   * Open when at least this share of the calls in `window` failed, more than
   * 0 and at most 1 (default 0.5); `false`: no such rule.
   */
  readonly failureRatio?: number | false | undefined
  /** The sliding window of `failureRatio`, greater than zero (default 10 seconds); it slides in tenths of itself. */
  readonly window?: RetryPolicy.DurationInput | undefined
  /** The least calls in `window` for `failureRatio` to apply, at least 1 (default 20). */
  readonly minimumCalls?: number | undefined
  /** How long it stays open before a probe may go, greater than zero (default 5 seconds). */
  readonly openFor?: RetryPolicy.DurationInput | undefined
  /** Probes in flight at once while half-open, at least 1 (default 1). */
  readonly halfOpenProbes?: number | undefined
}

/**
 * `Options` resolved: every field set.
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /** Failures in a row that open it; `false`: no such rule. */
  readonly consecutiveFailures: number | false
  /** The share of failed calls in `window` that opens it; `false`: no such rule. */
  readonly failureRatio: number | false
  /** The sliding window of `failureRatio`. */
  readonly window: Duration.Duration
  /** The least calls in `window` for `failureRatio` to apply. */
  readonly minimumCalls: number
  /** How long it stays open before a probe may go. */
  readonly openFor: Duration.Duration
  /** Probes in flight at once while half-open. */
  readonly halfOpenProbes: number
}

/**
 * The defaults: open after 5 failures in a row, or at half the calls of the
 * last 10 seconds failing (at least 20 of them); open for 5 seconds; 1 probe.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaults: Settings = internal.defaults

/**
 * The breaker the retrying clients use when the layer's `breaker` option is
 * on; provide one to share it between clients, or to swap the store.
 *
 * @since 0.2.0
 * @category tags
 */
export class CircuitBreaker extends Context.Tag("@http-retry/core/CircuitBreaker")<CircuitBreaker, Service>() {}

/**
 * Resolves `options` over `defaults`. Throws a `RetryPolicyError` naming the
 * field (`breaker.openFor`) and the value for a bad one.
 *
 * @since 0.2.0
 * @category constructors
 */
export const settings: (options?: Options) => Settings = internal.settings

/**
 * `settings`, returning the error instead of throwing it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const validate: (options?: Options) => Either.Either<Settings, RetryPolicy.RetryPolicyError> = internal.validate

/**
 * A breaker kept in this process. The options are validated when `make` is
 * called: a bad one throws a `RetryPolicyError` naming it.
 *
 * @example
 * ```ts
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { CircuitBreaker, HttpRetry } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openFor: "10 seconds" })
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpRetry.withRetry(undefined, { breaker }))
 *   return yield* client.get("https://api.internal.test/items")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service> = internal.make

/**
 * The `CircuitBreaker` service, kept in this process.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<CircuitBreaker> => {
  const made = make(options)
  return Layer.effect(CircuitBreaker, made)
}

/**
 * Reads the breaker from `Config`, by default from the environment:
 * `HTTP_RETRY_BREAKER` (true or false) and `HTTP_RETRY_BREAKER_CONSECUTIVE_FAILURES`,
 * `HTTP_RETRY_BREAKER_FAILURE_RATIO` (a number, or `off` for either),
 * `HTTP_RETRY_BREAKER_WINDOW`, `HTTP_RETRY_BREAKER_MINIMUM_CALLS`,
 * `HTTP_RETRY_BREAKER_OPEN_FOR`, `HTTP_RETRY_BREAKER_HALF_OPEN_PROBES`.
 * Durations need a unit (`5s`). Setting any of the latter turns the breaker
 * on unless `HTTP_RETRY_BREAKER` is false. Gives `false` (off, the default),
 * or the options. A bad value fails with a `ConfigError` naming the variable.
 *
 * @since 0.2.0
 * @category constructors
 */
export const config: (prefix?: string) => Config.Config<false | Options> = internal.config

/**
 * The origin a request's breaker is kept under: `scheme://host:port` as
 * `URL.origin` gives it (no userinfo, the port only when not the scheme's
 * default).
 *
 * @since 0.2.0
 * @category utils
 */
export const originOf: (request: HttpClientRequest.HttpClientRequest) => string = internal.originOf

/**
 * The metrics every retrying client with a breaker records, each tagged with
 * `origin`:
 *
 * - `http_retry_breaker_state` (gauge): 0 closed, 1 half-open, 2 open, so the
 *   higher the worse and a max over time shows whether it opened;
 * - `http_retry_breaker_transitions` (counter, also tagged `from` and `to`);
 * - `http_retry_breaker_rejected` (counter): calls failed with
 *   `CircuitOpenError` and retries not made because the breaker was open.
 *
 * @since 0.2.0
 * @category metrics
 */
export const metrics: {
  /** `http_retry_breaker_state`: 0 closed, 1 half-open, 2 open. */
  readonly state: Metric.Metric.Gauge<number>
  /** `http_retry_breaker_transitions`, tagged `from` and `to`. */
  readonly transitions: Metric.Metric.Counter<number>
  /** `http_retry_breaker_rejected`: calls and retries not sent. */
  readonly rejected: Metric.Metric.Counter<number>
} = internal.metrics

/**
 * @since 0.2.0
 * @category type ids
 */
export const CircuitOpenErrorTypeId: unique symbol = internal.CircuitOpenErrorTypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type CircuitOpenErrorTypeId = typeof CircuitOpenErrorTypeId

/**
 * A call not sent because the breaker of its origin is open (or half-open
 * with every probe place taken). Nothing went to the network.
 *
 * `url` is redacted; no field carries a header, a body or a secret. Its
 * `message`: `Circuit open for http://api.test (opened by HTTP 503; probe in
 * 4.5s): GET http://api.test/items not sent`.
 *
 * @since 0.2.0
 * @category errors
 */
export const CircuitOpenError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.CircuitOpenError>): CircuitOpenError
} = internal.CircuitOpenError

/**
 * @since 0.2.0
 * @category errors
 */
export interface CircuitOpenError extends internal.CircuitOpenError {}

/**
 * @since 0.2.0
 * @category guards
 */
export const isCircuitOpenError: (u: unknown) => u is CircuitOpenError = internal.isCircuitOpenError
