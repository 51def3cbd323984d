import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as TransportFailure from "../TransportFailure.js"
import type { Call } from "./call.js"
import { StatusFailure } from "./decision.js"
import * as Redact from "./redact.js"
import { describeCause, isRequestError, isTimeout } from "./redactedErrors.js"

/**
 * A wait as the retry's log line prints it: whole milliseconds below a second, then seconds to a tenth (`705ms`,
 * `1.2s`, `30s`), then minutes and seconds (`1m 30s`). A jittered wait is a fraction of a millisecond, which
 * `Duration.format` prints to the nanosecond (`704ms 799805ns`): more than a reader can use.
 *
 * @internal
 */
export const formatWait = (millis: number): string => {
  if (Math.round(millis) < 1000) return `${Math.round(millis)}ms`
  const tenths = Math.round(millis / 100) / 10
  if (tenths < 60) return `${tenths}s`
  const minutes = Math.floor(Math.round(millis / 1000) / 60)
  const seconds = Math.round(millis / 1000) - minutes * 60
  return seconds === 0 ? `${minutes}m` : `${minutes}m ${seconds}s`
}

/**
 * What an attempt ended with, for a log line.
 *
 * @internal
 */
export const describe = (failure: unknown): string => {
  if (failure instanceof StatusFailure) return `HTTP ${failure.response.status}`
  if (isTimeout(failure)) return "timed out"
  if (isRequestError(failure)) {
    const classified = TransportFailure.classify(failure)
    // What the cause says, code and address included: "connect ECONNREFUSED 127.0.0.1:4000".
    // On one line: OpenSSL's messages end with a newline.
    const said = (failure.description ?? describeCause(failure.cause) ?? classified?.code)?.replace(/\s+/g, " ").trim()
    return `${classified === undefined ? `${failure.reason} error` : classified.kind}${
      said === undefined ? "" : `: ${said}`
    }`
  }
  return Predicate.hasProperty(failure, "_tag") ? String(failure._tag) : "error"
}

const bodyText = (request: HttpClientRequest.HttpClientRequest, redaction: Redact.Redaction): string | undefined => {
  const body = request.body
  const contentType = request.headers["content-type"] ?? (body._tag === "Empty" ? undefined : body.contentType)
  if (body._tag === "Uint8Array") return Redact.bodyText(new TextDecoder().decode(body.body), contentType, redaction)
  if (body._tag === "Raw" && typeof body.body === "string") return Redact.bodyText(body.body, contentType, redaction)
  return undefined
}

/** @internal */
export const log = <E>(call: Call<E>, message: string): Effect.Effect<void> => {
  const plan = call.plan
  if (plan.logLevel === undefined) return Effect.void
  const logging = plan.policy.log as RetryPolicy.Logging
  // Log lines also become span events under a tracer: both see the body redacted.
  const body = logging.body ? bodyText(call.request, plan.redaction) : undefined
  return Effect.logWithLevel(plan.logLevel, body === undefined ? message : `${message} body=${JSON.stringify(body)}`)
}
