import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Api from "../RetryBudget.js"
import type { Decision } from "./decision.js"
import { forOrigin, MAX_ORIGINS, PerOrigin } from "./originMetrics.js"
import { booleanText, catchPolicyError, numberText, RetryPolicyError, show, variable } from "./retryPolicy.js"

/** Public as `RetryBudget.RetryBudget`: left unmarked so its declaration stays in the published types. */
export class RetryBudget extends Context.Tag("@http-retry/core/RetryBudget")<RetryBudget, Api.Service>() {}

// --- Options ------------------------------------------------------------------

/**
 * `Required<Options>` with the numbers filled in.
 *
 * @internal
 */
export interface Resolved {
  readonly maxTokens: number
  readonly tokenRatio: number
}

/** @internal */
export const defaults: Resolved = { maxTokens: 100, tokenRatio: 0.1 }

/**
 * Tokens are counted in thousandths, as gRPC's implementations count them: a
 * refund of 0.1 is exact, and a thousand refunds make exactly 100.
 */
const SCALE = 1000

const thousandths = (n: number): boolean => Math.abs(Math.round(n * SCALE) - n * SCALE) < 1e-6

const fail = (field: string, value: unknown, reason: string): never => {
  throw new RetryPolicyError({ field, value, reason })
}

const KEYS = ["maxTokens", "tokenRatio"]

const decodeNumber = (field: string, value: unknown, fallback: number, max: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) {
    return fail(field, value, `expected a number more than 0 and at most ${max}`)
  }
  if (!thousandths(value)) return fail(field, value, "expected at most 3 decimal places (gRPC's precision)")
  return value
}

const optionsUnsafe = (options: Api.Options = {}): Resolved => {
  if (!Predicate.isRecord(options)) return fail("budget", options, "expected { maxTokens, tokenRatio }")
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) fail(`budget.${key}`, (options as Record<string, unknown>)[key], "unknown option")
  }
  return {
    maxTokens: decodeNumber("budget.maxTokens", options.maxTokens, defaults.maxTokens, 1000),
    tokenRatio: decodeNumber("budget.tokenRatio", options.tokenRatio, defaults.tokenRatio, 1)
  }
}

/** @internal */
export const validate = (
  options?: Api.Options
): Either.Either<Resolved, RetryPolicyError> => catchPolicyError(() => optionsUnsafe(options))

// --- Origins ------------------------------------------------------------------

const SIMPLE_HOST = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/
/** A last label that makes WHATWG read the host as an IPv4 address, which it then rewrites. */
const NUMERIC_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** The page's URL where there is one (a browser, Deno's `--location`), which a relative URL resolves against. */
const baseUrl = (): string | undefined => {
  const location = (globalThis as { readonly location?: { readonly origin?: string; readonly pathname?: string } })
    .location
  return location?.origin !== undefined && location.pathname !== undefined ?
    location.origin + location.pathname :
    undefined
}

/** The origin of every URL that does not parse. */
const INVALID_URL = "invalid-url:"

const slowOrigin = (url: string): string => {
  try {
    // Resolved as the platform's client resolves it before sending.
    return new URL(url, baseUrl()).origin
  } catch {
    // Not sent at all (the client fails it as an invalid URL): one origin for all such, which shows none of its text.
    return INVALID_URL
  }
}

/**
 * `new URL(url).origin` without parsing the URL, for the http(s) URLs a client
 * sends: scheme and host lower-cased, the default port left out. Anything
 * unusual (IPv6, IDN, a host WHATWG rewrites, backslashes, spaces, a
 * relative URL) goes to `new URL`; a URL that does not parse has the origin
 * `invalid-url:`, which shows nothing of it.
 */
const originOfPrefix = (url: string): string => {
  let scheme: "http" | "https"
  let start: number
  const c4 = url.charCodeAt(4)
  if ((c4 === 58 /* : */) && /^http$/i.test(url.slice(0, 4))) {
    scheme = "http"
    start = 7
  } else if ((c4 === 115 || c4 === 83) && url.charCodeAt(5) === 58 && /^https$/i.test(url.slice(0, 5))) {
    scheme = "https"
    start = 8
  } else {
    return slowOrigin(url)
  }
  if (url.charCodeAt(start - 2) !== 47 || url.charCodeAt(start - 1) !== 47) return slowOrigin(url)
  let end = url.length
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i
      break
    }
    if (c === 92 /* \ */ || c <= 32 || c >= 127) return slowOrigin(url)
  }
  let authority = url.slice(start, end)
  const at = authority.lastIndexOf("@")
  if (at !== -1) authority = authority.slice(at + 1)
  const colon = authority.indexOf(":")
  let host = (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase()
  if (!SIMPLE_HOST.test(host) || host.includes("xn--")) return slowOrigin(url)
  if (NUMERIC_LABEL.test(host) && !CANONICAL_IPV4.test(host)) return slowOrigin(url)
  if (colon !== -1) {
    const port = authority.slice(colon + 1)
    if (port !== "") {
      if (!/^[1-9]\d{0,4}$/.test(port) || Number(port) > 65535) return slowOrigin(url)
      if (port !== (scheme === "http" ? "80" : "443")) host = `${host}:${port}`
    }
  }
  return `${scheme}://${host}`
}

/** Origins already worked out, by the URL up to its path (few per client: a scan and a lookup per call). */
const origins = new Map<string, string>()

/**
 * `new URL(url).origin`, worked out once per scheme and authority: the same
 * origin string comes back for every URL of an origin, so the budget's and
 * the breaker's maps find it without hashing a new string.
 *
 * @internal
 */
export const originOf = (url: string): string => {
  const slashes = url.indexOf("//")
  // A relative or opaque URL: its text is no origin's, so it is not cached (a query would fill the cache).
  if (slashes === -1) return originOfPrefix(url)
  let end = url.length
  for (let i = slashes + 2; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i
      break
    }
  }
  const prefix = end === url.length ? url : url.slice(0, end)
  let origin = origins.get(prefix)
  if (origin === undefined) {
    // The origin depends on the part before the path only; a URL that does not parse is not cached.
    origin = originOfPrefix(url)
    if (origin === INVALID_URL) return origin
    if (origins.size >= 1024) origins.clear()
    origins.set(prefix, origin)
  }
  return origin
}

// --- The local budget ---------------------------------------------------------

/**
 * The buckets of this process. Only origins below `maxTokens` have an entry:
 * one that refills is dropped, so a client that has talked to many healthy
 * origins keeps nothing for them. Past `MAX_ORIGINS` entries, the one whose
 * last failure is the oldest is forgotten (full again) when another goes below.
 */
class LocalBudget implements Api.Service {
  private readonly buckets = new Map<string, number>()
  private readonly max: number
  private readonly refund: number
  constructor(readonly options: Resolved) {
    this.max = Math.round(options.maxTokens * SCALE)
    this.refund = Math.round(options.tokenRatio * SCALE)
  }
  readonly record = (origin: string, outcome: "success" | "failure"): void => {
    const left = this.buckets.get(origin)
    if (outcome === "success") {
      if (left === undefined) return
      if (left + this.refund >= this.max) this.buckets.delete(origin)
      else this.buckets.set(origin, left + this.refund)
    } else {
      // Kept in the order of their last failure: the one forgotten past MAX_ORIGINS is the one that failed longest ago.
      if (left === undefined) {
        if (this.buckets.size >= MAX_ORIGINS) this.buckets.delete(this.buckets.keys().next().value!)
      } else {
        this.buckets.delete(origin)
      }
      this.buckets.set(origin, Math.max(0, (left ?? this.max) - SCALE))
    }
  }
  // gRPC: a retry is throttled while the tokens are at or below half of the maximum.
  readonly acquire = (origin: string): Effect.Effect<boolean> =>
    Effect.sync(() => (this.buckets.get(origin) ?? this.max) * 2 > this.max)
  readonly tokens = (origin: string): number => (this.buckets.get(origin) ?? this.max) / SCALE
}

/** @internal */
export const unsafeMake = (options?: Api.Options): Api.Service => new LocalBudget(optionsUnsafe(options))

/** @internal */
export const make = (options?: Api.Options): Effect.Effect<Api.Service, RetryPolicyError> =>
  Effect.suspend(() => Either.map(validate(options), (valid) => new LocalBudget(valid)))

/** @internal */
export const layer = (options?: Api.Options): Layer.Layer<RetryBudget, RetryPolicyError> =>
  Layer.effect(RetryBudget, make(options))

/**
 * The budget a layer's `budget` option asks for: none when off; else the
 * `RetryBudget` in the layer's context, or a local one. The options are
 * validated when the layer is made, as the policy is.
 *
 * @internal
 */
export const fromOption = (
  option: boolean | Api.Options | undefined
): Effect.Effect<Api.Service | undefined> => {
  if (option === undefined || option === false) return Effect.succeed(undefined)
  if (option !== true && !Predicate.isRecord(option)) {
    fail("budget", option, "expected true, false or { maxTokens, tokenRatio }")
  }
  const options = optionsUnsafe(option === true ? {} : option)
  return Effect.map(
    Effect.serviceOption(RetryBudget),
    Option.getOrElse(() => new LocalBudget(options))
  )
}

// --- Metrics ------------------------------------------------------------------

const retriesKey = MetricKey.counter("http_retry_retries", {
  description: "Retries made under a retry budget, by origin",
  incremental: true
})
const retriesRefusedKey = MetricKey.counter("http_retry_retries_refused", {
  description: "Retries the retry budget refused, by origin",
  incremental: true
})
const tokensKey = MetricKey.gauge("http_retry_budget_tokens", {
  description: "Tokens left in the retry budget, by origin, as this process knows them"
})

/** @internal */
export const retries: Metric.Metric.Counter<number> = Metric.fromMetricKey(retriesKey)

/** @internal */
export const retriesRefused: Metric.Metric.Counter<number> = Metric.fromMetricKey(retriesRefusedKey)

/** @internal */
export const tokens: Metric.Metric.Gauge<number> = Metric.fromMetricKey(tokensKey)

/** The budget's metrics of one origin, keyed once (originMetrics.ts). */
const metricsOf = (origin: string) => ({
  retries: forOrigin(retriesKey, origin),
  retriesRefused: forOrigin(retriesRefusedKey, origin),
  tokens: forOrigin(tokensKey, origin)
})

// --- The hooks of the retry loop ---------------------------------------------

const budgetExhausted: Decision = { _tag: "GiveUp", reason: "BudgetExhausted" }

/**
 * A budget as the retry loop uses it: what the loop calls after each attempt
 * and before each retry. The gauge is set only when the tokens of an origin
 * have changed since it was last set, so a healthy origin costs two map
 * lookups per attempt.
 *
 * @internal
 */
export class Hooks {
  private readonly published = new Map<string, number>()
  private readonly metrics = new PerOrigin(metricsOf)
  constructor(readonly service: Api.Service) {}

  /** How many origins' last published tokens are kept (for tests). */
  get publishedOrigins(): number {
    return this.published.size
  }

  private publish(origin: string): Effect.Effect<void> | undefined {
    const left = this.service.tokens(origin)
    const last = this.published.get(origin)
    if (last === left) return undefined
    // Forgotten all at once past MAX_ORIGINS, as `PerOrigin` forgets: a gauge is then set once more.
    if (last === undefined && this.published.size >= MAX_ORIGINS) this.published.clear()
    this.published.set(origin, left)
    return Metric.set(this.metrics.get(origin).tokens, left)
  }

  /** After an answer the policy accepts: a refund. */
  succeeded<A, E, R>(origin: string, next: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    this.service.record(origin, "success")
    const publish = this.publish(origin)
    return publish === undefined ? next : Effect.zipRight(publish, next)
  }

  /**
   * After a failed attempt, once the policy has decided: a failure it retries
   * costs a token, and a retry it would make goes only if the budget lets it.
   */
  failed<A, E, R>(
    origin: string,
    attempt: number,
    decision: Decision,
    next: (decision: Decision) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    if (decision._tag === "GiveUp" && decision.reason === "NotRetryable") return next(decision)
    this.service.record(origin, "failure")
    const publish = this.publish(origin)
    const go: Effect.Effect<A, E, R> = decision._tag === "GiveUp" ?
      next(decision) :
      Effect.flatMap(this.service.acquire(origin), (granted) =>
        granted ?
          Effect.zipRight(Metric.increment(this.metrics.get(origin).retries), next(decision)) :
          Effect.zipRight(this.refused(origin, attempt), next(budgetExhausted)))
    return publish === undefined ? go : Effect.zipRight(publish, go)
  }

  /** A failed attempt of a hedged round dropped while another runs: a failure the policy retries costs a token. */
  dropped(origin: string): Effect.Effect<void> {
    this.service.record(origin, "failure")
    return this.publish(origin) ?? Effect.void
  }

  private refused(origin: string, attempt: number): Effect.Effect<void> {
    return Effect.zipRight(
      Metric.increment(this.metrics.get(origin).retriesRefused),
      Effect.flatMap(
        Effect.currentSpan,
        (span) =>
          Effect.clockWith((clock) =>
            Effect.sync(() =>
              span.event("http_retry.retry_refused", clock.unsafeCurrentTimeNanos(), {
                "http_retry.origin": origin,
                "http_retry.attempt": attempt,
                "http_retry.budget.tokens": this.service.tokens(origin)
              })
            )
          )
      ).pipe(Effect.ignore)
    )
  }
}

const hooks = new WeakMap<Api.Service, Hooks>()

/**
 * The hooks of a budget, one per budget: the clients that share it (a layer's, and those `HttpRetry.request`
 * makes from it) share what was last published to the gauge.
 *
 * @internal
 */
export const hooksOf = (service: Api.Service): Hooks => {
  let found = hooks.get(service)
  if (found === undefined) {
    found = new Hooks(service)
    hooks.set(service, found)
  }
  return found
}

// --- Config -------------------------------------------------------------------

/**
 * `<prefix>_BUDGET` (true or false), `<prefix>_BUDGET_MAX_TOKENS` and
 * `<prefix>_BUDGET_TOKEN_RATIO`. Setting a number turns the budget on unless
 * `<prefix>_BUDGET` is false: a number that is set is never silently unused.
 *
 * @internal
 */
export const config = (prefix = "HTTP_RETRY"): Config.Config<false | Api.Options> => {
  const name = (suffix: string) => prefix === "" ? suffix : `${prefix}_${suffix}`
  const names = { maxTokens: name("BUDGET_MAX_TOKENS"), tokenRatio: name("BUDGET_TOKEN_RATIO") }
  return Config.all({
    on: variable(name("BUDGET"), booleanText),
    maxTokens: variable(names.maxTokens, numberText),
    tokenRatio: variable(names.tokenRatio, numberText)
  }).pipe(
    Config.mapOrFail(({ maxTokens, on, tokenRatio }) => {
      const options: { maxTokens?: number; tokenRatio?: number } = {}
      if (Option.isSome(maxTokens)) options.maxTokens = maxTokens.value.value
      if (Option.isSome(tokenRatio)) options.tokenRatio = tokenRatio.value.value
      const result = validate(options)
      if (Either.isLeft(result)) {
        const error = result.left
        const key = error.field === "budget.maxTokens" ? "maxTokens" : "tokenRatio"
        const read = key === "maxTokens" ? maxTokens : tokenRatio
        const text = Option.isSome(read) ? read.value.text : String(error.value)
        return Either.left(
          ConfigError.InvalidData([names[key]], `${names[key]}=${show(text)}: ${error.message}`)
        )
      }
      const enabled = Option.isSome(on) ? on.value.value : Option.isSome(maxTokens) || Option.isSome(tokenRatio)
      return Either.right(enabled ? options : false)
    })
  )
}
