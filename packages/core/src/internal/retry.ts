import type * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Hedging from "../Hedging.js"
import type * as HttpRetry from "../HttpRetry.js"
import * as HttpStatusError from "../HttpStatusError.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import { type Continue, sendAttempt } from "./attempt.js"
import * as Breaker from "./breaker.js"
import type { Call, Wrapped } from "./call.js"
import { isAbortingAttempt, isReadingAttemptTimeout, NoSpansTypeId } from "./clientMarks.js"
import { split } from "./clientSplit.js"
import * as Decision from "./decision.js"
import { drain, MAX_DRAIN_MILLIS } from "./drain.js"
import * as Hedge from "./hedge.js"
import { describe, formatWait, log } from "./logging.js"
import { outerCell } from "./nesting.js"
import { CurrentOverrides, withValidOverrides } from "./overrides.js"
import { backoffMillis, type Plan, planOf, planWith } from "./plan.js"
import * as Redact from "./redact.js"
import { redactError, redactResponse } from "./redactedErrors.js"
import * as Budget from "./retryBudget.js"
import * as policyInternal from "./retryPolicy.js"
import { clockOf } from "./timeout.js"

// The retry loop: send an attempt, route its outcome, ask the decision, and
// carry the decision out (log, drain, onRetry, wait), then the next attempt.

/**
 * Sleeps until `deadline` on the fiber's clock (at once if it has passed).
 * After a drain it sleeps at least one timer's turn, which is what puts the
 * connection back in undici's pool (see drain.ts): one timer instead of two.
 */
const sleepUntil = (deadline: number, afterDrain: boolean): Effect.Effect<void> =>
  Effect.clockWith((clock) => {
    const left = deadline - clock.unsafeCurrentTimeMillis()
    return left > 0 || afterDrain ? clock.sleep(Duration.millis(Math.max(0, left))) : Effect.void
  })

/** Attempt `n`, started at `now` on `fiber`'s clock, bounded as the decision says. */
const attempt = <E>(
  call: Call<E>,
  n: number,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  now: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  // `record` wraps the continuation the outcome settles on: the breaker records it there, and without one it is
  // the continuation itself.
  const send = (record: (k: Continue) => Continue) => {
    // Hedging (hedge.ts): attempts from `n` on run side by side, and the round settles as one attempt would. A call
    // counts in its origin's hedge budget once its first attempt goes (not when the breaker refuses it).
    if (n === 1 && call.hedging !== undefined) call.hedge = Hedge.begin(call.hedging, call as Call<unknown>, now)
    const hedge = call.hedge
    const hedged = hedge !== undefined && hedge.hedgesLeft > 0 && n < call.plan.policy.maxAttempts
    return hedged ?
      Hedge.round(
        call as Call<unknown>,
        hedge,
        n,
        now,
        (n, startMillis, answered) => record(settle(call, n, startMillis, answered))
      ) :
      sendAttempt(
        call,
        n,
        fiber,
        Decision.attemptTimeoutMillis(call.plan, now - call.startMillis),
        record(settle(call, n, now))
      )
  }
  if (call.breaker === undefined) return send(identity)
  // The breaker: a rejected first attempt fails with CircuitOpenError; a rejected retry ends with the last failure.
  return Breaker.guard(
    call,
    n,
    fiber,
    now,
    send,
    (error) =>
      n === 1 ? Breaker.failOpen(call, error) : giveUp(call, n - 1, call.lastFailure, call.lastHint!, "CircuitOpen")
  )
}

/** A later attempt, after a wait: read the clock when it starts. */
const run = <E>(call: Call<E>, n: number): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => attempt(call, n, fiber, clockOf(fiber).unsafeCurrentTimeMillis()))

/**
 * Routes an attempt's outcome: a 2xx is the answer, anything else goes to
 * `afterFailure`. `n` counts the attempts made; `answered` is the one whose
 * outcome this is, for the log (a hedged round may settle on an earlier one).
 */
const settle = <E>(call: Call<E>, n: number, startMillis: number, answered = n): Continue => {
  const plan = call.plan
  return {
    onSuccess: (unredacted) => {
      const response = redactResponse(unredacted, plan.redaction)
      if (response.status < 200 || response.status >= 300) {
        return afterFailure(call, n, startMillis, new Decision.StatusFailure(response), answered)
      }
      const done = plan.logLevel === undefined ?
        Effect.succeed(response) :
        Effect.as(
          log(call, `${call.label}: attempt ${answered}/${plan.policy.maxAttempts} -> ${response.status}`),
          response
        )
      return call.budget === undefined ? done : call.budget.succeeded(call.origin, done)
    },
    onFailure: (cause) => {
      // As `matchEffect`: a defect is not a failure to retry.
      const failure = Cause.isDie(cause) ? Option.none() : Cause.failureOption(cause)
      return Option.isSome(failure) ?
        afterFailure(call, n, startMillis, failure.value, answered) :
        Effect.failCause(cause)
    }
  }
}

/**
 * The waits servers asked for, as the decision reads them after a failure at
 * `now`: the failure's own `Retry-After`, the wait still held from an answer
 * a hedged round dropped (until `heldUntil`), and the longer of the two as
 * the hint the call gives up with (`RetryAfterTooLong`) or waits on.
 */
const retryAfterHints = (
  failure: unknown,
  heldUntil: number | undefined,
  now: number
): {
  readonly hint: Option.Option<Duration.Duration>
  readonly retryAfterMillis: number | undefined
  readonly retryAfterHeldMillis: number | undefined
} => {
  const asked = failure instanceof Decision.StatusFailure ? Decision.retryAfterOf(failure.response, now) : undefined
  const retryAfterMillis = asked === undefined ? undefined : Duration.toMillis(asked)
  const retryAfterHeldMillis = heldUntil !== undefined && heldUntil > now ? heldUntil - now : undefined
  const hint = retryAfterHeldMillis !== undefined && retryAfterHeldMillis > (retryAfterMillis ?? 0) ?
    Option.some(Duration.millis(retryAfterHeldMillis)) :
    Option.fromNullable(asked)
  return { hint, retryAfterMillis, retryAfterHeldMillis }
}

/** After failed attempt `n`: ask the decision, then retry or give up as it says. */
const afterFailure = <E>(
  call: Call<E>,
  n: number,
  startMillis: number,
  failure: unknown,
  answered = n
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.clockWith((clock) => {
    const plan = call.plan
    const now = clock.unsafeCurrentTimeMillis()
    // The wait asked for by an answer dropped from this hedged round (hedge.ts) holds whatever this failure is.
    const { hint, retryAfterHeldMillis, retryAfterMillis } = retryAfterHints(failure, call.retryAfterUntil, now)
    call.retryAfterUntil = undefined
    const decide = (random: number) => {
      const decision = Decision.decide({
        plan,
        request: call.request,
        attempt: n,
        elapsedMillis: now - call.startMillis,
        lastAttemptMillis: now - startMillis,
        failure: Decision.classify(failure),
        backoffMillis: backoffMillis(plan, n, random),
        retryAfterMillis,
        retryAfterHeldMillis
      })
      // A breaker open past the wait: give up now rather than wait for an attempt it would not send. Asked before
      // the budget, which then records the failure without granting (and counting) a retry that will not go.
      if (
        decision._tag === "Retry" && call.breaker !== undefined &&
        Breaker.refusesRetry(call, now + decision.delayMillis)
      ) {
        return giveUpOnOpenCircuit(call, n, failure, hint, answered)
      }
      // With a retry budget, it records the failure and may refuse the retry (retryBudget.ts).
      return call.budget === undefined ?
        carryOut(call, n, failure, now, hint, decision, answered) :
        call.budget.failed(
          call.origin,
          n,
          decision,
          (decision) => carryOut(call, n, failure, now, hint, decision, answered)
        )
    }
    return plan.policy.jitter === "full" ? Effect.flatMap(Random.next, decide) : decide(1)
  })

/** What the budget is told of a failure whose retry the breaker refuses: a failure, and no retry to grant. */
const CIRCUIT_OPEN: Decision.Decision = { _tag: "GiveUp", reason: "CircuitOpen" }

/** Gives up after attempt `n` because the breaker would refuse the retry: recorded by the breaker and the budget. */
const giveUpOnOpenCircuit = <E>(
  call: Call<E>,
  n: number,
  failure: unknown,
  hint: Option.Option<Duration.Duration>,
  answered: number
): Effect.Effect<never, unknown, unknown> => {
  const refused = Effect.zipRight(
    Breaker.retryRefused(call, n + 1),
    giveUp(call, n, failure, hint, "CircuitOpen", answered)
  )
  return call.budget === undefined ? refused : call.budget.failed(call.origin, n, CIRCUIT_OPEN, () => refused)
}

/** A failure as the hooks see it: a transport error redacted as the caller's would be. */
const retryFailure = <E>(failure: unknown, redaction: Redact.Redaction): HttpRetry.RetryFailure<E> =>
  failure instanceof Decision.StatusFailure ?
    { _tag: "Status", response: failure.response } :
    {
      _tag: "Error",
      error: redactError(failure, redaction) as E | Cause.TimeoutException
    }

/** Ends the call after attempt `n` with its failure: typed, redacted, logged, and told to `onGiveUp`. */
const giveUp = <E>(
  call: Call<E>,
  n: number,
  failure: unknown,
  hint: Option.Option<Duration.Duration>,
  reason: HttpStatusError.GiveUpReason,
  answered = n
): Effect.Effect<never, unknown, unknown> => {
  const plan = call.plan
  const max = plan.policy.maxAttempts
  const error = failure instanceof Decision.StatusFailure ?
    HttpStatusError.makeWith(failure.response, n, hint, reason, plan.redaction) :
    redactError(failure, plan.redaction)
  const fail = call.onGiveUp === undefined ?
    Effect.fail(error) :
    Effect.zipRight(
      call.onGiveUp({
        attempt: n,
        maxAttempts: max,
        reason,
        request: call.request,
        // The very error the caller gets.
        failure: failure instanceof Decision.StatusFailure ?
          retryFailure(failure, plan.redaction) :
          { _tag: "Error", error: error as E | Cause.TimeoutException }
      }),
      Effect.fail(error)
    )
  if (plan.logLevel === undefined) return fail
  const line = `${call.label}: attempt ${answered}/${max} -> ${describe(failure)}; giving up: ${reason}`
  return Effect.zipRight(log(call, line), fail)
}

/**
 * Carries out the decision on failed attempt `n`: gives up, or drains the
 * failed answer, logs, runs `onRetry`, waits and sends the next attempt.
 */
const carryOut = <E>(
  call: Call<E>,
  n: number,
  failure: unknown,
  now: number,
  hint: Option.Option<Duration.Duration>,
  decision: Decision.Decision,
  answered = n
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> => {
  const plan = call.plan
  const max = plan.policy.maxAttempts
  if (decision._tag === "GiveUp") return giveUp(call, n, failure, hint, decision.reason, answered)
  const { delayMillis, source, spareMillis } = decision
  if (call.breaker !== undefined) {
    call.lastFailure = failure
    call.lastHint = hint
  }
  const delay = Duration.millis(delayMillis)
  let before: Effect.Effect<boolean, never, unknown> = failure instanceof Decision.StatusFailure ?
    // A drain cut off is followed by the whole wait (below): it may not take the time the next attempt needs.
    drain(failure.response, plan.policy.maxDrainBytes, drainMillis(plan, spareMillis), false) :
    Effect.succeed(true)
  if (plan.logLevel !== undefined) {
    const line = `${call.label}: attempt ${answered}/${max} -> ${describe(failure)}; retrying in ${
      formatWait(delayMillis)
    } (${source})`
    before = Effect.zipRight(log(call, line), before)
  }
  if (call.onRetry !== undefined) {
    before = Effect.zipLeft(
      before,
      call.onRetry({
        attempt: n,
        maxAttempts: max,
        delay,
        source,
        request: call.request,
        failure: retryFailure(failure, plan.redaction)
      })
    )
  }
  // The wait is counted from the failure: draining, logging and onRetry are part of it, so attempts are as far
  // apart as the schedule says. After a drain that was cut off the full wait follows instead: sent sooner, the
  // next attempt raced undici's teardown of the aborted TLS connection, and a socket outlived the dispatcher.
  return Effect.flatMap(
    before,
    (drained) =>
      Effect.zipRight(
        drained ? sleepUntil(now + delayMillis, failure instanceof Decision.StatusFailure) : Effect.sleep(delay),
        run(call, n + 1)
      )
  )
}

/**
 * How long a failed answer's body may take to drain: a second at most, the
 * attempt's timeout at most, and less than the time to spare before the
 * deadline, so that a drain cut off and the full wait after it still let the
 * next attempt start with more than `minTimeLeft` left.
 */
const drainMillis = (plan: Plan, spareMillis: number): number =>
  Math.min(plan.attemptTimeoutMillis, MAX_DRAIN_MILLIS, Math.max(0, Math.ceil(spareMillis) - 1))

/**
 * One call's state. A class, not an object literal spread from `wrapped`
 * with a getter: that literal lands in dictionary mode, and every field read
 * on the attempt's path was a hash lookup (a few µs a call, with the setting
 * of `traceRoot` and `traceParent` later).
 */
class CallState<E> implements Call<E> {
  readonly send: Wrapped<E>["send"]
  readonly onRetry: Wrapped<E>["onRetry"]
  readonly onGiveUp: Wrapped<E>["onGiveUp"]
  readonly budget: Wrapped<E>["budget"]
  readonly tracing: boolean
  readonly innerSpans: boolean
  readonly readsTimeout: boolean
  readonly abortsAttempt: boolean
  readonly breaker: Wrapped<E>["breaker"]
  readonly hedging: Hedge.State | undefined
  readonly defer: boolean
  hedge: Hedge.HedgeCall | undefined = undefined
  traceParent: Call<E>["traceParent"] = undefined
  traceRoot: boolean | undefined = undefined
  probing: boolean | undefined = undefined
  retryAfterUntil: number | undefined = undefined
  private cachedLabel: string | undefined = undefined
  private cachedOrigin: string | undefined = undefined
  constructor(
    wrapped: Wrapped<E>,
    readonly plan: Plan,
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly startMillis: number
  ) {
    this.send = wrapped.send
    this.onRetry = wrapped.onRetry
    this.onGiveUp = wrapped.onGiveUp
    this.budget = wrapped.budget
    this.tracing = wrapped.tracing
    this.innerSpans = wrapped.innerSpans
    this.readsTimeout = wrapped.readsTimeout
    this.abortsAttempt = wrapped.abortsAttempt
    this.breaker = wrapped.breaker
    this.hedging = wrapped.hedging
    this.defer = wrapped.defer
  }
  get origin(): string {
    return this.cachedOrigin ??= Budget.originOf(this.request.url)
  }
  // Only a log line or an error needs the redacted URL: keep URL parsing off the happy path.
  get label(): string {
    return this.cachedLabel ??= `${this.request.method} ${
      Redact.requestUrl(this.request, this.plan.redaction, this.plan.policy.log !== false && this.plan.policy.log.query)
    }`
  }
}

const execute = <E>(
  wrapped: Wrapped<E>,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => {
    // Inside an attempt of another retry loop, under platform combinators that hid this client from it: one of the
    // two loops retries, never both (nesting.ts).
    const outer = outerCell(fiber.currentContext, request)
    if (outer !== undefined) {
      if (!outer.defer) return wrapped.send(request)
      outer.claimed = true
    }
    const plan: Plan = planWith(wrapped.base, Context.get(fiber.currentContext, CurrentOverrides))
    const now = clockOf(fiber).unsafeCurrentTimeMillis()
    const call = new CallState(wrapped, plan, request, now)
    return attempt(call, 1, fiber, now)
  })

/** @internal */
export const RetryingTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/Retrying")

/** @internal */
export interface Retrying {
  readonly [RetryingTypeId]: {
    readonly inner: HttpClient.HttpClient.With<unknown, unknown>
    readonly policy: RetryPolicy.RetryPolicy
    readonly options: HttpRetry.RetryOptions<unknown, unknown> | undefined
    readonly hedging: Hedge.State | undefined
    /** Made by `HttpRetry.client` or `request` over a client not known to retry (nesting.ts). */
    readonly defer: boolean
  }
}

/** @internal */
export const isRetrying = (u: unknown): u is Retrying => Predicate.hasProperty(u, RetryingTypeId)

/**
 * Checks what `withRetry` and `layer` are given, where they are written: a
 * policy that is not a `RetryPolicy` (its options object, say) and a
 * misspelt or mistyped option throw a `RetryPolicyError` naming them, rather
 * than a bare `Error` later or a silent default.
 */
const checkArguments = (policy: unknown, options: unknown, layer: boolean): void => {
  const fail = (field: string, value: unknown, reason: string): never => {
    throw new policyInternal.RetryPolicyError({ field, value, reason })
  }
  if (policy !== undefined && !policyInternal.isRetryPolicy(policy)) {
    fail("policy", policy, "expected a RetryPolicy: RetryPolicy.make(options), or the options to HttpRetry.withPolicy")
  }
  if (options === undefined) return
  if (!Predicate.isRecord(options)) return fail("options", options, "expected an object")
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) fail(`options.${key}`, options[key], `unknown option (${OPTION_KEYS.join(", ")})`)
  }
  for (const key of ["onRetry", "onGiveUp"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "function") {
      fail(`options.${key}`, options[key], "expected a function")
    }
  }
  if (options.tracing !== undefined && typeof options.tracing !== "boolean") {
    fail("options.tracing", options.tracing, "expected true or false")
  }
  if (layer) return
  // withRetry takes the services themselves; the layer takes true or their options (checked where it makes them).
  const isService = (value: unknown, methods: ReadonlyArray<string>) =>
    Predicate.isObject(value) &&
    methods.every((method) => typeof (value as Record<string, unknown>)[method] === "function")
  if (options.budget !== undefined && !isService(options.budget, ["record", "acquire"])) {
    fail("options.budget", options.budget, "expected a RetryBudget service (RetryBudget.make); true is the layer's")
  }
  if (options.breaker !== undefined && !isService(options.breaker, ["admit", "record", "release", "status"])) {
    fail(
      "options.breaker",
      options.breaker,
      "expected a CircuitBreaker service (CircuitBreaker.make); true is the layer's"
    )
  }
}

const OPTION_KEYS = ["onRetry", "onGiveUp", "budget", "tracing", "breaker"]

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
} = function(...args: ReadonlyArray<unknown>) {
  // Not `dual`: bad arguments throw where they are written, data-last too (as `withHedging`'s).
  const wrap = (self: HttpClient.HttpClient.With<unknown, unknown>, policy: unknown, options: unknown) =>
    // Re-wrapping keeps the client's hedging: it is not part of the policy.
    retrying(
      self,
      (policy ?? policyInternal.defaults) as RetryPolicy.RetryPolicy,
      options as HttpRetry.RetryOptions<unknown, unknown> | undefined,
      isRetrying(self) ? self[RetryingTypeId].hedging : undefined
    )
  if (Predicate.hasProperty(args[0], HttpClient.TypeId)) {
    checkArguments(args[1], args[2], false)
    return wrap(args[0] as HttpClient.HttpClient.With<unknown, unknown>, args[1], args[2])
  }
  checkArguments(args[0], args[1], false)
  return (self: HttpClient.HttpClient.With<unknown, unknown>) => wrap(self, args[0], args[1])
} as never

/**
 * A retrying client over `self` (over its inner client if it already retries), hedged when `hedging` is given.
 *
 * @internal
 */
export const retrying = <E, R, R2>(
  self: HttpClient.HttpClient.With<E, R>,
  policy: RetryPolicy.RetryPolicy,
  options: HttpRetry.RetryOptions<E, R2> | undefined,
  hedging: Hedge.State | undefined,
  defer = false
): HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2> => {
  // Retry at one layer only: re-wrapping a retrying client replaces its policy.
  const inner = (isRetrying(self) ? self[RetryingTypeId].inner : self) as HttpClient.HttpClient.With<E, R>
  // The breaker belongs to the client, not to its policy: a re-wrap that names none keeps the one it had.
  const breaker = options?.breaker ?? (isRetrying(self) ? self[RetryingTypeId].options?.breaker : undefined)
  if (breaker !== options?.breaker) options = { ...options, breaker }
  const { preprocess, send } = split(inner)
  const wrapped: Wrapped<E> = {
    base: planOf(policy),
    send,
    onRetry: options?.onRetry,
    onGiveUp: options?.onGiveUp,
    budget: options?.budget === undefined ? undefined : Budget.hooksOf(options.budget),
    tracing: options?.tracing !== false,
    innerSpans: !Predicate.hasProperty(inner, NoSpansTypeId),
    readsTimeout: isReadingAttemptTimeout(inner),
    abortsAttempt: isAbortingAttempt(inner),
    breaker,
    hedging,
    defer
  }
  const client = HttpClient.makeWith(
    (request) => Effect.flatMap(request, (request) => execute(wrapped, request)),
    preprocess
  ) as HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
  Object.defineProperty(client, RetryingTypeId, {
    value: { inner, policy, options, hedging, defer },
    enumerable: false
  })
  return client
}

/** @internal */
export const withHedging: {
  <R2 = never>(
    options?: Hedging.Options<R2>
  ): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
  <E, R, R2 = never>(
    self: HttpClient.HttpClient.With<E, R>,
    options?: Hedging.Options<R2>
  ): HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2>
} = function(this: unknown, ...args: ReadonlyArray<unknown>) {
  const hedge = <E, R, R2>(
    self: HttpClient.HttpClient.With<E, R>,
    options: Hedging.Options<R2> | undefined
  ): HttpClient.HttpClient.With<HttpRetry.RetryError<E>, R | R2> => {
    // The state (per origin) belongs to this client.
    const hedging = Hedge.make(options as Hedging.Options<unknown> | undefined)
    if (!isRetrying(self)) return retrying(self, policyInternal.defaults, undefined, hedging)
    const { inner, options: retryOptions, policy } = self[RetryingTypeId]
    return retrying(
      inner as HttpClient.HttpClient.With<E, R>,
      policy,
      retryOptions,
      hedging
    ) as HttpClient.HttpClient.With<
      HttpRetry.RetryError<E>,
      R | R2
    >
  }
  if (Predicate.hasProperty(args[0], HttpClient.TypeId)) {
    return hedge(args[0] as HttpClient.HttpClient, args[1] as Hedging.Options<unknown> | undefined)
  }
  // Data-last: checked now, so a bad option throws where it is written.
  const options = args[0] as Hedging.Options<unknown> | undefined
  Hedge.settingsOf(options)
  return (self: HttpClient.HttpClient) => hedge(self, options)
} as never

/** @internal */
export const layer = (
  policy: RetryPolicy.RetryPolicy = policyInternal.defaults,
  options?: HttpRetry.LayerOptions
): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> => {
  // Validated here, where the layer is written; a budget or breaker in the context wins over a local one.
  checkArguments(policy, options, true)
  const budget = Budget.fromOption(options?.budget)
  const breakerOption = options?.breaker
  const local = breakerOption === undefined || breakerOption === false ?
    undefined :
    Breaker.make(breakerOption === true ? undefined : breakerOption)
  const breaker: Effect.Effect<CircuitBreaker.Service | undefined> = local === undefined ?
    Effect.succeed(undefined) :
    Effect.flatMap(
      Effect.serviceOption(CircuitBreaker.CircuitBreaker),
      (provided) => Option.isSome(provided) ? Effect.succeed(provided.value) : local
    )
  return Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const retryOptions = { ...options, budget: yield* budget, breaker: yield* breaker }
      return withRetry(client, policy, retryOptions as HttpRetry.RetryOptions<unknown, never>) as HttpClient.HttpClient
    })
  )
}

/**
 * The client as it is if it retries; else retried under the default policy,
 * unless a retrying client under platform combinators turns up when a call
 * runs: then that one retries the call, under its own policy (nesting.ts).
 */
const deferring = (client: HttpClient.HttpClient): HttpClient.HttpClient.With<unknown, unknown> =>
  isRetrying(client) ? client : retrying(client, policyInternal.defaults, undefined, undefined, true)

/** @internal */
export const client: Effect.Effect<
  HttpClient.HttpClient.With<HttpRetry.RetryError<HttpClientError.HttpClientError>>,
  never,
  HttpClient.HttpClient
> = Effect.map(
  HttpClient.HttpClient,
  (client) =>
    deferring(client) as HttpClient.HttpClient.With<
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
    // A policy replaces the client's; its options (onRetry, the budget) stay.
    if (policyInternal.isRetryPolicy(policy)) {
      const options = isRetrying(client) ? client[RetryingTypeId].options : undefined
      return withRetry(client, policy, options as HttpRetry.RetryOptions<HttpClientError.HttpClientError, never>)
        .execute(request)
    }
    const retrying = deferring(client)
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
