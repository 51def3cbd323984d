import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type { Call } from "./call.js"
import * as Redact from "./redact.js"
import { isRequestError, redactRequestError } from "./redactedErrors.js"

const constTrue = () => true

/**
 * One client span per attempt, as OpenTelemetry asks of resends, carrying
 * `http.request.resend_count` from the second attempt on.
 */
const traced = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>,
  disabledWhen: (request: HttpClientRequest.HttpClientRequest) => boolean
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const request = call.request
  if (!call.tracing || !fiber.getFiberRef(FiberRef.currentTracerEnabled) || disabledWhen(request)) {
    return send(request)
  }
  const redaction = call.plan.redaction
  const attributes = Redact.spanAttributes(request, redaction)
  attributes["http.request.method"] = request.method
  if (n > 1) attributes["http.request.resend_count"] = n - 1
  const name = Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request)
  return Effect.useSpan(name, { kind: "client", captureStackTrace: false, attributes }, (span) => {
    const sent = fiber.getFiberRef(HttpClient.currentTracerPropagation) ?
      HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span)) :
      request
    const sending = send(sent).pipe(
      Effect.matchEffect({
        onSuccess: (response) => {
          span.attribute("http.response.status_code", response.status)
          return Effect.succeed(response)
        },
        // The span records the error it ends with: it must be the redacted one.
        onFailure: (error) => Effect.fail(isRequestError(error) ? redactRequestError(error, redaction) : error)
      })
    )
    // Spans made while sending are children of the attempt's.
    return Effect.withParentSpan(sending, span)
  })
}

/**
 * How the loop goes on from an attempt's outcome.
 *
 * @internal
 */
export interface Continue {
  readonly onSuccess: (
    response: HttpClientResponse.HttpClientResponse
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
  readonly onFailure: (
    cause: Cause.Cause<unknown>
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
}

/**
 * Sends attempt `n` of `call` on `fiber`, bounded by `timeoutMillis`, and
 * goes on with `k` once the attempt is over.
 *
 * The wrapped client's own span is turned off while the attempt is sent: it
 * would record the URL with its userinfo and query secrets, and the retry
 * records the attempt's span itself, redacted. The fiber ref is set and put
 * back around the attempt rather than with `Effect.locally`, which costs a
 * release step per request; an interrupted attempt leaves it set on a fiber
 * that is ending.
 *
 * @internal
 */
export const sendAttempt = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  timeoutMillis: number,
  k: Continue
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const max = call.plan.policy.maxAttempts
  const disabledWhen = fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)
  const sent = traced(call, n, fiber, (request) =>
    call.enforce(
      call.send(request),
      Duration.millis(timeoutMillis),
      () =>
        new Cause.TimeoutException(
          `${call.label}: attempt ${n} of ${max} timed out after ${Duration.format(Duration.millis(timeoutMillis))}`
        )
    ), disabledWhen)
  if (!call.innerSpans) return Effect.matchCauseEffect(sent, k)
  const restore = FiberRef.set(HttpClient.currentTracerDisabledWhen, disabledWhen)
  return Effect.matchCauseEffect(
    Effect.zipRight(FiberRef.set(HttpClient.currentTracerDisabledWhen, constTrue), sent),
    {
      onSuccess: (response) => Effect.zipRight(restore, k.onSuccess(response)),
      onFailure: (cause) => Effect.zipRight(restore, k.onFailure(cause))
    }
  )
}
