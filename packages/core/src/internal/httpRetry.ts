import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type * as HttpRetry from "../HttpRetry.js"
import * as HttpStatusError from "../HttpStatusError.js"
import * as RetryAfter from "../RetryAfter.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as TransportFailure from "../TransportFailure.js"
import * as Redact from "./redact.js"
import * as RedactingTracer from "./redactingTracer.js"
import * as policyInternal from "./retryPolicy.js"

// --- Overrides ----------------------------------------------------------------

/** @internal */
export class CurrentOverrides extends Context.Reference<CurrentOverrides>()(
  "@http-retry/core/HttpRetry/CurrentOverrides",
  { defaultValue: (): ReadonlyArray<RetryPolicy.Options> => [] }
) {}

/** @internal */
export const withPolicy = dual<
  (overrides: RetryPolicy.Options) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: RetryPolicy.Options) => Effect.Effect<A, E, R>
>(2, (self, overrides) => {
  // Validate now, against the defaults, so a bad field fails where it is written.
  policyInternal.merge(policyInternal.defaults, overrides)
  return withValidOverrides(self, overrides)
})

const withValidOverrides = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  overrides: RetryPolicy.Options
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    CurrentOverrides,
    (current) => Effect.provideService(self, CurrentOverrides, [...current, overrides])
  )

// --- Compiled policy ----------------------------------------------------------

/**
 * Everything the retry loop needs, computed once per policy.
 */
interface Plan {
  readonly policy: RetryPolicy.RetryPolicy
  readonly schedule: Schedule.Schedule<Duration.Duration, unknown>
  readonly methods: ReadonlySet<string>
  readonly statuses: (status: number) => boolean
  readonly maxElapsedMillis: number
  readonly attemptTimeoutMillis: number
  readonly maxRetryAfterMillis: number
  readonly redaction: Redact.Redaction
  readonly secrets: RedactingTracer.Secrets
  readonly logLevel: LogLevel.LogLevel | undefined
  readonly merged: WeakMap<ReadonlyArray<RetryPolicy.Options>, Plan>
}

const plans = new WeakMap<RetryPolicy.RetryPolicy, Plan>()

const planOf = (policy: RetryPolicy.RetryPolicy): Plan => {
  let plan = plans.get(policy)
  if (plan === undefined) {
    plan = {
      policy,
      schedule: policyInternal.toSchedule(policy),
      methods: new Set(policy.methods),
      statuses: (status) => policyInternal.retriesStatus(policy, status),
      maxElapsedMillis: Duration.toMillis(policy.maxElapsed),
      attemptTimeoutMillis: Duration.toMillis(policy.attemptTimeout),
      maxRetryAfterMillis: Duration.toMillis(policy.maxRetryAfter),
      redaction: Redact.make(policy.redact.headers, policy.redact.query),
      secrets: RedactingTracer.secretsOf(Redact.make(policy.redact.headers, policy.redact.query)),
      logLevel: policy.log === false ? undefined : LogLevel.fromLiteral(policy.log.level),
      merged: new WeakMap()
    }
    plans.set(policy, plan)
  }
  return plan
}

const planWith = (base: Plan, overrides: ReadonlyArray<RetryPolicy.Options>): Plan => {
  if (overrides.length === 0) return base
  let plan = base.merged.get(overrides)
  if (plan === undefined) {
    plan = planOf(overrides.reduce(policyInternal.merge, base.policy))
    base.merged.set(overrides, plan)
  }
  return plan
}

// --- Failures -----------------------------------------------------------------

/** A non-2xx answer, on its way to the retry decision. */
class StatusFailure {
  readonly _tag = "StatusFailure"
  constructor(readonly response: HttpClientResponse.HttpClientResponse) {}
}

/**
 * The platform's `RequestError`, unchanged in type and fields, whose message,
 * JSON and inspection show the URL without userinfo or secret query values.
 *
 * @internal
 */
export class RedactedRequestError extends HttpClientError.RequestError {
  declare readonly redactedUrl: string
  override get methodAndUrl(): string {
    return `${this.request.method} ${this.redactedUrl}`
  }
  override toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientError",
      _tag: this._tag,
      reason: this.reason,
      message: this.message,
      method: this.request.method,
      url: this.redactedUrl
    }
  }
  override [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
  override toString(): string {
    return `RequestError: ${this.message}`
  }
}

const redactRequestError = (error: HttpClientError.RequestError, redaction: Redact.Redaction): RedactedRequestError => {
  if (error instanceof RedactedRequestError) return error
  return withRedactedUrl(
    new RedactedRequestError({
      request: error.request,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    }),
    redaction
  )
}

/** Keeps the redacted URL off the error's own fields, so JSON and inspection show only what `toJSON` picks. */
const withRedactedUrl = <A extends { readonly request: HttpClientRequest.HttpClientRequest }>(
  error: A,
  redaction: Redact.Redaction
): A =>
  Object.defineProperty(error, "redactedUrl", {
    value: Redact.requestUrl(error.request, redaction, true),
    enumerable: false
  })

/**
 * The platform's `ResponseError` (a body that could not be read or decoded),
 * unchanged in type and fields, whose message, JSON and inspection show the
 * URL redacted and no header: the platform's own would print the request's
 * URL with its userinfo and query, and both sides' headers, cookies included.
 *
 * @internal
 */
export class RedactedResponseError extends HttpClientError.ResponseError {
  declare readonly redactedUrl: string
  override get methodAndUrl(): string {
    return `${this.request.method} ${this.redactedUrl}`
  }
  override toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientError",
      _tag: this._tag,
      reason: this.reason,
      message: this.message,
      status: this.response.status,
      method: this.request.method,
      url: this.redactedUrl
    }
  }
  override [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
  override toString(): string {
    return `ResponseError: ${this.message}`
  }
}

const redactResponseError = (
  error: HttpClientError.ResponseError,
  redaction: Redact.Redaction
): RedactedResponseError => {
  if (error instanceof RedactedResponseError) return error
  return withRedactedUrl(
    new RedactedResponseError({
      request: error.request,
      response: error.response,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    }),
    redaction
  )
}

/**
 * A response as the retry hands it out (to the caller, in `HttpStatusError`
 * and to `onRetry`): the same answer, whose body errors are
 * `RedactedResponseError`s and whose JSON and inspection redact the URL and
 * the headers. Reading the body of a 200 that is cut short is the caller's
 * business, but the error it gets must not carry the request's secrets.
 *
 * @internal
 */
export class RedactedResponse implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  constructor(
    /** The response as the wrapped client returned it. */
    readonly unredacted: HttpClientResponse.HttpClientResponse,
    readonly redaction: Redact.Redaction
  ) {}
  get request() {
    return this.unredacted.request
  }
  get status() {
    return this.unredacted.status
  }
  get headers() {
    return this.unredacted.headers
  }
  get cookies() {
    return this.unredacted.cookies
  }
  get remoteAddress() {
    return this.unredacted.remoteAddress
  }
  get json() {
    return Effect.mapError(this.unredacted.json, (e) => redactResponseError(e, this.redaction))
  }
  get text() {
    return Effect.mapError(this.unredacted.text, (e) => redactResponseError(e, this.redaction))
  }
  get urlParamsBody() {
    return Effect.mapError(this.unredacted.urlParamsBody, (e) => redactResponseError(e, this.redaction))
  }
  get arrayBuffer() {
    return Effect.mapError(this.unredacted.arrayBuffer, (e) => redactResponseError(e, this.redaction))
  }
  get formData() {
    return Effect.mapError(this.unredacted.formData, (e) => redactResponseError(e, this.redaction))
  }
  get stream() {
    return Stream.mapError(this.unredacted.stream, (e) => redactResponseError(e, this.redaction))
  }
  toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientResponse",
      request: { method: this.request.method, url: Redact.requestUrl(this.request, this.redaction, true) },
      status: this.status,
      headers: Redact.headers(this.headers, this.redaction)
    }
  }
  toString(): string {
    return JSON.stringify(this.toJSON(), null, 2)
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

const redactResponse = (
  response: HttpClientResponse.HttpClientResponse,
  redaction: Redact.Redaction
): HttpClientResponse.HttpClientResponse =>
  response instanceof RedactedResponse ? response : new RedactedResponse(response, redaction)

/** @internal */
export const isTimeout = (u: unknown): u is Cause.TimeoutException => Cause.isTimeoutException(u)

const isRequestError = (u: unknown): u is HttpClientError.RequestError =>
  HttpClientError.isHttpClientError(u) && u._tag === "RequestError"

// --- Client marks -------------------------------------------------------------

/** @internal */
export class AttemptTimeout extends Context.Tag("@http-retry/core/HttpRetry/AttemptTimeout")<
  AttemptTimeout,
  HttpRetry.AttemptTimeout.Service
>() {}

/** @internal */
export const ReadsAttemptTimeoutTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/ReadsAttemptTimeout")

/** @internal */
export const readsAttemptTimeout = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E, R> & HttpRetry.ReadsAttemptTimeout => {
  // The same client, answering one more question: no extra step per request.
  const client = Object.create(self)
  Object.defineProperty(client, ReadsAttemptTimeoutTypeId, { value: true, enumerable: false })
  return client
}

/** @internal */
export const NoSpansTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/NoSpans")

/** @internal */
export const withNoSpans = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E, R> & HttpRetry.RecordsNoSpans => {
  const client = Object.create(self)
  Object.defineProperty(client, NoSpansTypeId, { value: true, enumerable: false })
  return client
}

/** A client built on `from` keeps what `from` told the retry about itself. */
const keepMarks = <C>(from: unknown, to: C): C => {
  for (const id of [ReadsAttemptTimeoutTypeId, NoSpansTypeId]) {
    if (Predicate.hasProperty(from, id)) Object.defineProperty(to, id, { value: from[id], enumerable: false })
  }
  return to
}

// --- The loop -----------------------------------------------------------------

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

const DRAIN_LIMIT = 64 * 1024

/**
 * Reads and discards a failed attempt's body so its connection goes back to
 * the pool, and tells whether it was read to the end. A body larger than
 * `DRAIN_LIMIT`, or one that stalls, is cut off instead: ending the read
 * early destroys the socket, which is cheaper than reading megabytes of an
 * error page. A body that fails is expected here and ignored.
 */
const drain = (response: HttpClientResponse.HttpClientResponse, timeoutMillis: number): Effect.Effect<boolean> => {
  const length = Number(response.headers["content-length"] ?? Number.NaN)
  const timeout = Duration.millis(timeoutMillis)
  // A small body of known length (the usual error page) is read in one go, without a stream's machinery.
  if (length <= DRAIN_LIMIT) {
    return Effect.match(Effect.timeout(response.arrayBuffer, timeout), {
      onFailure: () => false,
      onSuccess: () => true
    })
  }
  return Stream.runFoldWhile(response.stream, 0, (n) => n <= DRAIN_LIMIT, (n, chunk) => n + chunk.length).pipe(
    Effect.timeout(timeout),
    Effect.match({ onFailure: () => false, onSuccess: (n) => n <= DRAIN_LIMIT }),
    // The stream's own fiber must not log the failure it ends with as an unhandled error.
    Effect.withUnhandledErrorLogLevel(Option.none())
  )
}

/** Sleeps until `deadline` on the fiber's clock (at once if it has passed). */
const sleepUntil = (deadline: number): Effect.Effect<void> =>
  Effect.clockWith((clock) => {
    const left = deadline - clock.unsafeCurrentTimeMillis()
    return left > 0 ? clock.sleep(Duration.millis(left)) : Effect.void
  })

const describe = (failure: unknown): string => {
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

type Source = "backoff" | "Retry-After"

interface Attempt<E> {
  readonly plan: Plan
  readonly request: HttpClientRequest.HttpClientRequest
  /** Sends one attempt through the wrapped client. */
  readonly send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E, unknown>
  readonly startMillis: number
  readonly onRetry: ((info: HttpRetry.RetryInfo<E>) => Effect.Effect<void, never, unknown>) | undefined
  readonly tracing: boolean
  /** Whether the wrapped client records a span of its own per request (unless marked with `withNoSpans`). */
  readonly innerSpans: boolean
  /** Whether the wrapped client reads `AttemptTimeout` (marked with `readsAttemptTimeout`). */
  readonly readsTimeout: boolean
  /** The call started with no parent span: its later attempts join the first attempt's trace. */
  readonly root: boolean
  /** The first attempt's span, as parent of the later ones, for a call started with no parent span. */
  callParent: Tracer.AnySpan | undefined
  readonly label: string
  scheduleState: unknown
}

const log = <E>(self: Attempt<E>, message: string): Effect.Effect<void> => {
  const plan = self.plan
  if (plan.logLevel === undefined) return Effect.void
  const logging = plan.policy.log as RetryPolicy.Logging
  const body = logging.body ? bodyText(self.request) : undefined
  return Effect.logWithLevel(plan.logLevel, body === undefined ? message : `${message} body=${JSON.stringify(body)}`)
}

const constTrue = () => true

/**
 * For a client that records no span of its own (`withNoSpans`): one client
 * span per attempt made here, with the platform's name and the URL redacted,
 * and the trace headers added to the request.
 */
const traced = <E>(
  self: Attempt<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const request = self.request
  const redaction = self.plan.redaction
  const attributes = Redact.spanAttributes(request, redaction)
  attributes["http.request.method"] = request.method
  if (n > 1) attributes["http.request.resend_count"] = n - 1
  const name = Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request)
  const options = self.callParent === undefined ?
    { kind: "client" as const, captureStackTrace: false, attributes } :
    { kind: "client" as const, captureStackTrace: false, attributes, parent: self.callParent }
  return Effect.useSpan(name, options, (span) => {
    if (self.root && n === 1) self.callParent = span
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
 * For a client that records its own span (any client made with the
 * platform's `HttpClient.make`): that span is the attempt's, with the
 * platform's name, kind and attributes, and its trace headers; the request
 * goes to the client as it is, so `withScope` and the rest of the platform's
 * per-request machinery keep working. The retry only adds
 * `http.request.resend_count` from the second attempt on, joins a call
 * started with no parent span to its first attempt's trace, and redacts the
 * span of a request that carries a secret.
 */
const annotated = <E>(
  self: Attempt<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  sending: Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  if (n > 1) sending = Effect.annotateSpans(sending, "http.request.resend_count", n - 1)
  if (self.callParent !== undefined) sending = Effect.withParentSpan(sending, self.callParent)
  const plan = self.plan
  if (RedactingTracer.hasSecret(self.request, plan.secrets)) {
    sending = Effect.withTracer(
      sending,
      RedactingTracer.make(
        fiber.currentTracer,
        plan.redaction,
        (error) => isRequestError(error) ? redactRequestError(error, plan.redaction) : error
      )
    )
  }
  return sending
}

/**
 * Attempt `n`, started at `now` on `fiber`'s clock: its timeout is the
 * smaller of `attemptTimeout` and the time left before the deadline.
 *
 * A client that reads `AttemptTimeout` gets it in its context for the send
 * and enforces it itself; any other is bounded by `Effect.timeoutFail`. The
 * fiber refs (the context, and the tracer switch for `tracing: false`) are
 * set and put back around the attempt rather than with `Effect.locally`,
 * which costs a release step per request; an interrupted attempt leaves them
 * set on a fiber that is ending.
 */
const attempt = <E>(
  self: Attempt<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  now: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const plan = self.plan
  const left = plan.maxElapsedMillis - (now - self.startMillis)
  const timeoutMillis = Math.max(0, Math.min(plan.attemptTimeoutMillis, left))
  const max = plan.policy.maxAttempts
  const onTimeout = () =>
    new Cause.TimeoutException(
      `${self.label}: attempt ${n} of ${max} timed out after ${Duration.format(Duration.millis(timeoutMillis))}`
    )
  const request = self.request
  const traceable = self.tracing && fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
    !fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
  const bounded = (request: HttpClientRequest.HttpClientRequest) =>
    self.readsTimeout ?
      self.send(request) :
      Effect.timeoutFail(self.send(request), { duration: Duration.millis(timeoutMillis), onTimeout })
  const sent = !traceable ?
    bounded(request) :
    self.innerSpans ?
    annotated(self, n, fiber, bounded(request)) :
    traced(self, n, fiber, bounded)
  const silence = !self.tracing && self.innerSpans
  if (!self.readsTimeout && !silence) return Effect.matchCauseEffect(sent, settle(self, n, undefined))
  const context = fiber.currentContext
  const disabledWhen = fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)
  let set: Effect.Effect<void> = Effect.void
  let restore: Effect.Effect<void> = Effect.void
  if (self.readsTimeout) {
    set = FiberRef.set(
      FiberRef.currentContext,
      Context.add(context, AttemptTimeout, { millis: Math.max(1, Math.ceil(timeoutMillis)), onTimeout })
    )
    restore = FiberRef.set(FiberRef.currentContext, context)
  }
  if (silence) {
    set = Effect.zipRight(set, FiberRef.set(HttpClient.currentTracerDisabledWhen, constTrue))
    restore = Effect.zipRight(restore, FiberRef.set(HttpClient.currentTracerDisabledWhen, disabledWhen))
  }
  return Effect.matchCauseEffect(Effect.zipRight(set, sent), settle(self, n, restore))
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
 * attempt of the call is in one trace. Only on the way to a retry: the
 * happy path pays nothing.
 */
const joinTrace = <E>(self: Attempt<E>, n: number, outcome: unknown): void => {
  if (n !== 1 || !self.root || self.callParent !== undefined || !self.tracing) return
  const request = sentRequest(outcome)
  if (request === undefined) return
  const parent = HttpTraceContext.fromHeaders(request.headers)
  if (Option.isSome(parent)) self.callParent = parent.value
}

/**
 * Routes an attempt's outcome, once `restore` (if any) has put the fiber's
 * settings back: a 2xx is the answer, anything else goes to `decide`.
 */
const settle = <E>(self: Attempt<E>, n: number, restore: Effect.Effect<void> | undefined) => {
  const plan = self.plan
  const after = <A, E2, R>(effect: Effect.Effect<A, E2, R>) =>
    restore === undefined ? effect : Effect.zipRight(restore, effect)
  return {
    onSuccess: (unredacted: HttpClientResponse.HttpClientResponse) => {
      const response = redactResponse(unredacted, plan.redaction)
      if (response.status < 200 || response.status >= 300) {
        const failure = new StatusFailure(response)
        joinTrace(self, n, failure)
        return after(decide(self, n, failure))
      }
      return after(
        plan.logLevel === undefined ?
          Effect.succeed(response) :
          Effect.as(log(self, `${self.label}: attempt ${n}/${plan.policy.maxAttempts} -> ${response.status}`), response)
      )
    },
    onFailure: (cause: Cause.Cause<unknown>) => {
      // As `matchEffect`: a defect is not a failure to retry.
      const failure = Cause.isDie(cause) ? Option.none() : Cause.failureOption(cause)
      if (Option.isSome(failure)) joinTrace(self, n, failure.value)
      return after(Option.isSome(failure) ? decide(self, n, failure.value) : Effect.failCause(cause))
    }
  }
}

const clockOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Clock.Clock =>
  Context.get(fiber.currentDefaultServices, Clock.Clock)

/** A later attempt, after a wait: read the clock when it starts. */
const run = <E>(self: Attempt<E>, n: number): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => attempt(self, n, fiber, clockOf(fiber).unsafeCurrentTimeMillis()))

const decide = <E>(
  self: Attempt<E>,
  n: number,
  failure: unknown
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.clockWith((clock) => {
    const plan = self.plan
    const policy = plan.policy
    const max = policy.maxAttempts
    const now = clock.unsafeCurrentTimeMillis()
    const status = failure instanceof StatusFailure ? failure.response.status : undefined

    let hint = Option.none<Duration.Duration>()
    let retryAfterMillis: number | undefined
    if (status !== undefined) {
      const header = failure instanceof StatusFailure ? failure.response.headers["retry-after"] : undefined
      if (header !== undefined) {
        const parsed = RetryAfter.parse(header, now)
        if (parsed._tag === "Delay") {
          hint = Option.some(parsed.delay)
          retryAfterMillis = Duration.toMillis(parsed.delay)
        }
      }
    }

    const giveUp = (reason: HttpStatusError.GiveUpReason): Effect.Effect<never, unknown> => {
      const error = failure instanceof StatusFailure ?
        HttpStatusError.makeWith(failure.response, n, hint, reason, plan.redaction) :
        isRequestError(failure) ?
        redactRequestError(failure, plan.redaction) :
        failure
      if (plan.logLevel === undefined) return Effect.fail(error)
      const line = `${self.label}: attempt ${n}/${max} -> ${describe(failure)}; giving up: ${reason}`
      return Effect.zipRight(log(self, line), Effect.fail(error))
    }

    let retryable: boolean
    if (status !== undefined) retryable = plan.statuses(status)
    else if (isTimeout(failure)) retryable = policy.retryOn.transport
    else if (isRequestError(failure)) {
      const classified = TransportFailure.classify(failure)
      retryable = policy.retryOn.transport && classified !== undefined && TransportFailure.isTransient(classified.kind)
    } else retryable = false

    if (!retryable) return giveUp("NotRetryable")
    if (!methodRetried(plan, self.request)) return giveUp("MethodNotRetried")
    if (!isReplayable(self.request)) return giveUp("BodyNotReplayable")
    if (n >= max) return giveUp("AttemptsExhausted")

    return Effect.flatMap(
      plan.schedule.step(now, failure, self.scheduleState),
      ([state, backoff, decision]) => {
        self.scheduleState = state
        if (ScheduleDecision.isDone(decision)) return giveUp("DeadlineExceeded")
        let delayMillis = Duration.toMillis(backoff)
        let source: Source = "backoff"
        if (
          retryAfterMillis !== undefined && policy.retryAfter && (status === 429 || status === 503)
        ) {
          if (retryAfterMillis > plan.maxRetryAfterMillis) return giveUp("RetryAfterTooLong")
          if (retryAfterMillis > 0) {
            delayMillis = retryAfterMillis
            source = "Retry-After"
          }
        }
        const elapsedAfterWait = now - self.startMillis + delayMillis
        if (elapsedAfterWait >= plan.maxElapsedMillis) {
          return giveUp(source === "Retry-After" ? "RetryAfterTooLong" : "DeadlineExceeded")
        }
        const delay = Duration.millis(delayMillis)
        let before: Effect.Effect<boolean, never, unknown> = failure instanceof StatusFailure ?
          drain(failure.response, Math.min(plan.attemptTimeoutMillis, 1000)) :
          Effect.succeed(true)
        if (plan.logLevel !== undefined) {
          const line = `${self.label}: attempt ${n}/${max} -> ${describe(failure)}; retrying in ${
            Duration.format(delay)
          } (${source})`
          before = Effect.zipRight(log(self, line), before)
        }
        if (self.onRetry !== undefined) {
          before = Effect.zipLeft(
            before,
            self.onRetry({
              attempt: n,
              maxAttempts: max,
              delay,
              source,
              request: self.request,
              failure: failure instanceof StatusFailure ?
                { _tag: "Status", response: failure.response } :
                { _tag: "Error", error: failure as E | Cause.TimeoutException }
            })
          )
        }
        // The wait is counted from the failure: draining, logging and onRetry are part of it, so attempts are as far
        // apart as the schedule says. After a drain that was cut off the full wait follows instead: sent sooner, the
        // next attempt raced undici's teardown of the aborted TLS connection, and a socket outlived the dispatcher.
        return Effect.flatMap(before, (drained) =>
          Effect.zipRight(drained ? sleepUntil(now + delayMillis) : Effect.sleep(delay), run(self, n + 1)))
      }
    )
  })

// --- Combinators --------------------------------------------------------------

/** @internal */
export const RetryingTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/Retrying")

interface Retrying {
  readonly [RetryingTypeId]: {
    readonly inner: HttpClient.HttpClient.With<unknown, unknown>
    readonly policy: RetryPolicy.RetryPolicy
    readonly options: HttpRetry.RetryOptions<unknown, unknown> | undefined
  }
}

const isRetrying = (u: unknown): u is Retrying => Predicate.hasProperty(u, RetryingTypeId)

/** What one retrying client fixes for all its requests. */
interface Wrapped<E> {
  readonly base: Plan
  readonly send: Attempt<E>["send"]
  readonly onRetry: Attempt<E>["onRetry"]
  readonly tracing: boolean
  readonly innerSpans: boolean
  readonly readsTimeout: boolean
}

const execute = <E>(
  wrapped: Wrapped<E>,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => {
    const plan = planWith(wrapped.base, Context.get(fiber.currentContext, CurrentOverrides))
    const now = clockOf(fiber).unsafeCurrentTimeMillis()
    let label: string | undefined
    const state: Attempt<E> = {
      plan,
      request,
      send: wrapped.send,
      startMillis: now,
      onRetry: wrapped.onRetry,
      tracing: wrapped.tracing,
      innerSpans: wrapped.innerSpans,
      readsTimeout: wrapped.readsTimeout,
      root: fiber.currentSpan === undefined,
      callParent: undefined,
      // Only a log line or an error needs the redacted URL: keep URL parsing off the happy path.
      get label() {
        return label ??= `${request.method} ${
          Redact.requestUrl(request, plan.redaction, plan.policy.log !== false && plan.policy.log.query)
        }`
      },
      scheduleState: plan.schedule.initial
    }
    return attempt(state, 1, fiber, now)
  })

interface Split<E, R> {
  readonly preprocess: HttpClient.HttpClient.Preprocess<E, R>
  readonly send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>
}

/**
 * Every client the platform makes keeps its request preprocessing (mapRequest
 * and friends) apart from sending, as `HttpClient.transform` relies on: the
 * retry runs between the two, so it sees (and logs, and traces) the final
 * request, and an attempt re-sends it without preprocessing it again. A
 * client made some other way is retried around its whole `execute`.
 */
const split = <E, R>(client: HttpClient.HttpClient.With<E, R>): Split<E, R> => {
  const parts = client as unknown as Partial<{
    preprocess: HttpClient.HttpClient.Preprocess<E, R>
    postprocess: HttpClient.HttpClient.Postprocess<E, R>
  }>
  if (typeof parts.preprocess === "function" && typeof parts.postprocess === "function") {
    const postprocess = parts.postprocess
    return { preprocess: parts.preprocess, send: (request) => postprocess(Effect.succeed(request)) }
  }
  return { preprocess: Effect.succeed, send: (request) => client.execute(request) }
}

/** @internal */
export const withRetry: {
  <R2 = never>(
    policy?: RetryPolicy.RetryPolicy,
    options?: HttpRetry.RetryOptions<unknown, R2>
  ): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
  <E, R, R2 = never>(
    self: HttpClient.HttpClient.With<E, R>,
    policy?: RetryPolicy.RetryPolicy,
    options?: HttpRetry.RetryOptions<E, R2>
  ): HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
} = dual(
  (args) => Predicate.hasProperty(args[0], HttpClient.TypeId),
  <E, R, R2>(
    self: HttpClient.HttpClient.With<E, R>,
    policy: RetryPolicy.RetryPolicy = policyInternal.defaults,
    options?: HttpRetry.RetryOptions<E, R2>
  ): HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2> => {
    // Retry at one layer only: re-wrapping a retrying client replaces its policy.
    const inner = (isRetrying(self) ? self[RetryingTypeId].inner : self) as HttpClient.HttpClient.With<E, R>
    const { preprocess, send } = split(inner)
    const wrapped: Wrapped<E> = {
      base: planOf(policy),
      send,
      onRetry: options?.onRetry,
      tracing: options?.tracing !== false,
      innerSpans: !Predicate.hasProperty(inner, NoSpansTypeId),
      readsTimeout: Predicate.hasProperty(inner, ReadsAttemptTimeoutTypeId)
    }
    const client = HttpClient.makeWith(
      (request) => Effect.flatMap(request, (request) => execute(wrapped, request)),
      preprocess
    ) as HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
    Object.defineProperty(client, RetryingTypeId, { value: { inner, policy, options }, enumerable: false })
    return client
  }
)

// --- Redirects ----------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308])

// Credentials for the origin they were written for; fetch and undici drop the same ones on a cross-origin hop.
const CREDENTIALS = ["authorization", "cookie", "proxy-authorization"]

/**
 * The request for the next hop, or `undefined` when the answer is to be
 * returned as it is: a `Location` that is missing, does not parse or is not
 * http(s).
 */
const nextHop = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
): HttpClientRequest.HttpClientRequest | undefined => {
  const location = response.headers.location
  if (location === undefined) return undefined
  let from: URL
  let to: URL
  try {
    from = new URL(request.url)
    to = new URL(location, request.url)
  } catch {
    return undefined
  }
  if (to.protocol !== "http:" && to.protocol !== "https:") return undefined
  // As fetch: a 303 turns into a GET, and so does a POST answered by 301 or 302; 307 and 308 resend as they are.
  const status = response.status
  const toGet = (status === 303 && request.method !== "GET" && request.method !== "HEAD") ||
    ((status === 301 || status === 302) && request.method === "POST")
  const headers = from.origin === to.origin ? request.headers : Headers.remove(request.headers, CREDENTIALS)
  const next = HttpClientRequest.make(toGet ? "GET" : request.method)(to, { headers })
  return HttpClientRequest.setBody(next, toGet ? HttpBody.empty : request.body)
}

const follow = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  maxRedirects: number
): HttpClient.HttpClient.With<E, R> => {
  const { preprocess, send } = split(client)
  const loop = (
    request: HttpClientRequest.HttpClientRequest,
    hops: number
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
    Effect.flatMap(send(request), (response) => {
      if (!REDIRECTS.has(response.status) || hops >= maxRedirects) return Effect.succeed(response)
      const next = nextHop(request, response)
      return next === undefined ?
        Effect.succeed(response) :
        Effect.zipRight(drain(response, 1000), loop(next, hops + 1))
    })
  const followed = HttpClient.makeWith((request) => Effect.flatMap(request, (request) => loop(request, 0)), preprocess)
  // Keep the client's own attempt timeout, if it has one: each hop is then bounded by it.
  return keepMarks(client, followed)
}

const checkMaxRedirects = (maxRedirects: number): number => {
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new Cause.IllegalArgumentException(
      `HttpRetry.followRedirects: maxRedirects = ${maxRedirects} (expected a whole number of at least 0)`
    )
  }
  return maxRedirects
}

const following = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  maxRedirects: number
): HttpClient.HttpClient.With<E, R> => {
  if (!isRetrying(self)) return follow(self, maxRedirects)
  // Follow inside each attempt, so that the retry sees (and gives up on) the final answer, not the 3xx.
  const { inner, options, policy } = self[RetryingTypeId]
  return withRetry(follow(inner, maxRedirects), policy, options) as HttpClient.HttpClient.With<E, R>
}

/** @internal */
export const followRedirects: {
  (maxRedirects?: number): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
  <E, R>(self: HttpClient.HttpClient.With<E, R>, maxRedirects?: number): HttpClient.HttpClient.With<E, R>
} = function(...args: ReadonlyArray<unknown>) {
  // Not `dual`: a bad maxRedirects throws where it is written, data-last too.
  if (Predicate.hasProperty(args[0], HttpClient.TypeId)) {
    return following(
      args[0] as HttpClient.HttpClient.With<unknown, unknown>,
      checkMaxRedirects((args[1] as number | undefined) ?? 10)
    )
  }
  const maxRedirects = checkMaxRedirects((args[0] as number | undefined) ?? 10)
  return (self: HttpClient.HttpClient.With<unknown, unknown>) => following(self, maxRedirects)
} as typeof followRedirects

/** @internal */
export const layer = (
  policy: RetryPolicy.RetryPolicy = policyInternal.defaults,
  options?: HttpRetry.RetryOptions<HttpClientError.HttpClientError, never>
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) => withRetry(client, policy, options) as HttpClient.HttpClient)
  )

/** @internal */
export const client: Effect.Effect<
  HttpClient.HttpClient.With<HttpRetry.RetryError<HttpClientError.HttpClientError>>,
  never,
  HttpClient.HttpClient
> = Effect.map(
  HttpClient.HttpClient,
  (client) =>
    (isRetrying(client) ? client : withRetry(client)) as HttpClient.HttpClient.With<
      HttpRetry.RetryError<HttpClientError.HttpClientError>
    >
)

/** @internal */
export const request = (
  request: HttpClientRequest.HttpClientRequest,
  policy?: RetryPolicy.RetryPolicy | RetryPolicy.Options
): Effect.Effect<
  HttpClientResponse.HttpClientResponse,
  HttpRetry.RetryError<HttpClientError.HttpClientError>,
  HttpClient.HttpClient
> => {
  // Validate now, as withPolicy does: a bad field throws where it is written, not as a defect of the request.
  if (policy !== undefined && !policyInternal.isRetryPolicy(policy)) {
    policyInternal.merge(policyInternal.defaults, policy)
  }
  return Effect.flatMap(HttpClient.HttpClient, (client) => {
    if (policyInternal.isRetryPolicy(policy)) return withRetry(client, policy).execute(request)
    const retrying = isRetrying(client) ? client : withRetry(client)
    const execute = (retrying as HttpClient.HttpClient.With<HttpRetry.RetryError<HttpClientError.HttpClientError>>)
      .execute(request)
    return policy === undefined ? execute : withValidOverrides(execute, policy)
  })
}

/** @internal */
export const redactedHeaders = (
  headers: Headers.Headers,
  policy: RetryPolicy.RetryPolicy = policyInternal.defaults
): Record<string, string> => Redact.headers(headers, planOf(policy).redaction)

/** @internal */
export const redactedUrl = (
  request: HttpClientRequest.HttpClientRequest,
  policy: RetryPolicy.RetryPolicy = policyInternal.defaults
): string => Redact.requestUrl(request, planOf(policy).redaction, true)
