import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Duration from "effect/Duration"
import type * as HttpStatusError from "../HttpStatusError.js"
import * as RetryAfter from "../RetryAfter.js"
import * as TransportFailure from "../TransportFailure.js"
import type { Plan } from "./plan.js"
import { isRequestError, isTimeout } from "./redactedErrors.js"

/**
 * A non-2xx answer, on its way to the retry decision.
 *
 * @internal
 */
export class StatusFailure {
  readonly _tag = "StatusFailure"
  constructor(readonly response: HttpClientResponse.HttpClientResponse) {}
}

/**
 * What went wrong with an attempt, as far as the decision cares.
 *
 * @internal
 */
export type Failure =
  | { readonly _tag: "Status"; readonly status: number }
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Transport"; readonly transient: boolean }
  | { readonly _tag: "Other" }

/** @internal */
export const classify = (failure: unknown): Failure => {
  if (failure instanceof StatusFailure) return { _tag: "Status", status: failure.response.status }
  if (isTimeout(failure)) return { _tag: "Timeout" }
  if (isRequestError(failure)) {
    const classified = TransportFailure.classify(failure)
    return { _tag: "Transport", transient: classified !== undefined && TransportFailure.isTransient(classified.kind) }
  }
  return { _tag: "Other" }
}

/** @internal */
export type Source = "backoff" | "Retry-After"

/**
 * What to do after a failed attempt.
 *
 * @internal
 */
export type Decision =
  | {
    readonly _tag: "Retry"
    readonly delayMillis: number
    readonly source: Source
    /**
     * How long the work before the wait (the failed body's drain) may take
     * with the wait still ending early enough for the next attempt to start
     * with more than `minTimeLeft` left.
     */
    readonly spareMillis: number
  }
  | { readonly _tag: "GiveUp"; readonly reason: HttpStatusError.GiveUpReason }

/**
 * What is known once an attempt has failed.
 *
 * @internal
 */
export interface Input {
  readonly plan: Plan
  readonly request: HttpClientRequest.HttpClientRequest
  /** The attempt that failed, from 1. */
  readonly attempt: number
  /** Time since the call started, at the failure. */
  readonly elapsedMillis: number
  /** How long the failed attempt took, from its start to its failure. */
  readonly lastAttemptMillis: number
  readonly failure: Failure
  /** The backoff's wait before the next attempt (jitter applied). */
  readonly backoffMillis: number
  /** The wait a valid `Retry-After` header asks for, if the answer has one. */
  readonly retryAfterMillis: number | undefined
  /**
   * What is left of the wait a `Retry-After` on a 429 or 503 asked for on an answer dropped from this hedged round
   * (hedge.ts), whatever the round's own failure: the server asked for it, and it still holds.
   */
  readonly retryAfterHeldMillis?: number | undefined
}

const isReplayable = (request: HttpClientRequest.HttpClientRequest): boolean => {
  const body = request.body
  if (body._tag === "Stream") return false
  if (body._tag === "Raw") {
    return typeof body.body === "string" || body.body instanceof Uint8Array || body.body instanceof ArrayBuffer
  }
  return true
}

const methodRetried = (plan: Plan, request: HttpClientRequest.HttpClientRequest): boolean =>
  plan.methods.has(request.method) || request.headers["idempotency-key"] !== undefined

/**
 * The wait an answer's `Retry-After` asks for, if it has a valid one (read on the clock at `now`).
 *
 * @internal
 */
export const retryAfterOf = (
  response: HttpClientResponse.HttpClientResponse,
  now: number
): Duration.Duration | undefined => {
  const header = response.headers["retry-after"]
  if (header === undefined) return undefined
  const parsed = RetryAfter.parse(header, now)
  return parsed._tag === "Delay" ? parsed.delay : undefined
}

/**
 * Whether the policy waits as an answer with this status asks (`Retry-After` on 429 and 503, unless the policy's
 * `retryAfter` is off).
 *
 * @internal
 */
export const honoursRetryAfter = (plan: Plan, status: number): boolean =>
  plan.policy.retryAfter && (status === 429 || status === 503)

/**
 * Whether the policy retries this kind of failure (whatever the limits say).
 *
 * @internal
 */
export const retryable = (plan: Plan, failure: Failure): boolean => {
  switch (failure._tag) {
    case "Status":
      return plan.statuses(failure.status)
    case "Timeout":
      return plan.policy.retryOn.transport
    case "Transport":
      return plan.policy.retryOn.transport && failure.transient
    case "Other":
      return false
  }
}

const giveUp = (reason: HttpStatusError.GiveUpReason): Decision => ({ _tag: "GiveUp", reason })

/**
 * Retry (after which wait, from which source) or give up (for which reason).
 * The first rule that applies wins, in the order written.
 *
 * Each limit has one owner, this module: the number of attempts
 * (`maxAttempts`), the deadline (`maxElapsed`: whether another attempt
 * starts, here, and how long an attempt may run, `attemptTimeoutMillis`) and
 * the longest `Retry-After` honoured (`maxRetryAfter`). The backoff only says
 * how long to wait; the loop only carries out what this returns.
 *
 * @internal
 */
export const decide = (input: Input): Decision => {
  const { failure, plan } = input
  const policy = plan.policy
  if (!retryable(plan, failure)) return giveUp("NotRetryable")
  if (!methodRetried(plan, input.request)) return giveUp("MethodNotRetried")
  if (!isReplayable(input.request)) return giveUp("BodyNotReplayable")
  if (input.attempt >= policy.maxAttempts) return giveUp("AttemptsExhausted")
  if (input.elapsedMillis >= plan.maxElapsedMillis) return giveUp("DeadlineExceeded")
  let delayMillis = input.backoffMillis
  let source: Source = "backoff"
  const retryAfter = input.retryAfterMillis
  if (retryAfter !== undefined && failure._tag === "Status" && honoursRetryAfter(plan, failure.status)) {
    if (retryAfter > plan.maxRetryAfterMillis) return giveUp("RetryAfterTooLong")
    if (retryAfter > 0) {
      delayMillis = retryAfter
      source = "Retry-After"
    }
  }
  const held = input.retryAfterHeldMillis
  if (held !== undefined && policy.retryAfter && held > delayMillis) {
    if (held > plan.maxRetryAfterMillis) return giveUp("RetryAfterTooLong")
    delayMillis = held
    source = "Retry-After"
  }
  const left = plan.maxElapsedMillis - input.elapsedMillis - delayMillis
  if (left <= 0) return giveUp(source === "Retry-After" ? "RetryAfterTooLong" : "DeadlineExceeded")
  // An attempt that could only be cut at the deadline would turn a retryable answer into a timeout: not started.
  const spareMillis = left - minTimeLeftMillis(plan, input.lastAttemptMillis)
  if (spareMillis <= 0) return giveUp("DeadlineExceeded")
  return { _tag: "Retry", delayMillis, source, spareMillis }
}

/**
 * Another attempt starts only with more than this left before the deadline:
 * `minTimeLeft`, or under `"lastAttempt"` as long as the failed attempt took,
 * at most `attemptTimeout`.
 *
 * @internal
 */
export const minTimeLeftMillis = (plan: Plan, lastAttemptMillis: number): number =>
  plan.minTimeLeftMillis === undefined ?
    Math.min(plan.attemptTimeoutMillis, lastAttemptMillis) :
    plan.minTimeLeftMillis

/**
 * How long an attempt started `elapsedMillis` into the call may run: its
 * `attemptTimeout`, cut to the time left before the deadline.
 *
 * @internal
 */
export const attemptTimeoutMillis = (plan: Plan, elapsedMillis: number): number =>
  Math.max(0, Math.min(plan.attemptTimeoutMillis, plan.maxElapsedMillis - elapsedMillis))

/**
 * Whether the policy may send `request` more than once (its method is retried
 * or it has an `Idempotency-Key`, and its body can be sent again): what a
 * hedge needs.
 *
 * @internal
 */
export const mayResend = (plan: Plan, request: HttpClientRequest.HttpClientRequest): boolean =>
  methodRetried(plan, request) && isReplayable(request)
