import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as TransportFailure from "../TransportFailure.js"
import type { Call } from "./call.js"
import { StatusFailure } from "./decision.js"
import { isRequestError, isTimeout } from "./redactedErrors.js"

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
    return classified === undefined ?
      `${failure.reason} error` :
      `${classified.kind}${classified.code === undefined ? "" : ` (${classified.code})`}`
  }
  return Predicate.hasProperty(failure, "_tag") ? String(failure._tag) : "error"
}

const bodyText = (request: HttpClientRequest.HttpClientRequest): string | undefined => {
  const body = request.body
  if (body._tag === "Uint8Array") return new TextDecoder().decode(body.body)
  if (body._tag === "Raw" && typeof body.body === "string") return body.body
  return undefined
}

/** @internal */
export const log = <E>(call: Call<E>, message: string): Effect.Effect<void> => {
  const plan = call.plan
  if (plan.logLevel === undefined) return Effect.void
  const logging = plan.policy.log as RetryPolicy.Logging
  const body = logging.body ? bodyText(call.request) : undefined
  return Effect.logWithLevel(plan.logLevel, body === undefined ? message : `${message} body=${JSON.stringify(body)}`)
}
