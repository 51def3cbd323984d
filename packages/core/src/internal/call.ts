import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as HttpRetry from "../HttpRetry.js"
import type * as Hedge from "./hedge.js"
import type { Plan } from "./plan.js"
import type { Hooks as BudgetHooks } from "./retryBudget.js"

/**
 * What one retrying client fixes for all its requests.
 *
 * @internal
 */
export interface Wrapped<E> {
  readonly base: Plan
  /** Sends one attempt through the wrapped client. */
  readonly send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E, unknown>
  readonly onRetry: ((info: HttpRetry.RetryInfo<E>) => Effect.Effect<void, never, unknown>) | undefined
  readonly onGiveUp: ((info: HttpRetry.GiveUpInfo<E>) => Effect.Effect<void, never, unknown>) | undefined
  /** The retry budget, if the client has one. */
  readonly budget: BudgetHooks | undefined
  readonly tracing: boolean
  /** Whether the wrapped client records a span of its own per request (unless marked with `withNoSpans`). */
  readonly innerSpans: boolean
  /** Whether the wrapped client reads `AttemptTimeout` (marked with `readsAttemptTimeout`). */
  readonly readsTimeout: boolean
  /** Whether it also aborts a send through `AttemptTimeout.abortWith` (marked with `{ abortable: true }`). */
  readonly abortsAttempt: boolean
  /** The circuit breaker, when one is on. */
  readonly breaker: CircuitBreaker.Service | undefined
  /** The hedging of a client made by `withHedging` (hedge.ts). */
  readonly hedging: Hedge.State | undefined
  /**
   * Whether a retrying client found running inside an attempt (under platform combinators) takes the call over
   * (`HttpRetry.client`, `HttpRetry.request`), rather than sending once for this loop to retry (nesting.ts).
   */
  readonly defer: boolean
}

/**
 * One call through a retrying client: its request, the plan in force for it
 * (the client's policy with the `withPolicy` overrides around the call), and
 * when it started.
 *
 * @internal
 */
export interface Call<E> extends Omit<Wrapped<E>, "base"> {
  readonly plan: Plan
  readonly request: HttpClientRequest.HttpClientRequest
  readonly startMillis: number
  /** The method and redacted URL, for log lines and messages. */
  readonly label: string
  /** The request's origin, for the retry budget and the breaker (computed once per call). */
  readonly origin: string
  /**
   * For a call started with no parent span: the span its later attempts are
   * children of (its first attempt's), set by the first attempt.
   */
  traceParent?: Tracer.AnySpan | undefined
  /** Whether the call started with no parent span, set by the first attempt. */
  traceRoot?: boolean | undefined
  /**
   * For a hedging call with no parent span: the fiber its first attempt's send runs on (the wrapped client's span is
   * current there while it waits for the answer), for a hedge to join that attempt's trace.
   */
  sendFiber?: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /**
   * The latest end (on the fiber's clock) of the waits that `Retry-After` headers asked for on answers dropped from a
   * hedged round while another attempt ran: the round's own failure waits at least that long.
   */
  retryAfterUntil?: number | undefined
  /** Under a breaker: the failure a retry follows, and its `Retry-After`, for a retry the breaker refuses. */
  lastFailure?: unknown
  lastHint?: Option.Option<Duration.Duration> | undefined
  /** Under a breaker: whether the attempt running was let through as a half-open probe (no hedge goes beside it). */
  probing?: boolean | undefined
  /** This call's hedging, when its client hedges and its request may be sent more than once. */
  hedge?: Hedge.HedgeCall | undefined
}
