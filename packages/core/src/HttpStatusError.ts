/**
 * The typed failure for a final non-2xx answer: the equivalent of
 * `requests`' `raise_for_status`, carrying how many attempts were made and
 * why the retry gave up.
 *
 * @since 0.1.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redact from "./internal/redact.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@http-retry/core/HttpStatusError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Why no further attempt was made.
 *
 * - `NotRetryable`: the policy does not retry this status;
 * - `MethodNotRetried`: the method is not in the policy's `methods` and the
 *   request has no `Idempotency-Key`;
 * - `BodyNotReplayable`: the request body is a one-shot stream;
 * - `AttemptsExhausted`: `maxAttempts` were made;
 * - `DeadlineExceeded`: `maxElapsed` has passed, or the next wait would end
 *   past it or leave no more than `minTimeLeft` before it;
 * - `RetryAfterTooLong`: the server asked for a wait longer than `maxRetryAfter`,
 *   or one that would end past the deadline;
 * - `BudgetExhausted`: the policy would have retried, but the retry budget
 *   of the origin refused it (`RetryBudget`).
 * - `CircuitOpen`: the origin's circuit breaker was open, so the retry was not
 *   made (see `CircuitBreaker`).
 *
 * @since 0.1.0
 * @category models
 */
export type GiveUpReason =
  | "NotRetryable"
  | "MethodNotRetried"
  | "BodyNotReplayable"
  | "AttemptsExhausted"
  | "DeadlineExceeded"
  | "RetryAfterTooLong"
  | "BudgetExhausted"
  | "CircuitOpen"

const reasonText: Record<GiveUpReason, string> = {
  NotRetryable: "status not retried",
  MethodNotRetried: "method not retried",
  BodyNotReplayable: "body not replayable",
  AttemptsExhausted: "attempts exhausted",
  DeadlineExceeded: "deadline exceeded",
  RetryAfterTooLong: "Retry-After too long",
  BudgetExhausted: "retry budget exhausted",
  CircuitOpen: "circuit open"
}

/**
 * A final non-2xx answer. After retries run out the caller gets this same
 * error, never a wrapper, so `Effect.catchTag("HttpStatusError", ...)` works
 * whether or not a retry happened.
 *
 * `url` is already redacted (no userinfo, secret query values hidden), and
 * `message`, `JSON.stringify` and `util.inspect` show no header or query
 * secret; the raw `request` and `response` stay available as fields.
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  /** The request as sent, unredacted: do not log it as it is. */
  readonly request: HttpClientRequest.HttpClientRequest
  /** The final response, body unread. */
  readonly response: HttpClientResponse.HttpClientResponse
  /** The final status. */
  readonly status: number
  /** The request method. */
  readonly method: string
  /** The request URL, redacted. */
  readonly url: string
  /** How many attempts were made, the final one included. */
  readonly attempts: number
  /**
   * The `Retry-After` the retry gave up on, when there was a valid one: the
   * final response's, or a longer one still held from an answer a hedged
   * round dropped.
   */
  readonly retryAfter: Option.Option<Duration.Duration>
  /** Why no further attempt was made. */
  readonly reason: GiveUpReason
}> {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const hint = Option.match(this.retryAfter, {
      onNone: () => "",
      onSome: (d) => `, Retry-After ${Duration.format(d)}`
    })
    const tries = this.attempts === 1 ? "1 attempt" : `${this.attempts} attempts`
    return `HTTP ${this.status} for ${this.method} ${this.url} after ${tries} (${reasonText[this.reason]}${hint})`
  }

  /**
   * @since 0.1.0
   */
  override toJSON(): unknown {
    const redaction = redactionOf(this)
    return {
      _tag: this._tag,
      message: this.message,
      status: this.status,
      method: this.method,
      url: this.url,
      attempts: this.attempts,
      reason: this.reason,
      retryAfter: Option.getOrUndefined(Option.map(this.retryAfter, Duration.format)),
      requestHeaders: Redact.headers(this.request.headers, redaction),
      responseHeaders: Redact.headers(this.response.headers, redaction)
    }
  }

  /**
   * @since 0.1.0
   */
  override [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }

  /**
   * @since 0.1.0
   */
  override toString(): string {
    return `HttpStatusError: ${this.message}`
  }
}

/**
 * The redaction an error was made with, on the error itself (not in a map
 * keyed by it: an error failed under a span reaches the caller as Effect's
 * proxy of it, which a map would not know).
 */
const RedactionKey: unique symbol = Symbol.for("@http-retry/core/HttpStatusError/redaction")
const redactionOf = (error: HttpStatusError): Redact.Redaction =>
  (error as unknown as { readonly [RedactionKey]?: Redact.Redaction })[RedactionKey] ?? Redact.defaults

/**
 * Builds the error for a response, redacting its URL with the default secret
 * names plus any given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly attempts?: number | undefined
  readonly retryAfter?: Option.Option<Duration.Duration> | undefined
  readonly reason?: GiveUpReason | undefined
  readonly redact?: { readonly headers?: ReadonlyArray<string>; readonly query?: ReadonlyArray<string> } | undefined
}): HttpStatusError => {
  const redaction = options.redact === undefined ?
    Redact.defaults :
    Redact.make(options.redact.headers ?? [], options.redact.query ?? [])
  return makeWith(
    options.response,
    options.attempts ?? 1,
    options.retryAfter ?? Option.none(),
    options.reason ?? "NotRetryable",
    redaction
  )
}

/** @internal */
export const makeWith = (
  response: HttpClientResponse.HttpClientResponse,
  attempts: number,
  retryAfter: Option.Option<Duration.Duration>,
  reason: GiveUpReason,
  redaction: Redact.Redaction
): HttpStatusError => {
  const request = response.request
  const error = new HttpStatusError({
    request,
    response,
    status: response.status,
    method: request.method,
    url: Redact.requestUrl(request, redaction, true),
    attempts,
    retryAfter,
    reason
  })
  if (redaction !== Redact.defaults) {
    Object.defineProperty(error, RedactionKey, { value: redaction, enumerable: false })
  }
  return error
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isHttpStatusError = (u: unknown): u is HttpStatusError => Predicate.hasProperty(u, TypeId)
