/**
 * Hedged requests, as in "The Tail at Scale": when an attempt that may be
 * sent again has no answer after the hedge delay, a second one is sent beside
 * it; the first answer the policy accepts wins and the other attempts are
 * interrupted (their connections closed, their bodies never read). The delay
 * is fixed or follows a percentile of the latency seen per origin, and a
 * budget per origin caps the extra load.
 *
 * Turn it on with `HttpRetry.withHedging` on a client, or `Hedging.layer`
 * over the client in context.
 *
 * @since 0.2.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as attempt from "./internal/attempt.js"
import * as internal from "./internal/hedge.js"
import * as retry from "./internal/retry.js"

/**
 * A delay that follows the latency to first response headers seen for each
 * origin: `percentile` of the samples of the last `window`, at least `floor`.
 * Until an origin has `minSamples` samples in the window, `initial` (default
 * `floor`).
 *
 * @since 0.2.0
 * @category models
 */
export interface AdaptiveDelay {
  /** Default 95: hedge the slowest 5%. More than 0, less than 100. */
  readonly percentile?: number | undefined
  /** The shortest delay, however fast the origin has been. */
  readonly floor: Duration.DurationInput
  /** The delay until `minSamples` samples are in the window. Default `floor`. */
  readonly initial?: Duration.DurationInput | undefined
  /** How far back samples count. Default 30 seconds. */
  readonly window?: Duration.DurationInput | undefined
  /** Samples needed before the percentile is used. Default 20. */
  readonly minSamples?: number | undefined
  /** The most samples kept per origin (the latest). Default 1000. */
  readonly maxSamples?: number | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options<R = never> {
  /**
   * How long an attempt may go without response headers before a hedge is
   * sent: a fixed duration, or an `AdaptiveDelay`. Default
   * `{ percentile: 95, floor: "10 millis" }`.
   */
  readonly delay?: Duration.DurationInput | AdaptiveDelay | undefined
  /** The most hedges per call, one delay apart. Default 1. */
  readonly maxHedges?: number | undefined
  /**
   * The hedge budget per origin: at most `ratio` hedges per request over the
   * last `window`, and at least `minimum` in any window however few the
   * requests (so a quiet client still hedges). Defaults 0.05, 10 seconds, 1.
   */
  readonly budget?: {
    /** Hedges per request at most, from 0 to 1. Default 0.05. */
    readonly ratio?: number | undefined
    /** How far back requests and hedges count. Default 10 seconds. */
    readonly window?: Duration.DurationInput | undefined
    /** Hedges allowed in any window however few the requests, an integer from 0. Default 1. */
    readonly minimum?: number | undefined
  } | undefined
  /** Runs before each hedge is sent; it cannot fail the request. */
  readonly onHedge?: ((info: HedgeInfo) => Effect.Effect<void, never, R>) | undefined
}

/**
 * Passed to `onHedge` before a hedge is sent.
 *
 * @since 0.2.0
 * @category models
 */
export interface HedgeInfo {
  /** The attempt the hedge is, from 2. */
  readonly attempt: number
  /** The policy's `maxAttempts`: hedges count against it. */
  readonly maxAttempts: number
  /** The delay that passed without an answer. */
  readonly delay: Duration.Duration
  /** The request, as it will be sent again (secrets included: redact before logging it). */
  readonly request: HttpClientRequest.HttpClientRequest
}

/**
 * A hedging option that is out of range, thrown by `HttpRetry.withHedging`
 * and `layer` where the options are written.
 *
 * @since 0.2.0
 * @category errors
 */
export const HedgingError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.HedgingError>): HedgingError
} = internal.HedgingError

/**
 * @since 0.2.0
 * @category errors
 */
export interface HedgingError extends internal.HedgingError {}

/**
 * Hedges sent (`http_retry_hedges_sent`), tagged with `origin` (scheme, host
 * and port).
 *
 * @since 0.2.0
 * @category metrics
 */
export const hedgesSent: Metric.Metric.Counter<number> = internal.hedgesSent

/**
 * Hedges whose answer the call returned (`http_retry_hedges_won`), tagged
 * with `origin`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const hedgesWon: Metric.Metric.Counter<number> = internal.hedgesWon

/**
 * Hedges not sent for lack of budget (`http_retry_hedges_refused`), tagged
 * with `origin` and `budget`:
 * `"hedge"` for the hedge budget, `"retry"` for the `RetryBudget` in context.
 *
 * @since 0.2.0
 * @category metrics
 */
export const hedgesRefused: Metric.Metric.Counter<number> = internal.hedgesRefused

/**
 * The span attribute (`true`) on the span of an attempt sent as a hedge.
 *
 * @since 0.2.0
 * @category tracing
 */
export const spanAttribute: string = attempt.HEDGE_ATTRIBUTE

/**
 * A Layer that hedges the `HttpClient` in context (as `HttpRetry.withHedging`
 * does): put it over `NodeHttpRetry.layer()` or `HttpRetry.layer()`. Each
 * layer built keeps its own latencies and budget per origin.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> => {
  internal.settingsOf(options)
  return Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) => retry.withHedging(client, options) as HttpClient.HttpClient)
  )
}
