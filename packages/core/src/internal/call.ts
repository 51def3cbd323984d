import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Effect from "effect/Effect"
import type * as HttpRetry from "../HttpRetry.js"
import type { Plan } from "./plan.js"

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
  readonly tracing: boolean
  /** Whether the wrapped client may record a span of its own, to be turned off for the attempt. */
  readonly innerSpans: boolean
  readonly enforce: HttpRetry.EnforceTimeout
}

/**
 * One call through a retrying client: its request, the plan in force for it
 * (the client's policy with the `withPolicy` overrides around the call), and
 * when it started.
 *
 * @internal
 */
export interface Call<E> extends Wrapped<E> {
  readonly plan: Plan
  readonly request: HttpClientRequest.HttpClientRequest
  readonly startMillis: number
  /** The method and redacted URL, for log lines and messages. */
  readonly label: string
}
