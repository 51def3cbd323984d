import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Predicate from "effect/Predicate"
import type * as HttpRetry from "../HttpRetry.js"
import type { Call } from "./call.js"
import { AttemptTimeout } from "./clientMarks.js"
import { StatusFailure } from "./decision.js"
import type { Cell } from "./nesting.js"
import * as Redact from "./redact.js"
import { redactError } from "./redactedErrors.js"
import * as RedactingTracer from "./redactingTracer.js"
import { withinTimeout } from "./timeout.js"

// Sending one attempt through the wrapped client: its span and trace, and
// its timeout.

const constTrue = () => true

/**
 * The span attribute of an attempt sent as a hedge (while another attempt of
 * the call was still waiting for its answer).
 *
 * @internal
 */
export const HEDGE_ATTRIBUTE = "http_retry.hedge"

const secretsByRedaction = new WeakMap<Redact.Redaction, RedactingTracer.Secrets>()

const secretsOf = (redaction: Redact.Redaction): RedactingTracer.Secrets => {
  let secrets = secretsByRedaction.get(redaction)
  if (secrets === undefined) {
    secrets = RedactingTracer.secretsOf(redaction)
    secretsByRedaction.set(redaction, secrets)
  }
  return secrets
}

/**
 * For a client that records no span of its own (`withNoSpans`): one client
 * span per attempt made here, with the platform's name and the URL redacted,
 * and the trace headers added to the request.
 */
const traced = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  hedge: boolean,
  send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const request = call.request
  const redaction = call.plan.redaction
  const attributes: Record<string, string | number | boolean> = Redact.spanAttributes(request, redaction)
  attributes["http.request.method"] = request.method
  if (n > 1) attributes["http.request.resend_count"] = n - 1
  if (hedge) attributes[HEDGE_ATTRIBUTE] = true
  const name = Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request)
  const parent = call.traceParent
  const options = parent === undefined ?
    { kind: "client" as const, captureStackTrace: false, attributes } :
    { kind: "client" as const, captureStackTrace: false, attributes, parent }
  return Effect.useSpan(name, options, (span) => {
    if (call.traceRoot === true && n === 1) call.traceParent = span
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
        onFailure: (error) => Effect.fail(redactError(error, redaction))
      })
    )
    // Spans made while sending are children of the attempt's.
    return Effect.withParentSpan(sending, span)
  })
}

/**
 * For a client that records its own span (any client made with the
 * platform's `HttpClient.make`): that span is the attempt's, with the
 * platform's name, kind and attributes, and its trace headers. The request
 * goes to the client as it is, so `withScope` and the rest of the platform's
 * per-request machinery keep working. The retry only adds
 * `http.request.resend_count` from the second attempt on, joins a call
 * started with no parent span to its first attempt's trace, and redacts the
 * span of a request that carries a secret.
 */
const annotated = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  hedge: boolean,
  sending: Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  if (n > 1) sending = Effect.annotateSpans(sending, "http.request.resend_count", n - 1)
  if (hedge) sending = Effect.annotateSpans(sending, HEDGE_ATTRIBUTE, true)
  if (call.traceParent !== undefined) sending = Effect.withParentSpan(sending, call.traceParent)
  const redaction = call.plan.redaction
  if (RedactingTracer.hasSecret(call.request, secretsOf(redaction))) {
    sending = Effect.withTracer(sending, RedactingTracer.forRequests(fiber.currentTracer, redaction))
  }
  return sending
}

/** The request as the wrapped client sent it (trace headers included), where the outcome carries it. */
const sentRequest = (outcome: unknown): HttpClientRequest.HttpClientRequest | undefined =>
  outcome instanceof StatusFailure ?
    outcome.response.request :
    HttpClientError.isHttpClientError(outcome) ?
    outcome.request :
    undefined

/**
 * A call with no parent span: its first attempt's span (read back from the
 * trace headers it sent) becomes the parent of the later attempts, so every
 * attempt of the call is in one trace. Only after a failed first attempt:
 * the happy path pays nothing.
 */
const joinTrace = <E>(call: Call<E>, n: number, outcome: unknown): void => {
  if (n !== 1 || call.traceRoot !== true || call.traceParent !== undefined) return
  const request = sentRequest(outcome)
  if (request === undefined) return
  const parent = HttpTraceContext.fromHeaders(request.headers)
  if (Option.isSome(parent)) call.traceParent = parent.value
}

/**
 * The answer a failure carries when it is the platform's `ResponseError` for a non-2xx status (`filterStatusOk`)
 * of this request (its method and URL: the request the error names may carry the attempt's trace headers). A 2xx
 * the caller's own `filterStatus` refused stays that error, and so does another request's: a side call inside the
 * send (an audit, a token fetch), or a redirect hop's, which cannot be told from one.
 */
const statusAnswer = (
  cause: Cause.Cause<unknown>,
  request: HttpClientRequest.HttpClientRequest
): HttpClientResponse.HttpClientResponse | undefined => {
  if (cause._tag !== "Fail") return undefined
  const error = cause.error
  if (!HttpClientError.isHttpClientError(error) || error._tag !== "ResponseError" || error.reason !== "StatusCode") {
    return undefined
  }
  const status = error.response.status
  return (status < 200 || status >= 300) && error.request.url === request.url &&
      error.request.method === request.method ?
    error.response :
    undefined
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
 * goes on with `k` once the attempt is over. `hedge` marks its span as a
 * hedge's (see hedge.ts); `abortWith` goes to a client that reads it, for a
 * hedge that wins to stop this attempt.
 *
 * A client that reads `AttemptTimeout` gets it in its context for the send
 * and enforces it itself; any other is bounded by `withinTimeout`. The
 * fiber refs (the context, and the tracer switch for `tracing: false`) are
 * set and put back around the attempt on every exit, interruption included
 * (an interrupted caller's finalizers run on this fiber after it).
 *
 * @internal
 */
export const sendAttempt = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  timeoutMillis: number,
  k: Continue,
  hedge = false,
  abortWith?: (abort: () => void) => void
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const max = call.plan.policy.maxAttempts
  const request = call.request
  const onTimeout = () =>
    new Cause.TimeoutException(
      `${call.label}: attempt ${n} of ${max} timed out after ${Duration.format(Duration.millis(timeoutMillis))}`
    )
  const disabledWhen = fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)
  const traceable = call.tracing && fiber.getFiberRef(FiberRef.currentTracerEnabled) && !disabledWhen(request)
  if (n === 1 && traceable) call.traceRoot = fiber.currentSpan === undefined
  // A hedge may go out beside the first attempt of a call with no parent span before that attempt's answer tells its
  // trace (joinTrace): the fiber the send runs on is noted, so that the hedge can take the span it is sending under.
  const send = n === 1 && call.traceRoot === true && call.hedge !== undefined && call.innerSpans ?
    (request: HttpClientRequest.HttpClientRequest) =>
      Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, unknown, unknown>((sending) => {
        call.sendFiber = sending
        return call.send(request)
      }) :
    call.send
  // A retrying client hidden under platform combinators finds this attempt's cell when it runs (nesting.ts): made with
  // the request as sent (with trace headers, when this attempt records the span). A client that reads
  // `AttemptTimeout` is one of ours or a transport, with no retrying client under it.
  let cell: Cell | undefined
  const bounded = (request: HttpClientRequest.HttpClientRequest) => {
    if (call.readsTimeout) return send(request)
    cell = { defer: call.defer, request, claimed: false }
    return withinTimeout(send(request), fiber, timeoutMillis, onTimeout, cell)
  }
  const sent = !traceable ?
    bounded(request) :
    call.innerSpans ?
    annotated(call, n, fiber, hedge, bounded(request)) :
    traced(call, n, fiber, hedge, bounded)
  const next = continuation(
    call,
    n,
    request,
    k,
    !call.readsTimeout && call.defer ? () => cell?.claimed === true : undefined
  )
  const silence = !call.tracing && call.innerSpans
  if (!call.readsTimeout && !silence) return Effect.matchCauseEffect(sent, next)
  return withAttemptRefs(
    fiber,
    sent,
    next,
    call.readsTimeout ? { millis: Math.max(1, Math.ceil(timeoutMillis)), onTimeout, abortWith } : undefined,
    silence ? disabledWhen : undefined
  )
}

/**
 * How the loop goes on from attempt `n`'s outcome, in one continuation: a
 * first attempt with no parent span gives its trace to the later ones
 * (`joinTrace`); a `ResponseError` with reason `StatusCode` (the wrapped
 * client's own `filterStatusOk`) is read as the answer it carries, retried
 * by its status as any answer is; and when a retrying client under this one
 * took the call over (`takenOver`, nesting.ts), its outcome is the call's, as
 * it is.
 */
const continuation = <E>(
  call: Call<E>,
  n: number,
  request: HttpClientRequest.HttpClientRequest,
  k: Continue,
  takenOver: (() => boolean) | undefined
): Continue => {
  const joining = call.traceRoot === true && n === 1
  const answered = joining ?
    (response: HttpClientResponse.HttpClientResponse) => {
      if (response.status < 200 || response.status >= 300) joinTrace(call, n, new StatusFailure(response))
      return k.onSuccess(response)
    } :
    k.onSuccess
  return {
    onSuccess: (response) => takenOver?.() === true ? Effect.succeed(response) : answered(response),
    onFailure: (cause) => {
      if (takenOver?.() === true) return Effect.failCause(cause)
      const answer = statusAnswer(cause, request)
      if (answer !== undefined) return answered(answer)
      if (joining) {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) joinTrace(call, n, failure.value)
      }
      return k.onFailure(cause)
    }
  }
}

/**
 * Runs `sent` with the attempt's fiber refs set on `fiber`, then `next`: the
 * attempt's `timeout` in the context (for a client that reads it), and the
 * platform's tracer switched off (`disabledWhen`, the caller's setting, for
 * `tracing: false` over a client that records spans). Put back on every exit,
 * interruption included: the caller's own finalizers (`onInterrupt`,
 * `ensuring`) run on this fiber after it, and must not see this attempt's
 * timeout or tracer switch.
 */
const withAttemptRefs = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  sent: Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>,
  next: Continue,
  timeout: HttpRetry.AttemptTimeout.Service | undefined,
  disabledWhen: Predicate.Predicate<HttpClientRequest.HttpClientRequest> | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const context = fiber.currentContext
  let set: Effect.Effect<void> = Effect.void
  let restore: Effect.Effect<void> = Effect.void
  if (timeout !== undefined) {
    set = FiberRef.set(FiberRef.currentContext, Context.add(context, AttemptTimeout, timeout))
    restore = FiberRef.set(FiberRef.currentContext, context)
  }
  if (disabledWhen !== undefined) {
    set = Effect.zipRight(set, FiberRef.set(HttpClient.currentTracerDisabledWhen, constTrue))
    restore = Effect.zipRight(restore, FiberRef.set(HttpClient.currentTracerDisabledWhen, disabledWhen))
  }
  return Effect.uninterruptibleMask((interruptible) =>
    Effect.matchCauseEffect(Effect.zipRight(set, interruptible(sent)), {
      onSuccess: (response) => Effect.zipRight(restore, interruptible(next.onSuccess(response))),
      onFailure: (cause) => Effect.zipRight(restore, interruptible(next.onFailure(cause)))
    })
  )
}
