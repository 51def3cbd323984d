import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as TransportFailure from "../TransportFailure.js"
import type { Continue } from "./attempt.js"
import type { Call } from "./call.js"
import * as Decision from "./decision.js"
import { formatWait, log } from "./logging.js"
import { forOrigin, PerOrigin } from "./originMetrics.js"
import * as Redact from "./redact.js"
import { isRequestError } from "./redactedErrors.js"
import { originOf as budgetOriginOf } from "./retryBudget.js"
import {
  booleanText,
  catchPolicyError,
  checkKeys,
  decodeDuration,
  durationText,
  integerText,
  numberText,
  RetryPolicyError,
  show,
  variable
} from "./retryPolicy.js"
import { clockOf } from "./timeout.js"

// The circuit breaker: the settings and their validation, the in-process
// store, and the guard the retry loop puts around an attempt when a breaker
// is on.

// --- Settings -------------------------------------------------------------------

/** @internal */
export const defaults: CircuitBreaker.Settings = {
  consecutiveFailures: 5,
  failureRatio: 0.5,
  window: Duration.seconds(10),
  minimumCalls: 20,
  openFor: Duration.seconds(5),
  halfOpenProbes: 1
}

const KEYS = ["consecutiveFailures", "failureRatio", "window", "minimumCalls", "openFor", "halfOpenProbes"]

const fail = (field: string, value: unknown, reason: string): never => {
  throw new RetryPolicyError({ field: `breaker.${field}`, value, reason })
}

const wholeNumber = (field: string, value: unknown): number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 1 ?
    value :
    fail(field, value, "expected a whole number of at least 1")

/** @internal */
export const settings = (options: CircuitBreaker.Options = {}): CircuitBreaker.Settings => {
  if (!Predicate.isRecord(options)) {
    throw new RetryPolicyError({ field: "breaker", value: options, reason: "expected an object" })
  }
  checkKeys("breaker", options, KEYS)
  const o = options
  const consecutiveFailures = o.consecutiveFailures === undefined ?
    defaults.consecutiveFailures :
    o.consecutiveFailures === false ?
    false :
    wholeNumber("consecutiveFailures", o.consecutiveFailures)
  const failureRatio = o.failureRatio === undefined ?
    defaults.failureRatio :
    o.failureRatio === false ?
    false :
    typeof o.failureRatio === "number" && o.failureRatio > 0 && o.failureRatio <= 1 ?
    o.failureRatio :
    fail("failureRatio", o.failureRatio, "expected a number more than 0 and at most 1, or false")
  if (consecutiveFailures === false && failureRatio === false) {
    fail("consecutiveFailures", false, "with failureRatio false too, the breaker would never open")
  }
  // Durations are read as the policy's, then renamed: the error names `breaker.window`.
  const duration = (field: string, input: unknown, fallback: Duration.Duration): Duration.Duration => {
    if (input === undefined) return fallback
    try {
      return decodeDuration(field, input, false)
    } catch (error) {
      if (error instanceof RetryPolicyError) return fail(field, error.value, error.reason)
      throw error
    }
  }
  return {
    consecutiveFailures,
    failureRatio,
    window: duration("window", o.window, defaults.window),
    minimumCalls: o.minimumCalls === undefined ? defaults.minimumCalls : wholeNumber("minimumCalls", o.minimumCalls),
    openFor: duration("openFor", o.openFor, defaults.openFor),
    halfOpenProbes: o.halfOpenProbes === undefined ?
      defaults.halfOpenProbes :
      wholeNumber("halfOpenProbes", o.halfOpenProbes)
  }
}

/** @internal */
export const validate = (
  options?: CircuitBreaker.Options
): Either.Either<CircuitBreaker.Settings, RetryPolicyError> => catchPolicyError(() => settings(options))

// --- The store ------------------------------------------------------------------

/** The window is kept as this many buckets, each a tenth of it: memory per origin stays fixed at any rate. */
const BUCKETS = 10

const PASS: CircuitBreaker.Admission = { _tag: "Pass" }

/** A probe, with the opening it was let through after: the outcome of one from an earlier round decides nothing. */
class Probe {
  readonly _tag = "Probe"
  constructor(readonly transition: CircuitBreaker.Transition | undefined, readonly opening: number) {}
}

/**
 * Above this many origins, a new one first lets go of the quiet ones; the next sweep waits until the origins kept
 * have doubled, so that many busy origins cost each new one O(1), not a scan of all of them.
 */
const SWEEP_ABOVE = 1024

class Entry {
  state: CircuitBreaker.State = "Closed"
  consecutive = 0
  opening: CircuitBreaker.Opening | undefined = undefined
  probes = 0
  /** How many times it has opened: the probes of a half-open round carry it. */
  openings = 0
  readonly calls = new Int32Array(BUCKETS)
  readonly failures = new Int32Array(BUCKETS)
  totalCalls = 0
  totalFailures = 0
  /** The bucket (time / bucket length) last written. */
  head = Number.NEGATIVE_INFINITY
  lastSeen = 0

  clearWindow(): void {
    this.calls.fill(0)
    this.failures.fill(0)
    this.totalCalls = 0
    this.totalFailures = 0
    this.consecutive = 0
  }

  count(bucket: number, failed: boolean): void {
    if (bucket > this.head) {
      if (bucket - this.head >= BUCKETS) {
        this.calls.fill(0)
        this.failures.fill(0)
        this.totalCalls = 0
        this.totalFailures = 0
      } else {
        for (let b = this.head + 1; b <= bucket; b++) {
          const i = b % BUCKETS
          this.totalCalls -= this.calls[i]
          this.totalFailures -= this.failures[i]
          this.calls[i] = 0
          this.failures[i] = 0
        }
      }
      this.head = bucket
    }
    // A clock that went back counts in the newest bucket.
    const i = this.head % BUCKETS
    this.calls[i]++
    this.totalCalls++
    if (failed) {
      this.failures[i]++
      this.totalFailures++
    }
  }
}

/** Whether `admission` is a probe of `entry`'s current half-open round. */
const isProbeOf = (admission: CircuitBreaker.Admission, entry: Entry): boolean =>
  admission instanceof Probe && entry.state === "HalfOpen" && admission.opening === entry.openings

class LocalBreaker implements CircuitBreaker.Service {
  private readonly entries = new Map<string, Entry>()
  private sweepAt = SWEEP_ABOVE
  private readonly openForMillis: number
  private readonly bucketMillis: number
  constructor(readonly settings: CircuitBreaker.Settings) {
    this.openForMillis = Duration.toMillis(settings.openFor)
    this.bucketMillis = Duration.toMillis(settings.window) / BUCKETS
  }

  private entry(origin: string, now: number): Entry {
    let entry = this.entries.get(origin)
    if (entry === undefined) {
      if (this.entries.size >= this.sweepAt) this.sweep(now)
      entry = new Entry()
      this.entries.set(origin, entry)
    }
    entry.lastSeen = now
    return entry
  }

  /**
   * Lets go of the origins with no call for a whole window (and open time): closed ones, and open ones whose open
   * time has ended (the next call to one goes as to a new origin, not as a probe). Half-open ones are kept.
   */
  private sweep(now: number): void {
    const quiet = now - Math.max(Duration.toMillis(this.settings.window), this.openForMillis)
    for (const [origin, entry] of this.entries) {
      if (
        entry.lastSeen < quiet &&
        (entry.state === "Closed" || (entry.state === "Open" && now >= entry.opening!.openUntil))
      ) this.entries.delete(origin)
    }
    this.sweepAt = Math.max(SWEEP_ABOVE, 2 * this.entries.size)
  }

  admit(origin: string, now: number): CircuitBreaker.Admission {
    const entry = this.entries.get(origin)
    if (entry === undefined || entry.state === "Closed") return PASS
    const opening = entry.opening!
    if (entry.state === "Open") {
      if (now < opening.openUntil) return { _tag: "Reject", state: "Open", opening }
      entry.state = "HalfOpen"
      entry.probes = 1
      return new Probe({ from: "Open", to: "HalfOpen", opening: undefined }, entry.openings)
    }
    if (entry.probes < this.settings.halfOpenProbes) {
      entry.probes++
      return new Probe(undefined, entry.openings)
    }
    return { _tag: "Reject", state: "HalfOpen", opening }
  }

  private open(
    entry: Entry,
    from: CircuitBreaker.State,
    outcome: { readonly failure: CircuitBreaker.Failure; readonly retryAfterMillis: number | undefined },
    now: number
  ): CircuitBreaker.Transition {
    const opening: CircuitBreaker.Opening = {
      openedAt: now,
      openUntil: now + Math.max(this.openForMillis, outcome.retryAfterMillis ?? 0),
      failure: outcome.failure
    }
    entry.state = "Open"
    entry.opening = opening
    entry.openings++
    entry.probes = 0
    entry.clearWindow()
    return { from, to: "Open", opening }
  }

  record(
    origin: string,
    admission: CircuitBreaker.Admission,
    outcome: CircuitBreaker.Outcome,
    now: number
  ): CircuitBreaker.Transition | undefined {
    if (outcome._tag === "Ignored") {
      this.release(origin, admission)
      return undefined
    }
    const entry = this.entry(origin, now)
    if (isProbeOf(admission, entry)) {
      entry.probes = Math.max(0, entry.probes - 1)
      if (outcome._tag === "Failure") return this.open(entry, "HalfOpen", outcome, now)
      entry.state = "Closed"
      entry.opening = undefined
      entry.probes = 0
      entry.clearWindow()
      return { from: "HalfOpen", to: "Closed", opening: undefined }
    }
    if (entry.state === "Open") {
      // A call sent before it opened: its success says nothing of now; a Retry-After it brings still holds.
      if (outcome._tag === "Failure" && outcome.retryAfterMillis !== undefined) {
        const opening = entry.opening!
        const until = now + outcome.retryAfterMillis
        if (until > opening.openUntil) entry.opening = { ...opening, openUntil: until }
      }
      return undefined
    }
    // Half-open, the outcome of a call sent while closed is not a probe's: it decides nothing.
    if (entry.state !== "Closed") return undefined
    const settings = this.settings
    if (outcome._tag === "Success") {
      entry.consecutive = 0
      if (settings.failureRatio !== false) entry.count(Math.floor(now / this.bucketMillis), false)
      return undefined
    }
    entry.consecutive++
    if (settings.consecutiveFailures !== false && entry.consecutive >= settings.consecutiveFailures) {
      return this.open(entry, "Closed", outcome, now)
    }
    if (settings.failureRatio !== false) {
      entry.count(Math.floor(now / this.bucketMillis), true)
      if (
        entry.totalCalls >= settings.minimumCalls && entry.totalFailures >= settings.failureRatio * entry.totalCalls
      ) {
        return this.open(entry, "Closed", outcome, now)
      }
    }
    return undefined
  }

  release(origin: string, admission: CircuitBreaker.Admission): void {
    const entry = this.entries.get(origin)
    if (entry !== undefined && isProbeOf(admission, entry) && entry.probes > 0) entry.probes--
  }

  status(origin: string, now: number): CircuitBreaker.Status {
    const entry = this.entries.get(origin)
    if (entry === undefined || entry.state === "Closed") return { _tag: "Closed" }
    const opening = entry.opening!
    if (entry.state === "Open" && now < opening.openUntil) return { _tag: "Open", opening }
    return { _tag: "HalfOpen", opening, probes: entry.state === "Open" ? 0 : entry.probes }
  }
}

/** @internal */
export const make = (options?: CircuitBreaker.Options): Effect.Effect<CircuitBreaker.Service> => {
  const resolved = settings(options)
  return Effect.sync(() => new LocalBreaker(resolved))
}

// --- The error ------------------------------------------------------------------

/** Public as `CircuitBreaker.CircuitOpenErrorTypeId`: left unmarked, as the error class that keys on it ships. */
export const CircuitOpenErrorTypeId: typeof CircuitBreaker.CircuitOpenErrorTypeId = Symbol.for(
  "@http-retry/core/CircuitBreaker/CircuitOpenError"
) as typeof CircuitBreaker.CircuitOpenErrorTypeId

const describeFailure = (failure: CircuitBreaker.Failure): string =>
  failure._tag === "Status" ? `HTTP ${failure.status}` : failure._tag === "Timeout" ? "timeout" : failure.kind

/** Public as `CircuitBreaker.CircuitOpenError`: left unmarked so its declaration stays in the published types. */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  /** The origin whose breaker is open: `scheme://host:port`. */
  readonly origin: string
  /** The request method. */
  readonly method: string
  /** The request URL, redacted. */
  readonly url: string
  /** `Open`, or `HalfOpen` with every probe place taken. */
  readonly state: "Open" | "HalfOpen"
  /** When it opened, in milliseconds on Effect's `Clock`. */
  readonly openedAt: number
  /**
   * From when a probe may go, in milliseconds on Effect's `Clock` (`new Date(openUntil)` under the live clock).
   * Half-open with every place taken it is the time of the rejection: a place frees up when a probe answers.
   */
  readonly openUntil: number
  /** The time left until `openUntil`, from the rejection. */
  readonly retryIn: Duration.Duration
  /** The failure that opened it. */
  readonly openedBy: CircuitBreaker.Failure
}> {
  /** The type id. */
  readonly [CircuitOpenErrorTypeId]: typeof CircuitBreaker.CircuitOpenErrorTypeId = CircuitOpenErrorTypeId

  /** One line: the origin, what opened it, when a probe may go, and the request not sent. */
  override get message(): string {
    const when = this.state === "HalfOpen" ? "half-open, probe in flight" : `probe in ${
      formatWait(
        Duration.toMillis(this.retryIn)
      )
    }`
    return `Circuit open for ${this.origin} (opened by ${
      describeFailure(this.openedBy)
    }; ${when}): ${this.method} ${this.url} not sent`
  }
}

/** @internal */
export const isCircuitOpenError = (u: unknown): u is CircuitOpenError =>
  Predicate.hasProperty(u, CircuitOpenErrorTypeId)

// --- Origins --------------------------------------------------------------------

/**
 * `URL.origin` of the request's URL (the retry budget's, so both key an origin alike).
 *
 * @internal
 */
export const originOf = (request: HttpClientRequest.HttpClientRequest): string => budgetOriginOf(request.url)

// --- Metrics ----------------------------------------------------------------------

const stateKey = MetricKey.gauge("http_retry_breaker_state", {
  description: "The circuit breaker's state per origin: 0 closed, 1 half-open, 2 open"
})
const rejectedKey = MetricKey.counter("http_retry_breaker_rejected", {
  description: "Calls failed with CircuitOpenError, and retries not made, because the origin's breaker was open",
  incremental: true
})

/** @internal */
export const metrics = {
  state: Metric.fromMetricKey(stateKey),
  transitions: Metric.counter("http_retry_breaker_transitions", {
    description: "Circuit breaker state changes per origin, tagged from and to",
    incremental: true
  }),
  rejected: Metric.fromMetricKey(rejectedKey)
}

const stateValue: Record<CircuitBreaker.State, number> = { Closed: 0, HalfOpen: 1, Open: 2 }

/**
 * The state and rejected metrics of one origin, keyed once (originMetrics.ts). Updated from plain code with the
 * fiber's own metric labels (`Effect.tagMetrics`) as the extra tags, as `Metric.update` would: Effect keeps a metric's
 * hook per array of extra tags, by identity, and the fiber's array is the same from one call to the next, so a
 * rejected call builds and hashes no metric key.
 */
const byOrigin = new PerOrigin((origin) => ({
  state: forOrigin(stateKey, origin),
  rejected: forOrigin(rejectedKey, origin)
}))

const labelsOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ReadonlyArray<MetricLabel.MetricLabel> =>
  fiber.getFiberRef(FiberRef.currentMetricLabels)

const spanEvent = <E>(
  call: Call<E>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  attributes: Record<string, unknown>
): void => {
  const span = fiber.currentSpan
  if (call.tracing && span !== undefined && span._tag === "Span") {
    span.event(name, clockOf(fiber).unsafeCurrentTimeNanos(), attributes)
  }
}

const transitioned = <E>(
  call: Call<E>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  origin: string,
  transition: CircuitBreaker.Transition
): void => {
  const labels = labelsOf(fiber)
  byOrigin.get(origin).state.unsafeUpdate(stateValue[transition.to], labels)
  metrics.transitions.unsafeUpdate(1, [
    MetricLabel.make("origin", origin),
    MetricLabel.make("from", transition.from),
    MetricLabel.make("to", transition.to),
    ...labels
  ])
  const attributes: Record<string, unknown> = {
    "http_retry.breaker.origin": origin,
    "http_retry.breaker.from": transition.from,
    "http_retry.breaker.to": transition.to
  }
  if (transition.opening !== undefined) {
    attributes["http_retry.breaker.opened_by"] = describeFailure(transition.opening.failure)
    attributes["http_retry.breaker.open_until_ms"] = transition.opening.openUntil
  }
  spanEvent(call, fiber, "http_retry.breaker.transition", attributes)
}

const rejected = <E>(
  call: Call<E>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  origin: string,
  n: number,
  state: "Open" | "HalfOpen"
): void => {
  byOrigin.get(origin).rejected.unsafeUpdate(1, labelsOf(fiber))
  spanEvent(call, fiber, "http_retry.breaker.rejected", {
    "http_retry.breaker.origin": origin,
    "http_retry.breaker.state": state,
    "http_retry.attempt": n
  })
}

// --- The guard around an attempt -------------------------------------------------

const SUCCESS: CircuitBreaker.Outcome = { _tag: "Success" }
const IGNORED: CircuitBreaker.Outcome = { _tag: "Ignored" }

const failureOf = (failure: Decision.Failure, error: unknown): CircuitBreaker.Failure | undefined => {
  switch (failure._tag) {
    case "Status":
      return { _tag: "Status", status: failure.status }
    case "Timeout":
      return { _tag: "Timeout" }
    case "Transport":
      return {
        _tag: "Transport",
        kind: (isRequestError(error) ? TransportFailure.classify(error)?.kind : undefined) ?? "Unknown"
      }
    case "Other":
      return undefined
  }
}

/** How the breaker counts an outcome: failures are what the call's policy retries, successes its 2xx answers. */
const outcomeOf = <E>(call: Call<E>, failure: unknown, now: number): CircuitBreaker.Outcome => {
  const plan = call.plan
  const classified = Decision.classify(failure)
  if (!Decision.retryable(plan, classified)) return IGNORED
  const described = failureOf(classified, failure)
  if (described === undefined) return IGNORED
  let retryAfterMillis: number | undefined
  if (failure instanceof Decision.StatusFailure && Decision.honoursRetryAfter(plan, failure.response.status)) {
    const asked = Decision.retryAfterOf(failure.response, now)
    if (asked !== undefined) retryAfterMillis = Math.min(Duration.toMillis(asked), plan.maxRetryAfterMillis)
  }
  return { _tag: "Failure", failure: described, retryAfterMillis }
}

/** V8's `Error.stackTraceLimit`, not in the standard library's types (this package has no Node types). */
const ErrorWithLimit = Error as { stackTraceLimit?: number | undefined }

/**
 * Attempt `n` of `call` under its breaker: rejected at once when the origin
 * is open (`refused` says how the call ends), or sent with `send`, which
 * wraps the continuation of the outcome it settles on with `record`: the
 * outcome is recorded before the loop goes on. One attempt, or a hedged
 * round that settles as one attempt, is one outcome. A probe interrupted
 * before its outcome gives its place back.
 *
 * @internal
 */
export const guard = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  now: number,
  send: (record: (k: Continue) => Continue) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>,
  refused: (error: CircuitOpenError) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const breaker = call.breaker!
  const origin = call.origin
  const admission = breaker.admit(origin, now)
  if (admission._tag === "Reject") {
    rejected(call, fiber, origin, n, admission.state)
    const openUntil = admission.state === "Open" ? admission.opening.openUntil : now
    // The error's stack would show this module's frames only, and capturing it was most of a rejection's cost.
    const stackTraceLimit = ErrorWithLimit.stackTraceLimit
    ErrorWithLimit.stackTraceLimit = 0
    const error = new CircuitOpenError({
      origin,
      method: call.request.method,
      url: Redact.requestUrl(call.request, call.plan.redaction, true),
      state: admission.state,
      openedAt: admission.opening.openedAt,
      openUntil,
      retryIn: Duration.millis(Math.max(0, openUntil - now)),
      openedBy: admission.opening.failure
    })
    ErrorWithLimit.stackTraceLimit = stackTraceLimit
    return refused(error)
  }
  // A probe goes alone: no hedge beside it (hedge.ts).
  call.probing = admission._tag === "Probe"
  if (admission._tag === "Probe" && admission.transition !== undefined) {
    transitioned(call, fiber, origin, admission.transition)
  }
  let settled = false
  const settle = (outcome: CircuitBreaker.Outcome): void => {
    settled = true
    const transition = breaker.record(origin, admission, outcome, clockOf(fiber).unsafeCurrentTimeMillis())
    if (transition !== undefined) transitioned(call, fiber, origin, transition)
  }
  const sent = send((k) => ({
    onSuccess: (response) => {
      const status = response.status
      if (status >= 200 && status < 300) settle(SUCCESS)
      else settle(outcomeOf(call, new Decision.StatusFailure(response), clockOf(fiber).unsafeCurrentTimeMillis()))
      return k.onSuccess(response)
    },
    onFailure: (cause) => {
      const failure = Cause.isDie(cause) ? Option.none() : Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        settle(outcomeOf(call, failure.value, clockOf(fiber).unsafeCurrentTimeMillis()))
      } else {
        settled = true
        breaker.release(origin, admission)
      }
      return k.onFailure(cause)
    }
  }))
  if (admission._tag !== "Probe") return sent
  return Effect.onInterrupt(sent, () =>
    Effect.sync(() => {
      if (!settled) {
        settled = true
        breaker.release(origin, admission)
      }
    }))
}

/**
 * Before a wait for a retry: whether the origin will still be open when the
 * wait ends, so that the call gives up now (reason `CircuitOpen`) instead of
 * waiting for an attempt that would not be sent.
 *
 * @internal
 */
export const refusesRetry = <E>(call: Call<E>, atMillis: number): boolean => {
  const status = call.breaker!.status(call.origin, atMillis)
  return status._tag === "Open"
}

/**
 * Before a hedge: whether the origin's breaker has left the closed state
 * since the call was let through (it opened while the round ran), so that no
 * hedge goes to an origin it would refuse an attempt to.
 *
 * @internal
 */
export const refusesHedge = <E>(call: Call<E>, atMillis: number): boolean =>
  call.breaker!.status(call.origin, atMillis)._tag !== "Closed"

/**
 * A retry not made because the breaker is open: counted, a span event, and
 * the log line's reason.
 *
 * @internal
 */
export const retryRefused = <E>(call: Call<E>, n: number): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const origin = call.origin
    const status = call.breaker!.status(origin, clockOf(fiber).unsafeCurrentTimeMillis())
    rejected(call, fiber, origin, n, status._tag === "HalfOpen" ? "HalfOpen" : "Open")
    return Effect.void
  })

/**
 * The first attempt rejected: the call fails with the error, logged as the
 * retry's other endings are.
 *
 * @internal
 */
export const failOpen = <E>(call: Call<E>, error: CircuitOpenError): Effect.Effect<never, CircuitOpenError> => {
  if (call.plan.logLevel === undefined) return Effect.fail(error)
  const when = error.state === "HalfOpen" ?
    "half-open, probe in flight" :
    `probe in ${formatWait(Duration.toMillis(error.retryIn))}`
  return Effect.zipRight(
    log(
      call,
      `${call.label}: not sent, circuit open for ${error.origin} (opened by ${
        describeFailure(error.openedBy)
      }; ${when})`
    ),
    Effect.fail(error)
  )
}

// --- Config -------------------------------------------------------------------------

const orOff =
  (read: (text: string) => Either.Either<number, string>) => (text: string): Either.Either<number | false, string> =>
    text.toLowerCase() === "off" || text.toLowerCase() === "false" ?
      Either.right(false as const) :
      Either.mapLeft(read(text), (e) => `${e}, or off`)

/** @internal */
export const config = (prefix = "HTTP_RETRY"): Config.Config<false | CircuitBreaker.Options> => {
  const name = (suffix: string) => prefix === "" ? suffix : `${prefix}_${suffix}`
  const names = {
    consecutiveFailures: "BREAKER_CONSECUTIVE_FAILURES",
    failureRatio: "BREAKER_FAILURE_RATIO",
    window: "BREAKER_WINDOW",
    minimumCalls: "BREAKER_MINIMUM_CALLS",
    openFor: "BREAKER_OPEN_FOR",
    halfOpenProbes: "BREAKER_HALF_OPEN_PROBES"
  } as const
  const fields = {
    consecutiveFailures: variable(name(names.consecutiveFailures), orOff(integerText)),
    failureRatio: variable(name(names.failureRatio), orOff(numberText)),
    window: variable(name(names.window), durationText),
    minimumCalls: variable(name(names.minimumCalls), integerText),
    openFor: variable(name(names.openFor), durationText),
    halfOpenProbes: variable(name(names.halfOpenProbes), integerText)
  }
  return Config.all({ on: variable(name("BREAKER"), booleanText), fields: Config.all(fields) }).pipe(
    Config.mapOrFail(({ fields, on }): Either.Either<false | CircuitBreaker.Options, ConfigError.ConfigError> => {
      const options: Record<string, unknown> = {}
      const texts: Record<string, string> = {}
      for (const [key, read] of Object.entries(fields) as Array<[keyof typeof names, typeof fields.window]>) {
        if (Option.isSome(read)) {
          options[key] = read.value.value
          texts[key] = read.value.text
        }
      }
      const enabled = Option.isSome(on) ? on.value.value : Object.keys(options).length > 0
      if (!enabled) return Either.right(false as const)
      const result = validate(options as CircuitBreaker.Options)
      if (Either.isRight(result)) return Either.right(options as CircuitBreaker.Options)
      const key = result.left.field.replace(/^breaker\./, "") as keyof typeof names
      const path = names[key] === undefined ? name("BREAKER") : name(names[key])
      const text = texts[key]
      return Either.left(
        ConfigError.InvalidData(
          [path],
          text === undefined ? result.left.message : `${path}=${show(text)}: ${result.left.message}`
        )
      )
    })
  )
}
