import * as Duration from "effect/Duration"
import * as LogLevel from "effect/LogLevel"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as Redact from "./redact.js"
import * as policyInternal from "./retryPolicy.js"

/**
 * A policy compiled for the retry loop: everything it needs, computed once
 * per policy (and once per policy and list of `withPolicy` overrides).
 *
 * @internal
 */
export interface Plan {
  readonly policy: RetryPolicy.RetryPolicy
  readonly methods: ReadonlySet<string>
  readonly statuses: (status: number) => boolean
  readonly maxElapsedMillis: number
  readonly attemptTimeoutMillis: number
  readonly maxRetryAfterMillis: number
  readonly baseDelayMillis: number
  readonly maxDelayMillis: number
  /** `minTimeLeft` in milliseconds, `undefined` for `"lastAttempt"`. */
  readonly minTimeLeftMillis: number | undefined
  readonly redaction: Redact.Redaction
  readonly logLevel: LogLevel.LogLevel | undefined
  readonly merged: WeakMap<ReadonlyArray<RetryPolicy.Options>, Plan>
}

const plans = new WeakMap<RetryPolicy.RetryPolicy, Plan>()

/** @internal */
export const planOf = (policy: RetryPolicy.RetryPolicy): Plan => {
  let plan = plans.get(policy)
  if (plan === undefined) {
    plan = {
      policy,
      methods: new Set(policy.methods),
      statuses: (status) => policyInternal.retriesStatus(policy, status),
      maxElapsedMillis: Duration.toMillis(policy.maxElapsed),
      attemptTimeoutMillis: Duration.toMillis(policy.attemptTimeout),
      maxRetryAfterMillis: Duration.toMillis(policy.maxRetryAfter),
      baseDelayMillis: Duration.toMillis(policy.baseDelay),
      maxDelayMillis: Duration.toMillis(policy.maxDelay),
      minTimeLeftMillis: policy.minTimeLeft === "lastAttempt" ? undefined : Duration.toMillis(policy.minTimeLeft),
      redaction: Redact.make(policy.redact.headers, policy.redact.query),
      logLevel: policy.log === false ? undefined : LogLevel.fromLiteral(policy.log.level),
      merged: new WeakMap()
    }
    plans.set(policy, plan)
  }
  return plan
}

/** @internal */
export const planWith = (base: Plan, overrides: ReadonlyArray<RetryPolicy.Options>): Plan => {
  if (overrides.length === 0) return base
  let plan = base.merged.get(overrides)
  if (plan === undefined) {
    plan = planOf(overrides.reduce(policyInternal.merge, base.policy))
    base.merged.set(overrides, plan)
  }
  return plan
}

/**
 * The backoff after failed attempt `attempt` (from 1): `baseDelay *
 * factor^(attempt - 1)`, capped at `maxDelay`, times `random` (a number in
 * [0, 1)) under full jitter. The same waits as `RetryPolicy.toSchedule`,
 * without its limits: the decision owns those.
 *
 * @internal
 */
export const backoffMillis = (plan: Plan, attempt: number, random: number): number => {
  // A zero base stays zero: 0 × a power that overflowed to Infinity would be NaN.
  const nominal = plan.baseDelayMillis === 0 ?
    0 :
    Math.min(plan.baseDelayMillis * Math.pow(plan.policy.factor, attempt - 1), plan.maxDelayMillis)
  return plan.policy.jitter === "full" ? nominal * random : nominal
}
