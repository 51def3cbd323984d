import * as RetryBudget from "@http-retry/core/RetryBudget"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import type * as Api from "../RedisRetryBudget.js"
import { connect, connectionProblem, describeOption, MAX_TIMER_MILLIS, shapeProblem, shownValue } from "./connection.js"

/** Public as `RedisRetryBudget.RedisRetryBudgetError`: left unmarked so its declaration stays in the published types. */
export class RedisRetryBudgetError extends Data.TaggedError("RedisRetryBudgetError")<{
  /** The option or field, by its path. */
  readonly field: string
  /** The value given (a URL's password is never kept). */
  readonly value: unknown
  /** What it must be. */
  readonly expected: string
}> {
  constructor(args: { readonly field: string; readonly value: unknown; readonly expected: string }) {
    // Kept as shown: a connection string, password and all, may be given where any option goes.
    super({ ...args, value: shownValue(args.value) })
  }
  /** The field, the value and what is wrong, in one line. */
  override get message(): string {
    return `RedisRetryBudget: ${this.field} must be ${this.expected}, got ${describeOption(this.value)}`
  }
}

/** @internal */
export const defaults = {
  keyPrefix: "http-retry:budget:",
  flushInterval: Duration.millis(100),
  idleExpiry: Duration.minutes(10),
  timeout: Duration.millis(100),
  connectTimeout: Duration.seconds(1),
  maxTokens: 100,
  tokenRatio: 0.1
} as const

/** @internal */
export interface Resolved {
  readonly keyPrefix: string
  readonly flushInterval: Duration.Duration
  readonly idleExpiry: Duration.Duration
  readonly timeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  readonly budget: Required<RetryBudget.Options>
  /** Thousandths of a token, as gRPC counts them: exact sums, no float drift across a fleet. */
  readonly maxMilli: number
  readonly ratioMilli: number
}

const positiveDuration = (
  field: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Either.Either<Duration.Duration, RedisRetryBudgetError> => {
  if (input === undefined) return Either.right(fallback)
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) < 1) {
    return Either.left(
      new RedisRetryBudgetError({ field, value: input, expected: "a finite duration of 1 ms or more" })
    )
  }
  if (Duration.toMillis(decoded.value) > MAX_TIMER_MILLIS) {
    // Node fires a longer timer after 1 ms.
    return Either.left(
      new RedisRetryBudgetError({ field, value: input, expected: "at most 24 days (Node's longest timer)" })
    )
  }
  return Either.right(decoded.value)
}

const OPTION_KEYS = [
  "redis",
  "client",
  "keyPrefix",
  "budget",
  "flushInterval",
  "idleExpiry",
  "timeout",
  "connectTimeout"
]
const BUDGET_KEYS = ["maxTokens", "tokenRatio"]

// Tokens are counted in thousandths, as gRPC counts them (and as the core's local budget does).
const thousandths = (n: number): boolean => Math.abs(n * 1000 - Math.round(n * 1000)) < 1e-6

/** @internal */
export const validate = (options: Api.Options = {}): Either.Either<Resolved, RedisRetryBudgetError> =>
  Either.gen(function*() {
    const shape = shapeProblem(options, OPTION_KEYS, "RedisRetryBudget") ??
      (options.budget === undefined ? undefined : shapeProblem(options.budget, BUDGET_KEYS, "the budget", "budget."))
    if (shape !== undefined) return yield* Either.left(new RedisRetryBudgetError(shape))
    const maxTokens = options.budget?.maxTokens ?? defaults.maxTokens
    if (typeof maxTokens !== "number" || !(maxTokens > 0 && maxTokens <= 1000)) {
      return yield* Either.left(
        new RedisRetryBudgetError({
          field: "budget.maxTokens",
          value: maxTokens,
          expected: "more than 0, at most 1000"
        })
      )
    }
    if (!thousandths(maxTokens)) {
      return yield* Either.left(
        new RedisRetryBudgetError({ field: "budget.maxTokens", value: maxTokens, expected: "at most 3 decimal places" })
      )
    }
    const tokenRatio = options.budget?.tokenRatio ?? defaults.tokenRatio
    if (typeof tokenRatio !== "number" || !(tokenRatio > 0 && tokenRatio <= 1)) {
      return yield* Either.left(
        new RedisRetryBudgetError({ field: "budget.tokenRatio", value: tokenRatio, expected: "more than 0, at most 1" })
      )
    }
    if (!thousandths(tokenRatio)) {
      return yield* Either.left(
        new RedisRetryBudgetError({
          field: "budget.tokenRatio",
          value: tokenRatio,
          expected: "at most 3 decimal places"
        })
      )
    }
    const keyPrefix = options.keyPrefix ?? defaults.keyPrefix
    if (typeof keyPrefix !== "string") {
      return yield* Either.left(
        new RedisRetryBudgetError({ field: "keyPrefix", value: keyPrefix, expected: "a string" })
      )
    }
    const connection = connectionProblem(options)
    if (connection !== undefined) return yield* Either.left(new RedisRetryBudgetError(connection))
    if (options.client !== undefined && options.redis !== undefined) {
      return yield* Either.left(
        new RedisRetryBudgetError({
          field: "client",
          value: "a client and redis options",
          expected: "given alone: the layer uses your client as it is, or makes its own from `redis`"
        })
      )
    }
    const flushInterval = yield* positiveDuration("flushInterval", options.flushInterval, defaults.flushInterval)
    const idleExpiry = yield* positiveDuration("idleExpiry", options.idleExpiry, defaults.idleExpiry)
    const timeout = yield* positiveDuration("timeout", options.timeout, defaults.timeout)
    const connectTimeout = yield* positiveDuration("connectTimeout", options.connectTimeout, defaults.connectTimeout)
    return {
      keyPrefix,
      flushInterval,
      idleExpiry,
      timeout,
      connectTimeout,
      budget: { maxTokens, tokenRatio },
      maxMilli: Math.round(maxTokens * 1000),
      ratioMilli: Math.round(tokenRatio * 1000)
    }
  })

/**
 * Applies a batch of deltas per origin and returns the tokens after it, in thousandths. Refunds go first, then
 * failures: of the orders the batch's attempts may have had, the one that leaves the fewest tokens (a refund on a
 * full bucket is lost, a failure on an empty one is not made up), so batching never lets through more retries than
 * any order of the same attempts would. A key is written only when its origin has a delta, and every write sets its
 * expiry again; a key that expired reads as a full bucket.
 *
 * KEYS: one per origin. ARGV: max, ratio (thousandths), expiry (ms), then failures and successes per key.
 *
 * @internal
 */
export const script = `local max = tonumber(ARGV[1])
local ratio = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  local failures = tonumber(ARGV[2 + 2 * i])
  local successes = tonumber(ARGV[3 + 2 * i])
  -- A key that is not this store's (another type, or not a number) reads as a full bucket, and is replaced by the
  -- next write: one stray key must not fail the whole call, and with it every origin's sharing.
  local raw = redis.pcall("GET", KEYS[i])
  local tokens = type(raw) == "string" and tonumber(raw) or max
  if tokens > max or tokens < 0 or tokens ~= tokens then tokens = max end
  if failures > 0 or successes > 0 then
    tokens = math.max(0, math.min(max, tokens + successes * ratio) - failures * 1000)
    redis.call("SET", KEYS[i], string.format("%d", tokens), "PX", ttl)
  end
  out[i] = tokens
end
return out
`

const scriptSha = createHash("sha1").update(script).digest("hex")

/** The same arithmetic as the script, for the local view. @internal */
export const apply = (tokens: number, failures: number, successes: number, max: number, ratio: number): number =>
  Math.max(0, Math.min(max, Math.min(tokens, max) + successes * ratio) - failures * 1000)

interface Entry {
  /** Tokens (thousandths) Redis last answered with; undefined before any answer. */
  shared: number | undefined
  /** Recorded here, not yet sent. */
  failures: number
  successes: number
  /** Sent, no answer yet: counted in the local view until Redis answers (or, on an error, back into pending). */
  sentFailures: number
  sentSuccesses: number
  /** Date.now() of the last record or acquire, to forget an origin gone quiet. */
  touched: number
}

type Answer = { readonly _tag: "Tokens"; readonly tokens: ReadonlyArray<number> } | {
  readonly _tag: "Failed"
  readonly reason: string
}

const reasonOf = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n")[0]
  return String(error)
}

/** @internal */
export const make = (
  options: Api.Options = {}
): Effect.Effect<RetryBudget.Service, RedisRetryBudgetError, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* validate(options)
    const { maxMilli, ratioMilli, keyPrefix } = resolved
    const timeoutMillis = Duration.toMillis(resolved.timeout)
    const expiryMillis = Math.ceil(Duration.toMillis(resolved.idleExpiry))

    const { client, where } = yield* connect(options, "http-retry-budget", timeoutMillis)

    const entries = new Map<string, Entry>()
    const entry = (origin: string): Entry => {
      let found = entries.get(origin)
      if (found === undefined) {
        found = { shared: undefined, failures: 0, successes: 0, sentFailures: 0, sentSuccesses: 0, touched: 0 }
        entries.set(origin, found)
      }
      found.touched = Date.now()
      return found
    }
    const local = (e: Entry): number =>
      apply(e.shared ?? maxMilli, e.failures + e.sentFailures, e.successes + e.sentSuccesses, maxMilli, ratioMilli)

    const runScript = (args: Array<string | number>, keys: number): Promise<unknown> =>
      client.evalsha(scriptSha, keys, ...args).catch((error: unknown) =>
        error instanceof Error && error.message.startsWith("NOSCRIPT") ?
          client.eval(script, keys, ...args) :
          Promise.reject(error)
      )

    /**
     * Sends the pending deltas of `origins` and reads their tokens. The deltas move to `sent` until Redis answers; a
     * late answer (after the caller stopped waiting) still lands, so nothing is lost or counted twice.
     */
    const send = (origins: ReadonlyArray<string>): Promise<Answer> => {
      const batch = origins.map((origin) => {
        const e = entries.get(origin) ?? entry(origin)
        const delta = { origin, e, failures: e.failures, successes: e.successes }
        e.sentFailures += e.failures
        e.sentSuccesses += e.successes
        e.failures = 0
        e.successes = 0
        return delta
      })
      const args: Array<string | number> = batch.map((d) => keyPrefix + d.origin)
      args.push(maxMilli, ratioMilli, expiryMillis)
      for (const d of batch) args.push(d.failures, d.successes)
      const settle = () => {
        for (const d of batch) {
          d.e.sentFailures -= d.failures
          d.e.sentSuccesses -= d.successes
        }
      }
      return runScript(args, batch.length).then(
        (reply): Answer => {
          settle()
          const tokens = Array.isArray(reply) ? reply.map(Number) : []
          if (tokens.length !== batch.length || tokens.some((t) => !Number.isFinite(t))) {
            return { _tag: "Failed", reason: "an answer that is not the script's" }
          }
          batch.forEach((d, i) => {
            d.e.shared = tokens[i]
          })
          return { _tag: "Tokens", tokens }
        },
        (error): Answer => {
          settle()
          for (const d of batch) {
            d.e.failures += d.failures
            d.e.successes += d.successes
          }
          return { _tag: "Failed", reason: reasonOf(error) }
        }
      )
    }

    let healthy = true
    const down = (reason: string) =>
      Effect.suspend(() => {
        if (!healthy) return Effect.void
        healthy = false
        return Effect.logWarning(
          `http-retry budget: Redis at ${where} is unreachable or slow (${reason}); ` +
            "retries are decided on this process's view until it answers again"
        )
      })
    const up = Effect.suspend(() => {
      if (healthy) return Effect.void
      healthy = true
      return Effect.logInfo(`http-retry budget: Redis at ${where} answers again; the budget is shared again`)
    })

    const await_ = (promise: Promise<Answer>) =>
      // Interruptible, so the timeout ends the wait in the scope's finalizer too (finalizers run uninterruptibly).
      Effect.interruptible(Effect.promise(() => promise)).pipe(
        Effect.timeoutOption(resolved.timeout),
        Effect.flatMap(Option.match({
          onNone: () =>
            down(`no answer within ${Duration.format(resolved.timeout)}`).pipe(Effect.as(Option.none<Answer>())),
          onSome: (answer) =>
            answer._tag === "Tokens" ?
              up.pipe(Effect.as(Option.some(answer))) :
              down(answer.reason).pipe(Effect.as(Option.none<Answer>()))
        }))
      )

    let flushing: Promise<Answer> | undefined
    const flush = Effect.suspend(() => {
      if (flushing !== undefined) return Effect.void
      const now = Date.now()
      const origins: Array<string> = []
      for (const [origin, e] of entries) {
        const idle = e.failures === 0 && e.successes === 0 && e.sentFailures === 0 && e.sentSuccesses === 0
        if (idle && now - e.touched >= expiryMillis) entries.delete(origin)
        else if (!idle || !healthy) origins.push(origin)
      }
      // While Redis is down every tick asks again, with what is known (an empty batch when nothing is): its answer is
      // the recovery, and it brings back the fleet's tokens for every origin seen here.
      if (origins.length === 0 && healthy) return Effect.void
      const promise = send(origins).finally(() => {
        flushing = undefined
      })
      flushing = promise
      return Effect.asVoid(await_(promise))
    })

    const threshold = maxMilli / 2
    const asking = new Map<string, Promise<Answer>>()
    const service: RetryBudget.Service = {
      options: resolved.budget,
      record: (origin, outcome) => {
        const e = entry(origin)
        if (outcome === "failure") e.failures++
        else e.successes++
      },
      tokens: (origin) => {
        const e = entries.get(origin)
        return (e === undefined ? maxMilli : local(e)) / 1000
      },
      acquire: (origin) =>
        Effect.suspend(() => {
          const e = entry(origin)
          if (!healthy) return Effect.succeed(local(e) > threshold)
          // One question per origin at a time: the retries that wait with it take its answer plus what this process
          // counted since (the local view right after the answer), instead of one round trip each.
          let question = asking.get(origin)
          if (question === undefined) {
            const sent = send([origin]).finally(() => asking.delete(origin))
            asking.set(origin, sent)
            question = sent
          }
          return Effect.map(await_(question), () => local(e) > threshold)
        })
    }

    // Closing flushes what is pending (as long as Redis answers in time), then the connection goes.
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(flushing === undefined ? Effect.void : Effect.ignore(await_(flushing)), flush)
    )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(resolved.flushInterval), flush)))

    // The first connection is waited for (within `connectTimeout`), so that the first decisions are shared; a server
    // that is not there is no error: the budget starts on the local view and says so once.
    if (client.status !== "ready") {
      const ready = yield* Effect.async<boolean>((resume) => {
        const onReady = () => resume(Effect.succeed(true))
        client.once("ready", onReady)
        return Effect.sync(() => client.off("ready", onReady))
      }).pipe(Effect.timeoutTo({ duration: resolved.connectTimeout, onTimeout: () => false, onSuccess: () => true }))
      if (!ready) yield* down(`no connection within ${Duration.format(resolved.connectTimeout)}`)
    }
    return service
  })

/** @internal */
export const layer = (
  options: Api.Options = {}
): Layer.Layer<RetryBudget.RetryBudget, RedisRetryBudgetError> => Layer.scoped(RetryBudget.RetryBudget, make(options))
