/**
 * Retrying requests: a combinator that turns any `HttpClient` into one that
 * fails with a typed `HttpStatusError` on a final non-2xx answer and retries
 * transient failures under a `RetryPolicy`.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import type * as Hedging from "./Hedging.js"
import type { HttpStatusError } from "./HttpStatusError.js"
import type * as HttpStatusErrorModule from "./HttpStatusError.js"
import * as clientMarks from "./internal/clientMarks.js"
import * as overrides from "./internal/overrides.js"
import * as redirects from "./internal/redirects.js"
import * as internal from "./internal/retry.js"
import type * as RetryBudget from "./RetryBudget.js"
import type * as RetryPolicy from "./RetryPolicy.js"

/**
 * The error channel of a retrying client over a client failing with `E`: the
 * typed status error, the per-attempt timeout, the client's own errors, and
 * the call a circuit breaker did not send.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryError<E> = E | HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError

/**
 * What failed on an attempt: the one about to be retried (`onRetry`), or the
 * last one (`onGiveUp`).
 *
 * @since 0.1.0
 * @category models
 */
export type RetryFailure<E> =
  | {
    /** A non-2xx answer (for `onGiveUp`, also one the policy does not retry). */
    readonly _tag: "Status"
    /** The answer; its body is already drained when `onRetry` runs. */
    readonly response: HttpClientResponse.HttpClientResponse
  }
  | {
    /** The client's error (a transport failure or any other) or the attempt timeout. */
    readonly _tag: "Error"
    /** The client's error (a `RequestError` redacted as the caller's would be), or the attempt timeout's `TimeoutException`. */
    readonly error: E | Cause.TimeoutException
  }

/**
 * Passed to `onRetry` before each wait, like backoff's `on_backoff` details.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryInfo<E> {
  /** The attempt that just failed, from 1. */
  readonly attempt: number
  /** The policy's `maxAttempts`. */
  readonly maxAttempts: number
  /** The wait before the next attempt. */
  readonly delay: Duration.Duration
  /** Where the wait came from. */
  readonly source: "backoff" | "Retry-After"
  /** The request being retried, as sent (secrets included: redact before logging it). */
  readonly request: HttpClientRequest.HttpClientRequest
  /** What went wrong on `attempt`. */
  readonly failure: RetryFailure<E>
}

/**
 * Passed to `onGiveUp` when a call ends with a failure.
 *
 * @since 0.2.0
 * @category models
 */
export interface GiveUpInfo<E> {
  /** The attempt that failed last, from 1. */
  readonly attempt: number
  /** The policy's `maxAttempts`. */
  readonly maxAttempts: number
  /** Why no further attempt is made, as `HttpStatusError.reason` says it for a status. */
  readonly reason: HttpStatusErrorModule.GiveUpReason
  /** The request, as sent (secrets included: redact before logging it). */
  readonly request: HttpClientRequest.HttpClientRequest
  /** What went wrong on `attempt`; a response's body is unread (it is the error's). */
  readonly failure: RetryFailure<E>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions<E, R> {
  /** Runs before each wait; it cannot fail the request. */
  readonly onRetry?: ((info: RetryInfo<E>) => Effect.Effect<void, never, R>) | undefined
  /**
   * Runs once when a call ends with the failure of an attempt, before it
   * fails: the give-up reason of any failure, a transport failure or timeout
   * included (for a status it is also the `HttpStatusError`'s `reason`). It
   * cannot fail the request. A call the circuit breaker refuses before its
   * first attempt made none, and fails with `CircuitOpenError` without it
   * (the breaker's `rejected` metric counts those).
   */
  readonly onGiveUp?: ((info: GiveUpInfo<E>) => Effect.Effect<void, never, R>) | undefined
  /**
   * A retry budget (`RetryBudget.make`), shared by every client given the
   * same one: each attempt's outcome is recorded in it per origin (an answer
   * the policy would not retry is not), and a retry it refuses is not made (the call ends with its last failure, give-up reason
   * `BudgetExhausted`). Default: none.
   */
  readonly budget?: RetryBudget.Service | undefined
  /**
   * `false` makes no span for the attempts, sends no trace headers, and turns
   * the wrapped client's own span off: the lean path, for hot loops that are
   * not traced anyway. Default `true`.
   */
  readonly tracing?: boolean | undefined
  /**
   * A circuit breaker per origin (see `CircuitBreaker`): before each attempt
   * it is asked whether the attempt may go, and after it told how it ended.
   * Default: none.
   */
  readonly breaker?: CircuitBreaker.Service | undefined
}

/**
 * The timeout of the attempt being sent, for a client that enforces it
 * itself.
 *
 * By default `withRetry` runs each attempt's send on a fiber of its own that a
 * native timer interrupts (with any client; under `TestClock`, a race with
 * `Effect.sleep` on the fiber's clock, so the timeout is exact there). A client marked with `readsAttemptTimeout` gets
 * this service in its context while the attempt is sent instead, read as the
 * platform's undici client reads `NodeHttpClient.UndiciRequestOptions`
 * (`fiber.currentContext`), and must fail with `onTimeout()` when no
 * response has arrived `millis` after the send started (the Node layer arms
 * one native timer, cleared when the headers arrive). A client without the
 * mark never sees it.
 *
 * A client marked with `readsAttemptTimeout(client, { abortable: true })`
 * also finds `abortWith` here on the first attempt of each round of a hedged
 * call (`withHedging`): it calls it when the send starts (again for each hop
 * of a redirect it follows) with a function that aborts the send: its
 * request, and its body if the headers are in. The send must then end
 * promptly, with any failure (an interruption, as the Node layer's transport
 * does, keeps the span as the platform ends an interrupted one). That lets
 * the first attempt run on the caller's own fiber, and a winning hedge stop
 * it, with no fiber of its own for the first attempt.
 *
 * @since 0.1.0
 * @category models
 */
export const AttemptTimeout: typeof clientMarks.AttemptTimeout = clientMarks.AttemptTimeout

/**
 * @since 0.1.0
 * @category models
 */
export type AttemptTimeout = clientMarks.AttemptTimeout

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace AttemptTimeout {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The time the attempt may take until its response headers, in milliseconds (at least 1). */
    readonly millis: number
    /** The error to fail the attempt with when it runs out. */
    readonly onTimeout: () => Cause.TimeoutException
    /**
     * Present on the first attempt of each round of a hedged call, for a
     * client marked with `{ abortable: true }`: called as the send starts,
     * with a function that aborts the send. The send must then end promptly,
     * with any failure: a hedge has won, and this outcome is dropped.
     *
     * @since 0.2.0
     */
    readonly abortWith?: ((abort: () => void) => void) | undefined
  }
}

/**
 * The mark of a client that reads `AttemptTimeout`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadsAttemptTimeout {
  /** Present and `true` on a client marked by `readsAttemptTimeout`. */
  readonly [clientMarks.ReadsAttemptTimeoutTypeId]: true
}

/**
 * What a client marked by `readsAttemptTimeout` reads besides the timeout.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReadsAttemptTimeoutOptions {
  /**
   * The client also calls `AttemptTimeout`'s `abortWith`, when present, with
   * a function that aborts the send, and then ends the send promptly. A
   * hedged call then runs its first attempt on the caller's fiber. Default
   * `false`.
   */
  readonly abortable?: boolean | undefined
}

/**
 * Marks a client as one that enforces `AttemptTimeout` itself: `withRetry`
 * then provides it for each attempt's send instead of bounding the send with a fiber of its own and a timer.
 * With `{ abortable: true }` the client also reads `AttemptTimeout`'s `abortWith`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const readsAttemptTimeout: <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  options?: ReadsAttemptTimeoutOptions
) => HttpClient.HttpClient.With<E, R> & ReadsAttemptTimeout = clientMarks.readsAttemptTimeout

/**
 * The mark of a client that records no span of its own.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordsNoSpans {
  /** Present and `true` on a client marked by `withNoSpans`. */
  readonly [clientMarks.NoSpansTypeId]: true
}

/**
 * Marks a client as one that records no span of its own (one not made with
 * the platform's `HttpClient.make`): `withRetry` then records a client span
 * per attempt for it, with the URL redacted, and adds the trace headers to
 * the request. A client made with `HttpClient.make` records its own span,
 * which the retry keeps as the attempt's.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withNoSpans: <E, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<E, R> & RecordsNoSpans = clientMarks.withNoSpans

/**
 * Makes a client retry under `policy` (default `RetryPolicy.defaults`) and
 * fail with `HttpStatusError` on a final non-2xx answer.
 *
 * Response retries and error retries share one attempt counter and one
 * deadline. A failed attempt's body is drained so its connection is reused.
 * Wrapping a client that already retries replaces its policy instead of
 * nesting a second retry loop; under platform combinators, which hide it,
 * it is found when a call runs, and sends once per attempt of this loop.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { HttpRetry, RetryPolicy } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpRetry.withRetry(RetryPolicy.make({ maxAttempts: 5 }))
 *   )
 *   return yield* client.get("https://example.test/items")
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetry: {
  <R2 = never>(
    policy?: RetryPolicy.RetryPolicy,
    options?: RetryOptions<unknown, R2>
  ): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<RetryError<E>, R | R2>
  <E, R, R2 = never>(
    self: HttpClient.HttpClient.With<E, R>,
    policy?: RetryPolicy.RetryPolicy,
    options?: RetryOptions<E, R2>
  ): HttpClient.HttpClient.With<RetryError<E>, R | R2>
} = internal.withRetry

/**
 * Hedges the requests of a retrying client (over any other client, of
 * `withRetry(RetryPolicy.defaults)`): when an attempt of a request the
 * policy may send again (a method in `methods` or an `Idempotency-Key`, a
 * body that can be replayed) has no response headers after the hedge delay,
 * another attempt is sent beside it. The first answer the policy accepts
 * wins, and the others are interrupted at once. An answer the policy does
 * not retry (a 404) ends the call as it would without hedging; a failure it
 * retries only drops that attempt while another is still running, and the
 * last one to fail goes to the retry decision as usual.
 *
 * Every hedge is an attempt: it counts against `maxAttempts` and
 * `maxElapsed`, has its own span (with `Hedging.spanAttribute` set), and is
 * seen by `onHedge` and the `Hedging` metrics. A budget per origin (default 5%
 * of requests over 10 seconds) and the `RetryBudget` in context, if any, can
 * refuse it. The client's policy and `onRetry` are kept; `withRetry` over a
 * hedging client keeps its hedging.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { HttpRetry } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpRetry.withRetry(),
 *     HttpRetry.withHedging({ delay: { percentile: 95, floor: "20 millis" } })
 *   )
 *   return yield* client.get("https://example.test/items")
 * })
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withHedging: {
  <R2 = never>(
    options?: Hedging.Options<R2>
  ): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<RetryError<E>, R | R2>
  <E, R, R2 = never>(
    self: HttpClient.HttpClient.With<E, R>,
    options?: Hedging.Options<R2>
  ): HttpClient.HttpClient.With<RetryError<E>, R | R2>
} = internal.withHedging

/**
 * Follows redirects (301, 302, 303, 307, 308; at most `maxRedirects`, default
 * 10) without sending credentials to another origin: on a hop to a different
 * scheme, host or port, every header the redaction counts as a secret is
 * dropped (`Authorization`, `Cookie` and `Proxy-Authorization` as fetch does,
 * and `X-Api-Key`, `Private-Token`, `X-Vault-Token` and the other defaults;
 * over a retrying client, its policy's `redact.headers` too, and those a
 * `withPolicy` around the call adds), and stays dropped for the rest of the
 * chain. The platform's `HttpClient.followRedirects` resends every
 * header to wherever `Location` points.
 *
 * As fetch does, a 303 (and a 301 or 302 answering a POST) is followed with a
 * GET without body; 307 and 308 resend the request as it was. A `Location`
 * that is missing, does not parse or is not http(s), and the answer after
 * `maxRedirects` hops, are returned as they are: through a retrying client,
 * an `HttpStatusError`.
 *
 * Over a retrying client the redirects are followed inside each attempt, so
 * the retry decides on the final answer, and a retry starts again from the
 * first URL. Each hop's body is drained before the next.
 *
 * @example
 * ```ts
 * import { HttpRetry } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpRetry.client).pipe(HttpRetry.followRedirects(5))
 *   return yield* client.get("https://api.internal.test/moved")
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const followRedirects: {
  (maxRedirects?: number): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
  <E, R>(self: HttpClient.HttpClient.With<E, R>, maxRedirects?: number): HttpClient.HttpClient.With<E, R>
} = redirects.followRedirects

/**
 * The options of `layer`: those of `withRetry`, with the budget and the
 * breaker asked for rather than given.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions extends Omit<RetryOptions<HttpClientError.HttpClientError, never>, "budget" | "breaker"> {
  /**
   * A retry budget per origin (`RetryBudget`), off by default. `true` or the
   * budget's options turn it on: the layer uses the `RetryBudget` in its
   * context if one is provided (`RetryBudget.layer`, `@http-retry/redis`, a
   * test's), and otherwise makes one in this process with these options
   * (default `RetryBudget.defaults`). A bad option throws a
   * `RetryPolicyError` naming it.
   */
  readonly budget?: boolean | RetryBudget.Options | undefined
  /**
   * A circuit breaker per origin (`CircuitBreaker`), off by default. `true` or
   * the breaker's options turn it on: the layer uses the `CircuitBreaker` in
   * its context when one is provided (its options then are that service's),
   * and otherwise makes its own from these options. A bad option throws a
   * `RetryPolicyError` naming it.
   */
  readonly breaker?: boolean | CircuitBreaker.Options | undefined
}

/**
 * A Layer that decorates whatever `HttpClient` is in context with
 * `withRetry(policy)`. With `breaker`, its calls go through a circuit breaker
 * per origin; bad breaker options throw a `RetryPolicyError` here.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { HttpRetry } from "@http-retry/core"
 * import { Layer } from "effect"
 *
 * const client = HttpRetry.layer(undefined, { breaker: { consecutiveFailures: 3 } }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @example
 * ```ts
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { HttpRetry } from "@http-retry/core"
 * import { Effect, Layer } from "effect"
 *
 * // With a retry budget: retries to an origin stop while many of its attempts fail (RetryBudget).
 * const Live = HttpRetry.layer(undefined, { budget: true }).pipe(Layer.provide(FetchHttpClient.layer))
 *
 * const program = HttpClient.get("https://api.internal.test/items").pipe(Effect.provide(Live))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  policy?: RetryPolicy.RetryPolicy,
  options?: LayerOptions
) => Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = internal.layer

/**
 * The `HttpClient` in context, typed with the errors a retrying client
 * really has. `HttpClient.HttpClient`'s own type only lists
 * `HttpClientError`, so after `HttpRetry.layer` or `NodeHttpRetry.layer` use
 * this (or `request`) to get `HttpStatusError` and `TimeoutException` into the
 * type and make `Effect.catchTag("HttpStatusError", ...)` compile. A client
 * that does not retry yet is wrapped with `withRetry` under the defaults.
 *
 * @example
 * ```ts
 * import { HttpRetry } from "@http-retry/core"
 * import { Effect } from "effect"
 *
 * const items = Effect.gen(function*() {
 *   const client = yield* HttpRetry.client
 *   const response = yield* client.get("https://api.internal.test/items")
 *   return yield* response.json
 * }).pipe(Effect.catchTag("HttpStatusError", (e) => Effect.succeed({ gaveUp: e.reason })))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const client: Effect.Effect<
  HttpClient.HttpClient.With<RetryError<HttpClientError.HttpClientError>>,
  never,
  HttpClient.HttpClient
> = internal.client

/**
 * One request with retries, as one Effect: executes `request` with the
 * client in context. If that client already retries (from `layer`), its
 * policy applies, with `policy` options merged over it; a full `RetryPolicy`
 * replaces it. A plain client gets `withRetry` under the defaults.
 *
 * Options are validated when `request` is called: a bad field throws a
 * `RetryPolicyError` naming it, as `withPolicy` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const request: (
  request: HttpClientRequest.HttpClientRequest,
  policy?: RetryPolicy.RetryPolicy | RetryPolicy.Options
) => Effect.Effect<
  HttpClientResponse.HttpClientResponse,
  RetryError<HttpClientError.HttpClientError>,
  HttpClient.HttpClient
> = internal.request

/**
 * Overrides fields of the policy for every retrying request inside `self`,
 * merged field by field over the client's policy (and over any outer
 * `withPolicy`). The overrides are validated here: a bad value throws a
 * `RetryPolicyError` naming the field, as `RetryPolicy.make` does.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPolicy: {
  (overrides: RetryPolicy.Options): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: RetryPolicy.Options): Effect.Effect<A, E, R>
} = overrides.withPolicy

/**
 * The overrides in force, innermost last: a `Context.Reference`, so it needs
 * no layer and adds nothing to `R`.
 *
 * @since 0.1.0
 * @category references
 */
export const CurrentOverrides: typeof overrides.CurrentOverrides = overrides.CurrentOverrides

/**
 * Headers as this policy would log them, secrets redacted.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactedHeaders: (headers: Headers.Headers, policy?: RetryPolicy.RetryPolicy) => Record<string, string> =
  internal.redactedHeaders

/**
 * A request's URL as this policy would log it: no userinfo, secret query
 * parameter values replaced.
 *
 * @since 0.1.0
 * @category redaction
 */
export const redactedUrl: (request: HttpClientRequest.HttpClientRequest, policy?: RetryPolicy.RetryPolicy) => string =
  internal.redactedUrl
