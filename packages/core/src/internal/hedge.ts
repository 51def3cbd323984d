import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import type * as Hedging from "../Hedging.js"
import { RetryBudget } from "../RetryBudget.js"
import { type Continue, sendAttempt } from "./attempt.js"
import * as Breaker from "./breaker.js"
import type { Call } from "./call.js"
import * as Decision from "./decision.js"
import { drain, MAX_DRAIN_MILLIS } from "./drain.js"
import { describe, formatWait, log } from "./logging.js"
import { forOrigin, MAX_ORIGINS } from "./originMetrics.js"
import * as Redact from "./redact.js"
import * as policyInternal from "./retryPolicy.js"
import { afterPendingIo, clockOf, liveClock, setTimer, startBeside, startWith } from "./timeout.js"

// Hedged requests: when an attempt has no answer after the hedge delay, send
// another one alongside it; the first answer the policy accepts wins and the
// others are interrupted. Per origin, a window of latencies (for the adaptive
// delay) and of requests and hedges (for the budget).

/** Public as `Hedging.HedgingError`: left unmarked so its declaration stays in the published types. */
export class HedgingError extends Data.TaggedError("HedgingError")<{
  /** The option, by its path (`delay.floor`, `budget.ratio`). */
  readonly field: string
  /** The value given (a URL's password is never kept). */
  readonly value: unknown
  /** What is wrong with it. */
  readonly reason: string
}> {
  constructor(args: { readonly field: string; readonly value: unknown; readonly reason: string }) {
    super({ ...args, value: Redact.optionValue(args.value, args.field) })
  }

  /** The field, the value and what is wrong, in one line. */
  override get message(): string {
    let shown: string
    try {
      shown = typeof this.value === "string" ? JSON.stringify(this.value) : String(this.value)
    } catch {
      shown = typeof this.value
    }
    return `Invalid hedging option: ${this.field} = ${shown} (${this.reason})`
  }
}

const fail = (field: string, value: unknown, reason: string): never => {
  throw new HedgingError({ field, value, reason })
}

/** A duration read as the policy reads its own (a negative, NaN or unreadable one refused, not taken as 0). */
const millisOf = (field: string, input: unknown, allowZero: boolean): number => {
  try {
    return Duration.toMillis(policyInternal.decodeDuration(field, input, allowZero))
  } catch (error) {
    if (error instanceof policyInternal.RetryPolicyError) return fail(field, input, error.reason)
    throw error
  }
}

/** A misspelt option is an error, not the default it leaves in place. */
const checkKeys = (prefix: string, input: object, known: ReadonlyArray<string>): void => {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      fail(`${prefix}${key}`, (input as Record<string, unknown>)[key], `unknown option (${known.join(", ")})`)
    }
  }
}

const OPTION_KEYS = ["delay", "maxHedges", "budget", "onHedge"]
const DELAY_KEYS = ["percentile", "floor", "initial", "window", "minSamples", "maxSamples"]
const BUDGET_KEYS = ["ratio", "window", "minimum"]

const numberIn = (field: string, value: unknown, check: (n: number) => boolean, reason: string): number =>
  typeof value === "number" && Number.isFinite(value) && check(value) ? value : fail(field, value, reason)

/**
 * Hedging options, checked and in milliseconds.
 *
 * @internal
 */
export interface Settings {
  readonly delay:
    | { readonly _tag: "Fixed"; readonly millis: number }
    | {
      readonly _tag: "Adaptive"
      readonly percentile: number
      readonly floorMillis: number
      readonly initialMillis: number
      readonly windowMillis: number
      readonly minSamples: number
      readonly maxSamples: number
    }
  readonly maxHedges: number
  readonly budgetRatio: number
  readonly budgetWindowMillis: number
  readonly budgetMinimum: number
  readonly onHedge: ((info: Hedging.HedgeInfo) => Effect.Effect<void, never, unknown>) | undefined
}

const isAdaptive = (delay: unknown): delay is Hedging.AdaptiveDelay =>
  typeof delay === "object" && delay !== null && !Duration.isDuration(delay) && !Array.isArray(delay)

/** @internal */
export const settingsOf = (options: Hedging.Options<unknown> = {}): Settings => {
  if (typeof options !== "object" || options === null) fail("options", options, "expected an object")
  checkKeys("", options, OPTION_KEYS)
  if (options.onHedge !== undefined && typeof options.onHedge !== "function") {
    fail("onHedge", options.onHedge, "expected a function")
  }
  const delay = options.delay ?? { floor: "10 millis" }
  let compiled: Settings["delay"]
  if (isAdaptive(delay)) {
    checkKeys("delay.", delay, DELAY_KEYS)
    const floorMillis = millisOf("delay.floor", delay.floor, true)
    compiled = {
      _tag: "Adaptive",
      percentile: numberIn(
        "delay.percentile",
        delay.percentile ?? 95,
        (n) => n > 0 && n < 100,
        "must be > 0 and < 100"
      ),
      floorMillis,
      initialMillis: delay.initial === undefined ?
        floorMillis :
        Math.max(floorMillis, millisOf("delay.initial", delay.initial, true)),
      windowMillis: millisOf("delay.window", delay.window ?? "30 seconds", false),
      minSamples: numberIn(
        "delay.minSamples",
        delay.minSamples ?? 20,
        (n) => Number.isInteger(n) && n >= 1,
        "must be an integer >= 1"
      ),
      maxSamples: numberIn(
        "delay.maxSamples",
        delay.maxSamples ?? 1000,
        (n) => Number.isInteger(n) && n >= 1 && n <= 100_000,
        "must be an integer from 1 to 100000"
      )
    }
    if (compiled.maxSamples < compiled.minSamples) {
      fail("delay.maxSamples", compiled.maxSamples, "must be >= minSamples")
    }
  } else {
    compiled = { _tag: "Fixed", millis: millisOf("delay", delay, false) }
  }
  const budget = options.budget ?? {}
  if (typeof budget !== "object" || budget === null) fail("budget", budget, "expected an object")
  checkKeys("budget.", budget, BUDGET_KEYS)
  return {
    delay: compiled,
    maxHedges: numberIn(
      "maxHedges",
      options.maxHedges ?? 1,
      (n) => Number.isInteger(n) && n >= 1,
      "must be an integer >= 1"
    ),
    budgetRatio: numberIn("budget.ratio", budget.ratio ?? 0.05, (n) => n >= 0 && n <= 1, "must be from 0 to 1"),
    budgetWindowMillis: millisOf("budget.window", budget.window ?? "10 seconds", false),
    budgetMinimum: numberIn(
      "budget.minimum",
      budget.minimum ?? 1,
      (n) => Number.isInteger(n) && n >= 0,
      "must be an integer >= 0"
    ),
    onHedge: options.onHedge as Settings["onHedge"]
  }
}

const BUCKETS = 10

/** Requests and hedges to one origin over a sliding window, in `BUCKETS` buckets. */
class Budget {
  private readonly requests = new Float64Array(BUCKETS)
  private readonly hedges = new Float64Array(BUCKETS)
  private readonly stamps = new Float64Array(BUCKETS).fill(-1)
  private readonly bucketMillis: number
  constructor(private readonly settings: Settings) {
    this.bucketMillis = settings.budgetWindowMillis / BUCKETS
  }
  private slot(now: number): number {
    const index = Math.floor(now / this.bucketMillis)
    const slot = index % BUCKETS
    if (this.stamps[slot] !== index) {
      this.stamps[slot] = index
      this.requests[slot] = 0
      this.hedges[slot] = 0
    }
    return slot
  }
  request(now: number): void {
    this.requests[this.slot(now)]++
  }
  /** Takes one hedge from the budget if it has one left. */
  take(now: number): boolean {
    const current = this.slot(now)
    const oldest = Math.floor(now / this.bucketMillis) - BUCKETS
    let requests = 0
    let hedges = 0
    for (let i = 0; i < BUCKETS; i++) {
      if (this.stamps[i] > oldest) {
        requests += this.requests[i]
        hedges += this.hedges[i]
      }
    }
    if (hedges >= Math.max(this.settings.budgetMinimum, this.settings.budgetRatio * requests)) return false
    this.hedges[current]++
    return true
  }
  /** Gives back a hedge taken at `at` and never sent (the retry budget refused it), if its bucket is still there. */
  giveBack(at: number): void {
    const index = Math.floor(at / this.bucketMillis)
    const slot = index % BUCKETS
    if (this.stamps[slot] === index && this.hedges[slot] > 0) this.hedges[slot]--
  }
}

/**
 * The `k`-th smallest (from 0) of `values[0..length)`, moving them about: a
 * quickselect, in linear time on average where a sort of 1,000 samples took
 * 20-30 µs.
 */
const select = (values: Float64Array, length: number, k: number): number => {
  let lo = 0
  let hi = length - 1
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]
    let i = lo
    let j = hi
    while (i <= j) {
      while (values[i] < pivot) i++
      while (values[j] > pivot) j--
      if (i <= j) {
        const swap = values[i]
        values[i] = values[j]
        values[j] = swap
        i++
        j--
      }
    }
    // Now values[lo..j] <= pivot <= values[i..hi], and anything between j and i equals the pivot.
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return values[k]
  }
  return values[k]
}

/** The latencies to first headers seen for one origin over a sliding window: a ring of the latest samples. */
class Latencies {
  private readonly values: Float64Array
  private readonly times: Float64Array
  /** The samples in the window, copied for `select`. */
  private readonly scratch: Float64Array
  private size = 0
  private next = 0
  private cached = -1
  private cachedAt = 0
  private added = 0
  constructor(private readonly delay: Extract<Settings["delay"], { _tag: "Adaptive" }>) {
    this.values = new Float64Array(delay.maxSamples)
    this.times = new Float64Array(delay.maxSamples)
    this.scratch = new Float64Array(delay.maxSamples)
  }
  add(now: number, millis: number): void {
    this.values[this.next] = millis
    this.times[this.next] = now
    this.next = (this.next + 1) % this.values.length
    if (this.size < this.values.length) this.size++
    this.added++
  }
  /**
   * The hedge delay: the percentile of the samples in the window (nearest
   * rank), at least the floor; the initial delay until `minSamples`. Worked
   * out again after 1/32 more samples or a tenth of the window, so a busy
   * client does it rarely.
   */
  delayMillis(now: number): number {
    const delay = this.delay
    const stale = this.cached < 0 || this.added >= Math.max(1, this.size >>> 5) ||
      now - this.cachedAt >= delay.windowMillis / 10
    if (stale) {
      const since = now - delay.windowMillis
      const inWindow = this.scratch
      let count = 0
      for (let i = 0; i < this.size; i++) if (this.times[i] > since) inWindow[count++] = this.values[i]
      if (count < delay.minSamples) {
        this.cached = delay.initialMillis
      } else {
        const rank = Math.ceil(delay.percentile / 100 * count) - 1
        this.cached = Math.max(delay.floorMillis, select(inWindow, count, rank))
      }
      this.cachedAt = now
      this.added = 0
    }
    return this.cached
  }
}

class OriginState {
  readonly budget: Budget
  readonly latencies: Latencies | undefined
  /** When a call to this origin last began. */
  lastSeen = 0
  private cachedCounters: ReturnType<typeof countersOf> | undefined = undefined
  constructor(readonly origin: string, readonly settings: Settings) {
    this.budget = new Budget(settings)
    this.latencies = settings.delay._tag === "Adaptive" ? new Latencies(settings.delay) : undefined
  }
  get counters(): ReturnType<typeof countersOf> {
    return this.cachedCounters ??= countersOf(this.origin)
  }
  delayMillis(now: number): number {
    return this.latencies === undefined
      ? (this.settings.delay as { millis: number }).millis
      : this.latencies.delayMillis(now)
  }
}

/**
 * What one hedging client keeps: its settings and a state per origin.
 *
 * @internal
 */
export class State {
  private readonly origins = new Map<string, OriginState>()
  /** How long an origin's state still matters after its last call: its budget's window, or its latencies'. */
  private readonly memoryMillis: number
  /** The size at which the next sweep runs: twice what the last one kept, so that sweeps stay rare. */
  private sweepAt = SWEEP_ABOVE
  constructor(readonly settings: Settings) {
    this.memoryMillis = Math.max(
      settings.budgetWindowMillis,
      settings.delay._tag === "Adaptive" ? settings.delay.windowMillis : 0
    )
  }
  /** The number of origins kept (for tests). */
  get size(): number {
    return this.origins.size
  }
  origin(origin: string, now: number): OriginState {
    let state = this.origins.get(origin)
    if (state === undefined) {
      if (this.origins.size >= this.sweepAt) this.sweep(now)
      state = new OriginState(origin, this.settings)
      this.origins.set(origin, state)
    }
    state.lastSeen = now
    return state
  }
  /**
   * Forgets the origins with no call for longer than their windows (their budget and latencies have nothing left
   * to say), and at `MAX_ORIGINS` the longest unseen, down to `SWEEP_ABOVE`.
   * A call in flight keeps its origin's state, forgotten or not.
   */
  private sweep(now: number): void {
    const quiet = now - this.memoryMillis
    for (const [origin, state] of this.origins) {
      if (state.lastSeen < quiet) this.origins.delete(origin)
    }
    if (this.origins.size >= MAX_ORIGINS) {
      const byAge = [...this.origins.values()].sort((a, b) => a.lastSeen - b.lastSeen)
      for (let i = 0; i < byAge.length - SWEEP_ABOVE; i++) this.origins.delete(byAge[i].origin)
    }
    this.sweepAt = Math.min(MAX_ORIGINS, Math.max(SWEEP_ABOVE, 2 * this.origins.size))
  }
}

/** Origins kept before a sweep forgets the quiet ones. */
const SWEEP_ABOVE = 1024

/** @internal */
export const make = (options?: Hedging.Options<unknown>): State => new State(settingsOf(options))

/**
 * One call's hedging: its origin's state and the hedges it may still send.
 *
 * @internal
 */
export interface HedgeCall {
  readonly origin: OriginState
  hedgesLeft: number
}

/**
 * A call that may be hedged (its method is retried, its body can be sent
 * again) starts here: it counts as a request in its origin's budget.
 *
 * @internal
 */
export const begin = (
  state: State,
  call: Call<unknown>,
  now: number
): HedgeCall | undefined => {
  if (!Decision.mayResend(call.plan, call.request)) return undefined
  const origin = state.origin(call.origin, now)
  origin.budget.request(now)
  return { origin, hedgesLeft: state.settings.maxHedges }
}

const sentKey = MetricKey.counter("http_retry_hedges_sent", {
  description: "Hedges sent: attempts started while another attempt of the same call was still waiting for its answer",
  incremental: true
})
const wonKey = MetricKey.counter("http_retry_hedges_won", {
  description: "Hedges whose answer was the one the call returned",
  incremental: true
})
const refusedKey = MetricKey.counter("http_retry_hedges_refused", {
  description: "Hedges not sent because the hedge budget (budget=hedge) or the retry budget (budget=retry) was spent",
  incremental: true
})

/** @internal */
export const hedgesSent: Metric.Metric.Counter<number> = Metric.fromMetricKey(sentKey)

/** @internal */
export const hedgesWon: Metric.Metric.Counter<number> = Metric.fromMetricKey(wonKey)

/** @internal */
export const hedgesRefused: Metric.Metric.Counter<number> = Metric.fromMetricKey(refusedKey)

/** The counters of one origin, keyed once (originMetrics.ts). */
const countersOf = (origin: string) => ({
  sent: forOrigin(sentKey, origin),
  won: forOrigin(wonKey, origin),
  refusedHedge: forOrigin(refusedKey, origin, { budget: "hedge" }),
  refusedRetry: forOrigin(refusedKey, origin, { budget: "retry" })
})

const passThrough: Continue = {
  onSuccess: Effect.succeed,
  onFailure: Effect.failCause
}

type Response = HttpClientResponse.HttpClientResponse

type Outcome = {
  readonly n: number
  readonly hedge: boolean
  readonly startMillis: number
  readonly exit: Exit.Exit<Response, unknown>
}

const isStatusOk = (response: Response): boolean => response.status >= 200 && response.status < 300

const TIMER = "timer" as const

/** An attempt on a fiber of its own: its exit is the fiber's value. */
type AttemptFiber = Fiber.RuntimeFiber<Exit.Exit<Response, unknown>>

/**
 * The first attempt of a round run on the caller's own fiber (`onCaller`), for a client that aborts a send through
 * `AttemptTimeout.abortWith`: stopped by aborting its send, and its outcome known when the caller's fiber has it.
 */
class CallerAttempt {
  private abortSend: (() => void) | undefined = undefined
  private aborted = false
  private exit: Exit.Exit<Response, unknown> | undefined = undefined
  private observer: ((exit: Exit.Exit<Response, unknown>) => void) | undefined = undefined
  /** Given to the client (`AttemptTimeout.abortWith`), which calls it as the send starts. */
  readonly abortWith = (abort: () => void): void => {
    if (this.aborted) abort()
    else this.abortSend = abort
  }
  /** Stops the attempt: its send is aborted now, or as soon as it starts. */
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    const abort = this.abortSend
    this.abortSend = undefined
    abort?.()
  }
  /** The attempt's end, told by the caller's fiber. */
  end(exit: Exit.Exit<Response, unknown>): void {
    this.exit = exit
    this.abortSend = undefined
    const observer = this.observer
    this.observer = undefined
    observer?.(exit)
  }
  observe(observer: (exit: Exit.Exit<Response, unknown>) => void): void {
    if (this.exit !== undefined) observer(this.exit)
    else this.observer = observer
  }
}

/** An attempt of a round with hedges: on a fiber of its own, or the first one on the caller's fiber. */
type Runner = AttemptFiber | CallerAttempt

/**
 * Goes on from an attempt's outcome as the retry does (retry.ts): `n` counts
 * the attempts made, `answered` (by default `n`) names the one whose outcome
 * it is, for the log.
 */
type Settle = (n: number, startMillis: number, answered?: number) => Continue

/**
 * A round's first attempt, `n`, ended before the hedge delay: the round settles on its exit as the retry does without
 * hedging, and an answer's latency is a sample for the adaptive delay.
 */
const settleAlone = (
  hc: HedgeCall,
  n: number,
  now: number,
  settle: Settle,
  clock: Clock.Clock,
  exit: Exit.Exit<Response, unknown>
): Effect.Effect<Response, unknown, unknown> => {
  const k = settle(n, now)
  if (Exit.isFailure(exit)) return k.onFailure(exit.cause)
  const latencies = hc.origin.latencies
  if (latencies !== undefined) {
    const end = clock.unsafeCurrentTimeMillis()
    latencies.add(end, end - now)
  }
  return k.onSuccess(exit.value)
}

/**
 * An answer nobody will read (its call was interrupted, or another attempt settled it): drained on a fiber of its
 * own, so that its connection is not held until the response is collected.
 */
const discard = (call: Call<unknown>, response: Response): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkDaemon(drainDropped(call, response)))

/** Drains an answer no attempt goes on from, bounded as a retried answer's drain is (at most a second). */
const drainDropped = (call: Call<unknown>, response: Response): Effect.Effect<boolean> =>
  drain(response, call.plan.policy.maxDrainBytes, Math.min(call.plan.attemptTimeoutMillis, MAX_DRAIN_MILLIS), false)

/** Whether the call's retry budget, or one in the context (a client with no budget of its own), grants a retry. */
const retryBudgetAllows = (call: Call<unknown>, origin: string): Effect.Effect<boolean> =>
  Effect.flatMap(
    call.budget === undefined ? Effect.serviceOption(RetryBudget) : Effect.succeed(Option.some(call.budget.service)),
    (budget) => Option.isSome(budget) ? budget.value.acquire(origin) : Effect.succeed(true)
  )

/**
 * A failed attempt dropped while another of the round still runs (named in `others` for the log): it costs the
 * retry budget a token, as every failed attempt the policy retries does; a status's `Retry-After` (on 429 and 503, as
 * the policy reads it) still holds for the round's retry, if it fails; and its body is drained beside the others.
 */
const dropFailure = (
  call: Call<unknown>,
  n: number,
  failure: unknown,
  others: () => string,
  clock: Clock.Clock
): Effect.Effect<unknown, never, unknown> => {
  const plan = call.plan
  let dropped: Effect.Effect<unknown, never, unknown> = call.budget === undefined ?
    Effect.void :
    call.budget.dropped(call.origin)
  if (plan.logLevel !== undefined) {
    dropped = Effect.zipRight(
      dropped,
      log(
        call,
        `${call.label}: attempt ${n}/${plan.policy.maxAttempts} -> ${
          describe(failure)
        }; attempt ${others()} still running`
      )
    )
  }
  if (!(failure instanceof Decision.StatusFailure)) return dropped
  const response = failure.response
  if (Decision.honoursRetryAfter(plan, response.status)) {
    const now = clock.unsafeCurrentTimeMillis()
    const asked = Decision.retryAfterOf(response, now)
    if (asked !== undefined) {
      const until = now + Duration.toMillis(asked)
      if (call.retryAfterUntil === undefined || until > call.retryAfterUntil) call.retryAfterUntil = until
    }
  }
  return Effect.zipRight(dropped, Effect.fork(drainDropped(call, response)))
}

/**
 * The round for a client that aborts a send through `AttemptTimeout.abortWith` (the Node layer's transport): the
 * first attempt runs on this fiber, so a call answered within the delay costs one native timer and no fiber. When
 * the timer fires first, the rest of the round (the hedges, and what follows its outcome) runs on a fiber started
 * then with this fiber's context and fiber refs as they were before the attempt (not the attempt's span), and this
 * fiber gives it the first attempt's outcome and joins it. A hedge that wins aborts the first attempt's send.
 * Interrupted, this fiber interrupts that fiber, which stops every attempt still running, and an answer that fiber
 * had already settled on is drained.
 */
const onCaller = (
  call: Call<unknown>,
  hc: HedgeCall,
  n: number,
  now: number,
  settle: Settle,
  parent: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  delayMillis: number
): Effect.Effect<Response, unknown, unknown> => {
  const fiberRefs = parent.getFiberRefs()
  const context = parent.currentContext
  const first = new CallerAttempt()
  const timeoutMillis = Decision.attemptTimeoutMillis(call.plan, now - call.startMillis)
  return Effect.uninterruptibleMask((restore) => {
    // The rest of the round, once the timer has fired: it ends with the round's exit as its value, so that a call
    // failing there is not reported as that fiber's own unhandled failure.
    let rest: Fiber.RuntimeFiber<Exit.Exit<Response, unknown>> | undefined
    let ended = false
    let late: { readonly cancel: () => void } | undefined
    const stopTimer = () => {
      ended = true
      clearTimeout(timer)
      late?.cancel()
    }
    /** Interrupts the rest of the round, and drains the answer it had settled on, if any. */
    const stopRest = (round: Fiber.RuntimeFiber<Exit.Exit<Response, unknown>>) =>
      Effect.flatMap(
        Fiber.interrupt(round),
        (exit) => Exit.isSuccess(exit) && Exit.isSuccess(exit.value) ? discard(call, exit.value.value) : Effect.void
      )
    // Built before the timer is armed: if building it throws (a `tracerDisabledWhen` or span name generator of the
    // caller's), no timer is left to start a round.
    const attempt = Effect.onExit(
      restore(Effect.exit(sendAttempt(call, n, parent, timeoutMillis, passThrough, false, first.abortWith))),
      (exit) => {
        if (Exit.isSuccess(exit)) return Effect.void
        // Interrupted while sending (its send is aborted by the client): no hedge may start, and the rest of the
        // round, if it started, stops its attempts.
        stopTimer()
        return rest === undefined ? Effect.void : stopRest(rest)
      }
    )
    const timer = setTimer(() => {
      late = afterPendingIo(() => {
        late = undefined
        if (ended) return
        rest = startWith(
          fiberRefs,
          context,
          Effect.exit(hedged(call, hc, n, now, settle, clock, first, delayMillis, true))
        )
      })
    }, Math.max(0, now + delayMillis - clock.unsafeCurrentTimeMillis()))
    return Effect.flatMap(attempt, (exit) => {
      stopTimer()
      if (rest === undefined) return restore(settleAlone(hc, n, now, settle, clock, exit))
      first.end(exit)
      const round = rest
      return Effect.flatten(Effect.onInterrupt(restore(Fiber.join(round)), () => stopRest(round)))
    })
  })
}

/**
 * Attempts `n` onwards of `call` with hedging, until one of them settles the
 * call: an answer the policy accepts (the winner, and the others are
 * interrupted), an outcome it does not retry (which ends the call at once, as
 * gRPC's and Envoy's hedging do), or the failure of the last attempt still
 * running. A retried failure while another attempt runs only drops that
 * attempt. `settle(n, startMillis)` goes on from the outcome as the retry
 * loop does without hedging (a failure goes to the decision with `n`, the
 * number of attempts made).
 *
 * Three ways to start, by clock and client:
 * - on any clock but the live one (`TestClock`), the first attempt is a
 *   child fiber and the hedge timer a sleep on that clock (`hedged`);
 * - on the live clock, for a client that aborts its own attempt
 *   (`readsAttemptTimeout(client, { abortable: true })`), the first attempt
 *   runs on the caller's fiber with one native timer (`onCaller`);
 * - on the live clock otherwise, the first attempt runs on a fiber started
 *   beside the caller's (not its child), with one native timer.
 * The native timer fires after the I/O ready at that moment, as the attempt
 * timeout does, so an answer already there wins; only when it fires does the
 * round take on the machinery of several attempts (`hedged`), each attempt's
 * end observed, not joined.
 *
 * @internal
 */
export const round = (
  call: Call<unknown>,
  hc: HedgeCall,
  n: number,
  now: number,
  settle: Settle
): Effect.Effect<Response, unknown, unknown> =>
  Effect.withFiberRuntime((parent) => {
    const clock = clockOf(parent)
    const delayMillis = hc.origin.delayMillis(now)
    if (clock !== liveClock) {
      return Effect.flatMap(
        Effect.fork(attemptOf(call, n, now, false)),
        (first) => hedged(call, hc, n, now, settle, clock, first, delayMillis)
      )
    }
    if (call.abortsAttempt) return onCaller(call, hc, n, now, settle, parent, clock, delayMillis)
    // The common case, an answer within the delay, without the machinery of several attempts: the attempt starts
    // at once beside this fiber (startBeside, so not its child: nothing interrupts it but this code), and one native
    // timer. The wait alone is interruptible; whatever ends it (the caller interrupted while waiting, or at the step
    // that makes the caller interruptible again after it) interrupts the attempt unless it has ended, and the
    // hand-over to `hedged` when the timer fires is uninterruptible, so the attempt is never left running.
    return Effect.uninterruptibleMask((restore) => {
      let first: Fiber.RuntimeFiber<Exit.Exit<Response, unknown>> | undefined
      const wait = Effect.async<Exit.Exit<Exit.Exit<Response, unknown>> | typeof TIMER>(
        (resume) => {
          // Started before the timer is armed: if starting it throws, no timer is left to fire.
          const attempt = first = startBeside(parent, attemptOf(call, n, now, false))
          let late: { readonly cancel: () => void } | undefined
          const observer = (exit: Exit.Exit<Exit.Exit<Response, unknown>>) => {
            clearTimeout(timer)
            late?.cancel()
            resume(Effect.succeed(exit))
          }
          const timer = setTimer(() => {
            late = afterPendingIo(() => {
              attempt.removeObserver(observer)
              resume(Effect.succeed(TIMER))
            })
          }, Math.max(0, now + delayMillis - clock.unsafeCurrentTimeMillis()))
          attempt.addObserver(observer)
          return Effect.sync(() => {
            clearTimeout(timer)
            late?.cancel()
          })
        }
      )
      const waited = Effect.onExit(
        restore(wait),
        (exit) => Exit.isFailure(exit) && first !== undefined ? Fiber.interrupt(first) : Effect.void
      )
      return Effect.flatMap(waited, (outcome) => {
        if (outcome === TIMER) return hedged(call, hc, n, now, settle, clock, first!, delayMillis, true, restore)
        // The attempt's fiber ends with the attempt's exit as its value.
        if (Exit.isFailure(outcome)) return Effect.failCause(outcome.cause)
        return restore(settleAlone(hc, n, now, settle, clock, outcome.value))
      })
    })
  })

/**
 * One trace per call, hedges included: a call with no parent span takes its first attempt's trace once that
 * attempt's answer is in (attempt.ts), too late for a hedge sent beside it. The hedge's parent is then the span the
 * first attempt is sending under, current on the fiber its send runs on while it waits for the answer (the wrapped
 * client's own span), as a retry's parent would be. A client that records no span of its own has it set already.
 */
const joinFirstTrace = (call: Call<unknown>): void => {
  if (call.traceRoot !== true || call.traceParent !== undefined || call.sendFiber === undefined) return
  call.traceParent = call.sendFiber.currentSpan
}

/** Attempt `n`, started at `at`, on its own fiber: its exit is the fiber's value. */
const attemptOf = (call: Call<unknown>, n: number, at: number, hedge: boolean) =>
  Effect.exit(
    Effect.withFiberRuntime<Response, unknown, unknown>((fiber) =>
      sendAttempt(call, n, fiber, Decision.attemptTimeoutMillis(call.plan, at - call.startMillis), passThrough, hedge)
    )
  )

/**
 * The round with attempt `n` running on `first`: the hedge timer (fired
 * already when `fired`), the hedges, and the outcomes as they come.
 */
const hedged = (
  call: Call<unknown>,
  hc: HedgeCall,
  n: number,
  now: number,
  settle: Settle,
  clock: Clock.Clock,
  first: Runner,
  delayMillis: number,
  fired = false,
  restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = identity
): Effect.Effect<Response, unknown, unknown> =>
  Effect.suspend(() => {
    const live = clock === liveClock
    const plan = call.plan
    const max = plan.policy.maxAttempts
    const running = new Map<number, Runner>()
    const done: Array<Outcome> = []
    let wake: (() => void) | undefined
    let started = n - 1
    const adopt = (n: number, at: number, hedge: boolean, runner: Runner) => {
      running.set(n, runner)
      started = n
      const ended = (exit: Exit.Exit<Response, unknown>) => {
        // An attempt stopped here was taken out of `running` first: its end is no outcome.
        if (running.get(n) !== runner) return
        done.push({ n, hedge, startMillis: at, exit })
        const w = wake
        wake = undefined
        w?.()
      }
      if (runner instanceof CallerAttempt) runner.observe(ended)
      else runner.addObserver((exit) => Exit.isSuccess(exit) ? ended(exit.value) : undefined)
    }
    const start = (n: number, at: number, hedge: boolean) =>
      Effect.map(Effect.fork(attemptOf(call, n, at, hedge)), (fiber) => adopt(n, at, hedge, fiber))
    const latencies = hc.origin.latencies
    /**
     * Interrupts the attempts still running. Their time so far is no latency sample: a lower bound only, it
     * would pull a high percentile up to the delay itself, round after round.
     */
    const stopOthers = Effect.suspend(() => {
      if (running.size === 0) return Effect.void
      const fibers: Array<AttemptFiber> = []
      for (const runner of running.values()) {
        if (runner instanceof CallerAttempt) runner.abort()
        else fibers.push(runner)
      }
      running.clear()
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })
    let hedgeAt: number | undefined = fired ? undefined : now + delayMillis

    /** The next outcome, or `TIMER` when the hedge timer fires first. */
    const next: Effect.Effect<Outcome | typeof TIMER> = Effect.suspend(() => {
      const ready = done.shift()
      if (ready !== undefined) return Effect.succeed(ready)
      const at = hedgeAt
      const outcome = Effect.async<Outcome | typeof TIMER>((resume) => {
        let timer: ReturnType<typeof setTimer>
        let late: { readonly cancel: () => void } | undefined
        const cancel = () => {
          if (timer !== undefined) clearTimeout(timer)
          late?.cancel()
        }
        wake = () => {
          cancel()
          resume(Effect.sync(() => done.shift()!))
        }
        if (live && at !== undefined) {
          timer = setTimer(() => {
            late = afterPendingIo(() => {
              wake = undefined
              resume(Effect.succeed(TIMER))
            })
          }, Math.max(0, at - clock.unsafeCurrentTimeMillis()))
        }
        return Effect.sync(() => {
          cancel()
          wake = undefined
        })
      })
      if (live || at === undefined) return outcome
      return Effect.timeoutTo(outcome, {
        duration: Duration.millis(Math.max(0, at - clock.unsafeCurrentTimeMillis())),
        onTimeout: () => TIMER,
        onSuccess: (outcome) => outcome
      })
    })

    /** The hedge timer fired with no answer yet: send a hedge if the limits and the budgets allow. */
    const onTimer = (at: number): Effect.Effect<void, never, unknown> => {
      hedgeAt = undefined
      const elapsed = at - call.startMillis
      if (
        done.length > 0 || hc.hedgesLeft <= 0 || started >= max ||
        // As a retry: only with more than `minTimeLeft` left (under "lastAttempt", the time the first has run).
        plan.maxElapsedMillis - elapsed <= Decision.minTimeLeftMillis(plan, delayMillis) ||
        Decision.attemptTimeoutMillis(plan, elapsed) <= 0
      ) return Effect.void
      // Every hedge is an attempt, and the breaker is asked before every attempt: none while the origin's breaker
      // is no longer closed (it opened while this round ran), nor beside a half-open probe, which goes alone.
      if (call.breaker !== undefined && (call.probing === true || Breaker.refusesHedge(call, at))) {
        return plan.logLevel === undefined ?
          Effect.void :
          log(
            call,
            `${call.label}: attempt ${started}/${max} no answer after ${formatWait(delayMillis)}; ${
              call.probing === true ? "a half-open probe" : "circuit breaker not closed"
            }, not hedging`
          )
      }
      const origin = hc.origin.origin
      // Only a log line needs the label (the redacted URL): kept off the path of a client that does not log.
      const waited = () => `${call.label}: attempt ${started}/${max} no answer after ${formatWait(delayMillis)}`
      const refused = (budget: "hedge" | "retry"): Effect.Effect<void> => {
        const counted = Metric.increment(
          budget === "hedge" ? hc.origin.counters.refusedHedge : hc.origin.counters.refusedRetry
        )
        return plan.logLevel === undefined ?
          counted :
          Effect.zipRight(counted, log(call, `${waited()}; ${budget} budget spent, not hedging`))
      }
      if (!hc.origin.budget.take(at)) return refused("hedge")
      // The call's retry budget, or one in the context, is asked too.
      return Effect.flatMap(retryBudgetAllows(call, origin), (allowed): Effect.Effect<void, never, unknown> => {
        if (!allowed) {
          hc.origin.budget.giveBack(at)
          return refused("retry")
        }
        hc.hedgesLeft--
        const hedge = started + 1
        let before: Effect.Effect<void, never, unknown> = Effect.void
        if (plan.logLevel !== undefined) {
          before = log(call, `${waited()}; hedging with attempt ${hedge}`)
        }
        const onHedge = hc.origin.settings.onHedge
        if (onHedge !== undefined) {
          before = Effect.zipRight(
            before,
            onHedge({ attempt: hedge, maxAttempts: max, delay: Duration.millis(delayMillis), request: call.request })
          )
        }
        return Effect.zipRight(
          before,
          Effect.suspend(() => {
            const at = clock.unsafeCurrentTimeMillis()
            if (hc.hedgesLeft > 0) hedgeAt = at + delayMillis
            joinFirstTrace(call)
            // Counted as it starts: a round interrupted in `onHedge` sent no hedge.
            return Effect.zipRight(Metric.increment(hc.origin.counters.sent), start(hedge, at, true))
          })
        )
      })
    }

    const onOutcome = (
      outcome: Outcome
    ): Effect.Effect<Response | undefined, unknown, unknown> => {
      running.delete(outcome.n)
      const { exit } = outcome
      if (Exit.isSuccess(exit) && latencies !== undefined) {
        const end = clock.unsafeCurrentTimeMillis()
        latencies.add(end, end - outcome.startMillis)
      }
      if (Exit.isSuccess(exit) && isStatusOk(exit.value)) {
        const k = settle(outcome.n, outcome.startMillis)
        if (running.size === 0 && !outcome.hedge) return k.onSuccess(exit.value)
        const won = outcome.hedge ? Metric.increment(hc.origin.counters.won) : Effect.void
        return Effect.zipRight(Effect.zipRight(stopOthers, won), k.onSuccess(exit.value))
      }
      const failure = Exit.isSuccess(exit) ?
        Option.some<unknown>(new Decision.StatusFailure(exit.value)) :
        Cause.isDie(exit.cause) ?
        Option.none() :
        Cause.failureOption(exit.cause)
      const retried = Option.isSome(failure) && Decision.retryable(plan, Decision.classify(failure.value))
      if (!retried || running.size === 0) {
        // The last attempt running failed, or an outcome the policy does not retry: on as without hedging.
        // Counted as the attempts started so far; the log names the attempt that answered.
        const k = settle(started, outcome.startMillis, outcome.n)
        return Effect.zipRight(stopOthers, Exit.isSuccess(exit) ? k.onSuccess(exit.value) : k.onFailure(exit.cause))
      }
      // A failed attempt while another still runs: dropped.
      const others = () => Array.from(running.keys()).join(", ")
      return Effect.as(dropFailure(call, outcome.n, failure.value, others, clock), undefined)
    }

    const loop: Effect.Effect<Response, unknown, unknown> = Effect.flatMap(
      next,
      (outcome) =>
        outcome === TIMER ?
          Effect.zipRight(Effect.suspend(() => onTimer(clock.unsafeCurrentTimeMillis())), loop) :
          Effect.flatMap(onOutcome(outcome), (response) => response === undefined ? loop : Effect.succeed(response))
    )

    /** Outcomes that arrived but were not read: the round ended first (interrupted, or settled by another). */
    const leftovers = Effect.suspend(() => {
      const answers = done.splice(0).flatMap((outcome) => Exit.isSuccess(outcome.exit) ? [outcome.exit.value] : [])
      return answers.length === 0
        ? Effect.void
        : Effect.forEach(answers, (answer) => discard(call, answer), { discard: true })
    })

    adopt(n, now, false, first)
    const begin = fired ? Effect.zipRight(Effect.suspend(() => onTimer(clock.unsafeCurrentTimeMillis())), loop) : loop
    return Effect.onExit(restore(begin), () => Effect.zipRight(stopOthers, leftovers))
  })
