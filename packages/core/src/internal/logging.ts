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
    const said = failure.description ?? describeCause(failure.cause) ?? classified?.code
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
