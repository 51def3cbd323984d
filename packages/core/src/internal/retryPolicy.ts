import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as Redact from "./redact.js"

/** @internal */
export const TypeId: typeof RetryPolicy.TypeId = Symbol.for("@http-retry/core/RetryPolicy") as typeof RetryPolicy.TypeId

/** @internal */
export const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (Duration.isDuration(value)) return Duration.format(value)
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}

/** Public as `RetryPolicy.RetryPolicyError`: left unmarked so its declaration stays in the published types. */
export class RetryPolicyError extends Data.TaggedError("RetryPolicyError")<{
  /** The option or field, by its path. */
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
    return `Invalid retry policy: ${this.field} = ${show(this.value)} (${this.reason})`
  }
}

const fail = (field: string, value: unknown, reason: string): never => {
  throw new RetryPolicyError({ field, value, reason })
}

const LOG_LEVELS = ["All", "Fatal", "Error", "Warning", "Info", "Debug", "Trace", "None"] as const

const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
  "POST",
  "PATCH",
  "QUERY",
  "CONNECT"
])

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const DURATION_TEXT =
  /^\s*(\d+(?:\.\d+)?)\s*(ms|msec|millis?|milliseconds?|s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)?\s*$/i

/** @internal */
export const parseDuration = (
  text: string,
  options?: { readonly unit?: "optional" | "required" | undefined }
): Either.Either<Duration.Duration, string> => {
  // `10` alone could be seconds (curl) or milliseconds (Effect): where it is read from text a person wrote, ask.
  if (options?.unit === "required" && /^\s*\d+(\.\d+)?\s*$/.test(text)) {
    const n = text.trim()
    return Either.left(`a duration needs a unit: write ${n}s for seconds or ${n}ms for milliseconds`)
  }
  const match = DURATION_TEXT.exec(text)
  if (match === null) {
    return Either.left(
      `expected a duration such as 250ms, 2s, 1.5 minutes or a number of milliseconds, got ${show(text)}`
    )
  }
  const value = Number(match[1])
  const unit = (match[2] ?? "ms").toLowerCase()
  const millis = unit.startsWith("ms") || unit.startsWith("milli") ?
    value :
    unit.startsWith("s") ?
    value * 1000 :
    unit.startsWith("m") ?
    value * 60_000 :
    unit.startsWith("h") ?
    value * 3_600_000 :
    value * 86_400_000
  return Number.isFinite(millis) ?
    Either.right(Duration.millis(millis)) :
    Either.left(`duration out of range: ${show(text)}`)
}

/** @internal */
export const decodeDuration = (field: string, input: unknown, allowZero: boolean): Duration.Duration => {
  let duration: Duration.Duration | undefined
  if (typeof input === "number") {
    if (Number.isNaN(input)) return fail(field, input, "not a number")
    if (input < 0) return fail(field, input, "must not be negative")
    if (!Number.isFinite(input)) return fail(field, input, "must be finite")
    duration = Duration.millis(input)
  } else if (typeof input === "string") {
    if (/^\s*-/.test(input)) return fail(field, input, "must not be negative")
    const lenient = parseDuration(input)
    duration = Either.isRight(lenient) ? lenient.right : Option.getOrUndefined(Duration.decodeUnknown(input))
    if (duration === undefined) {
      return fail(field, input, "not a duration: use 250ms, 2s, \"1.5 minutes\" or milliseconds")
    }
  } else if (Duration.isDuration(input) || typeof input === "bigint" || Array.isArray(input)) {
    if (typeof input === "bigint" && input < 0n) return fail(field, input, "must not be negative")
    if (Array.isArray(input) && input.length !== 2) return fail(field, input, "expected [seconds, nanos]")
    if (Array.isArray(input) && input.some((n) => typeof n !== "number" || !Number.isFinite(n) || n < 0)) {
      return fail(field, input, "must be finite and not negative")
    }
    duration = Duration.decode(input as Duration.DurationInput)
  } else {
    return fail(field, input, "not a duration")
  }
  if (!Duration.isFinite(duration)) return fail(field, input, "must be finite")
  if (!allowZero && Duration.toMillis(duration) <= 0) return fail(field, input, "must be greater than zero")
  return duration
}

const decodeStatus = (field: string, input: unknown): RetryPolicy.StatusPattern => {
  if (input === "4xx" || input === "5xx") return input
  if (typeof input === "number" && Number.isInteger(input) && input >= 100 && input <= 599) {
    if (input >= 200 && input <= 299) return fail(field, input, "2xx is success and is never retried")
    return input
  }
  return fail(field, input, "expected a status code from 100 to 599, \"4xx\" or \"5xx\"")
}

const decodeBoolean = (field: string, input: unknown): boolean =>
  typeof input === "boolean" ? input : fail(field, input, "expected true or false")

const decodeArray = <A>(field: string, input: unknown, each: (field: string, item: unknown) => A): ReadonlyArray<A> =>
  Array.isArray(input) ? input.map((item, i) => each(`${field}[${i}]`, item)) : fail(field, input, "expected a list")

const decodeMethod = (field: string, input: unknown): string => {
  if (typeof input !== "string") return fail(field, input, "expected an HTTP method")
  const upper = input.toUpperCase()
  return KNOWN_METHODS.has(upper)
    ? upper
    : fail(field, input, `unknown method; known: ${[...KNOWN_METHODS].join(", ")}`)
}

const decodeName = (pattern: RegExp) => (field: string, input: unknown): string =>
  typeof input === "string" && pattern.test(input) ? input.toLowerCase() : fail(field, input, "expected a name")

const decodeLog = (
  input: unknown,
  current: RetryPolicy.Logging | false
): RetryPolicy.Logging | false => {
  const base: RetryPolicy.Logging = current === false ? { level: "Info", query: false, body: false } : current
  if (input === false || input === "None") return false
  if (input === true) return base
  if (typeof input === "string") {
    return (LOG_LEVELS as ReadonlyArray<string>).includes(input) ?
      { ...base, level: input as RetryPolicy.Logging["level"] } :
      fail("log", input, `expected a log level: ${LOG_LEVELS.join(", ")}`)
  }
  if (Predicate.isRecord(input)) {
    checkKeys("log", input, ["level", "query", "body"])
    const level = input.level === undefined ? base.level : input.level
    if (!(LOG_LEVELS as ReadonlyArray<unknown>).includes(level) || level === "None") {
      return fail("log.level", level, `expected a log level: ${LOG_LEVELS.slice(0, -1).join(", ")}`)
    }
    return {
      level: level as RetryPolicy.Logging["level"],
      query: input.query === undefined ? base.query : decodeBoolean("log.query", input.query),
      body: input.body === undefined ? base.body : decodeBoolean("log.body", input.body)
    }
  }
  return fail("log", input, "expected a boolean, a log level or { level, query, body }")
}

/** @internal */
export const checkKeys = (field: string, input: object, known: ReadonlyArray<string>): void => {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      fail(field === "" ? key : `${field}.${key}`, (input as Record<string, unknown>)[key], "unknown option")
    }
  }
}

const OPTION_KEYS: ReadonlyArray<keyof RetryPolicy.Options> = [
  "maxAttempts",
  "maxElapsed",
  "baseDelay",
  "factor",
  "maxDelay",
  "jitter",
  "attemptTimeout",
  "retryOn",
  "methods",
  "retryAfter",
  "maxRetryAfter",
  "maxDrainBytes",
  "minTimeLeft",
  "log",
  "redact"
]

const Proto = {
  [TypeId]: TypeId,
  toJSON(this: RetryPolicy.RetryPolicy) {
    return {
      _id: "@http-retry/core/RetryPolicy",
      maxAttempts: this.maxAttempts,
      maxElapsed: Duration.format(this.maxElapsed),
      baseDelay: Duration.format(this.baseDelay),
      factor: this.factor,
      maxDelay: Duration.format(this.maxDelay),
      jitter: this.jitter,
      attemptTimeout: Duration.format(this.attemptTimeout),
      retryOn: this.retryOn,
      methods: this.methods,
      retryAfter: this.retryAfter,
      maxRetryAfter: Duration.format(this.maxRetryAfter),
      maxDrainBytes: this.maxDrainBytes,
      minTimeLeft: this.minTimeLeft === "lastAttempt" ? this.minTimeLeft : Duration.format(this.minTimeLeft),
      log: this.log,
      redact: this.redact
    }
  }
}

const build = (fields: Omit<RetryPolicy.RetryPolicy, RetryPolicy.TypeId>): RetryPolicy.RetryPolicy =>
  Object.assign(Object.create(Proto), fields)

/** @internal */
export const isRetryPolicy = (u: unknown): u is RetryPolicy.RetryPolicy => Predicate.hasProperty(u, TypeId)

/** @internal */
export const defaults: RetryPolicy.RetryPolicy = build({
  maxAttempts: 4,
  maxElapsed: Duration.seconds(50),
  baseDelay: Duration.seconds(1),
  factor: 2,
  maxDelay: Duration.seconds(20),
  jitter: "full",
  attemptTimeout: Duration.seconds(10),
  retryOn: { statuses: [408, 429, 500, 502, 503, 504], transport: true },
  methods: ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"],
  retryAfter: true,
  maxRetryAfter: Duration.seconds(60),
  maxDrainBytes: 128 * 1024,
  minTimeLeft: "lastAttempt",
  log: false,
  redact: { headers: [], query: [] }
})

const mergeUnsafe = (self: RetryPolicy.RetryPolicy, options: RetryPolicy.Options): RetryPolicy.RetryPolicy => {
  if (!Predicate.isRecord(options)) return fail("options", options, "expected an object")
  checkKeys("", options, OPTION_KEYS)
  const o = options as Record<keyof RetryPolicy.Options, unknown>
  const maxAttempts = o.maxAttempts === undefined ? self.maxAttempts : o.maxAttempts
  if (typeof maxAttempts !== "number" || !Number.isInteger(maxAttempts) || maxAttempts < 1) {
    fail("maxAttempts", maxAttempts, "expected a whole number of at least 1")
  }
  const factor = o.factor === undefined ? self.factor : o.factor
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
    fail("factor", factor, "expected a finite number of at least 1")
  }
  const maxDrainBytes = o.maxDrainBytes === undefined ? self.maxDrainBytes : o.maxDrainBytes
  if (typeof maxDrainBytes !== "number" || !Number.isSafeInteger(maxDrainBytes) || maxDrainBytes < 0) {
    fail("maxDrainBytes", maxDrainBytes, "expected a whole number of bytes, at least 0")
  }
  const jitter = o.jitter === undefined ? self.jitter : o.jitter
  if (jitter !== "full" && jitter !== "none") fail("jitter", jitter, "expected \"full\" or \"none\"")
  let retryOn = self.retryOn
  if (o.retryOn !== undefined) {
    if (!Predicate.isRecord(o.retryOn)) fail("retryOn", o.retryOn, "expected { statuses, transport }")
    const r = o.retryOn as Record<string, unknown>
    checkKeys("retryOn", r, ["statuses", "transport"])
    retryOn = {
      statuses: r.statuses === undefined
        ? self.retryOn.statuses
        : decodeArray("retryOn.statuses", r.statuses, decodeStatus),
      transport: r.transport === undefined ? self.retryOn.transport : decodeBoolean("retryOn.transport", r.transport)
    }
  }
  let redact = self.redact
  if (o.redact !== undefined) {
    if (!Predicate.isRecord(o.redact)) fail("redact", o.redact, "expected { headers, query }")
    const r = o.redact as Record<string, unknown>
    checkKeys("redact", r, ["headers", "query"])
    redact = {
      headers: r.headers === undefined
        ? self.redact.headers
        : decodeArray("redact.headers", r.headers, decodeName(HEADER_TOKEN)),
      query: r.query === undefined ? self.redact.query : decodeArray("redact.query", r.query, decodeName(/^.+$/))
    }
  }
  return build({
    maxAttempts: maxAttempts as number,
    maxElapsed: o.maxElapsed === undefined ? self.maxElapsed : decodeDuration("maxElapsed", o.maxElapsed, false),
    baseDelay: o.baseDelay === undefined ? self.baseDelay : decodeDuration("baseDelay", o.baseDelay, true),
    factor: factor as number,
    maxDelay: o.maxDelay === undefined ? self.maxDelay : decodeDuration("maxDelay", o.maxDelay, true),
    jitter: jitter as RetryPolicy.Jitter,
    attemptTimeout: o.attemptTimeout === undefined ?
      self.attemptTimeout :
      decodeDuration("attemptTimeout", o.attemptTimeout, false),
    retryOn,
    methods: o.methods === undefined ? self.methods : decodeArray("methods", o.methods, decodeMethod),
    retryAfter: o.retryAfter === undefined ? self.retryAfter : decodeBoolean("retryAfter", o.retryAfter),
    maxRetryAfter: o.maxRetryAfter === undefined ?
      self.maxRetryAfter :
      decodeDuration("maxRetryAfter", o.maxRetryAfter, true),
    maxDrainBytes: maxDrainBytes as number,
    minTimeLeft: o.minTimeLeft === undefined ?
      self.minTimeLeft :
      o.minTimeLeft === "lastAttempt" ?
      "lastAttempt" :
      decodeDuration("minTimeLeft", o.minTimeLeft, true),
    log: o.log === undefined ? self.log : decodeLog(o.log, self.log),
    redact
  })
}

/**
 * `f()`, its `RetryPolicyError` (a bad option) as a `Left`; any other throw
 * goes on.
 *
 * @internal
 */
export const catchPolicyError = <A>(f: () => A): Either.Either<A, RetryPolicyError> => {
  try {
    return Either.right(f())
  } catch (error) {
    if (error instanceof RetryPolicyError) return Either.left(error)
    throw error
  }
}

/** @internal */
export const merge = dual<
  (options: RetryPolicy.Options) => (self: RetryPolicy.RetryPolicy) => RetryPolicy.RetryPolicy,
  (self: RetryPolicy.RetryPolicy, options: RetryPolicy.Options) => RetryPolicy.RetryPolicy
>(2, mergeUnsafe)

/** @internal */
export const make = (options: RetryPolicy.Options = {}): RetryPolicy.RetryPolicy => mergeUnsafe(defaults, options)

/** @internal */
export const validate = (
  options: RetryPolicy.Options = {}
): Either.Either<RetryPolicy.RetryPolicy, RetryPolicyError> => catchPolicyError(() => mergeUnsafe(defaults, options))

const statusMatches = (pattern: RetryPolicy.StatusPattern, status: number): boolean =>
  pattern === "5xx" ?
    status >= 500 && status <= 599 :
    pattern === "4xx" ?
    status >= 400 && status <= 499 :
    pattern === status

/** @internal */
export const retriesStatus = dual<
  (status: number) => (self: RetryPolicy.RetryPolicy) => boolean,
  (self: RetryPolicy.RetryPolicy, status: number) => boolean
>(2, (self, status) => self.retryOn.statuses.some((pattern) => statusMatches(pattern, status)))

const fullJitter = (delay: Duration.Duration): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (r) => Duration.millis(r * Duration.toMillis(delay)))

/** @internal */
export const toSchedule = (self: RetryPolicy.RetryPolicy): Schedule.Schedule<Duration.Duration, unknown> => {
  const capped = Schedule.exponential(self.baseDelay, self.factor).pipe(
    Schedule.union(Schedule.spaced(self.maxDelay))
  )
  const jittered = self.jitter === "full" ? Schedule.modifyDelayEffect(capped, (_, delay) => fullJitter(delay)) : capped
  return jittered.pipe(
    Schedule.intersect(Schedule.recurs(self.maxAttempts - 1)),
    Schedule.delays,
    endsBefore(Duration.toMillis(self.maxElapsed))
  )
}

/**
 * Stops `self` (whose output is its delay) before a wait that would end
 * `maxElapsedMillis` or later after its first step, as the retry starts no
 * wait that would end past its deadline (`Schedule.upTo` looks at the time
 * elapsed before the wait, and lets the last wait cross the limit). The step
 * that ends it outputs a zero delay, as `Schedule.delays` does, not the wait
 * it refused.
 */
const endsBefore = (maxElapsedMillis: number) =>
<In, R>(
  self: Schedule.Schedule<Duration.Duration, In, R>
): Schedule.Schedule<Duration.Duration, In, R> =>
  Schedule.makeWithState(
    [self.initial, undefined as number | undefined] as const,
    (now, input, [state, start]) =>
      Effect.map(self.step(now, input, state), ([next, out, decision]) => {
        const since = start ?? now
        const ended = ScheduleDecision.isDone(decision) ||
          ScheduleIntervals.start(decision.intervals) - since >= maxElapsedMillis
        return [
          [next, since] as const,
          ended ? Duration.zero : out,
          ended ? ScheduleDecision.done : decision
        ] as const
      })
  )

/** @internal */
export const delays = (self: RetryPolicy.RetryPolicy, n: number): Effect.Effect<Array<Duration.Duration>> =>
  Effect.suspend(() => {
    // Not `Schedule.run`: it also collects the output of the step that ends the
    // schedule (a zero delay for `Schedule.delays`), which is not a wait.
    const schedule = toSchedule(self)
    const out: Array<Duration.Duration> = []
    const loop = (now: number, state: unknown): Effect.Effect<Array<Duration.Duration>> =>
      out.length >= n ?
        Effect.succeed(out) :
        Effect.flatMap(schedule.step(now, out.length, state), ([next, delay, decision]) => {
          if (ScheduleDecision.isDone(decision)) return Effect.succeed(out)
          out.push(delay)
          return loop(ScheduleIntervals.start(decision.intervals), next)
        })
    return loop(0, schedule.initial)
  })

// --- Config -----------------------------------------------------------------

/**
 * One environment variable, trimmed and decoded; a bad value is a
 * `ConfigError` naming the variable and the value (the budget's and the
 * breaker's variables are read the same way).
 *
 * @internal
 */
export const variable = <A>(
  name: string,
  decode: (text: string) => Either.Either<A, string>
): Config.Config<Option.Option<{ readonly value: A; readonly text: string }>> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((option) => {
      if (Option.isNone(option)) return Either.right(Option.none())
      const text = option.value.trim()
      const decoded = decode(text)
      if (Either.isRight(decoded)) return Either.right(Option.some({ value: decoded.right, text: option.value }))
      // A URL in the wrong variable (a Redis or proxy URL, password and all) is shown with its secrets hidden, in
      // the reason too.
      if (!/[@?#]/.test(text)) {
        return Either.left(ConfigError.InvalidData([name], `${name}=${show(option.value)}: ${decoded.left}`))
      }
      const shown = show(Redact.urlText(text, false))
      return Either.left(
        ConfigError.InvalidData([name], `${name}=${shown}: ${decoded.left.split(show(text)).join(shown)}`)
      )
    })
  )

const list = (text: string): Array<string> => text.split(",").map((s) => s.trim()).filter((s) => s !== "")

/** `none` and an empty value both mean an empty list, in the environment as on the command line. */
const noneOrList = (text: string): Array<string> | undefined =>
  text === "" || text.toLowerCase() === "none" ? undefined : list(text)

/** @internal */
export const durationText = (text: string): Either.Either<Duration.Duration, string> =>
  parseDuration(text, { unit: "required" })

const minTimeLeftText = (text: string): Either.Either<Duration.Duration | "lastAttempt", string> =>
  text === "lastAttempt" ? Either.right(text) : Either.mapLeft(durationText(text), (e) => `${e}, or lastAttempt`)

/** @internal */
export const integerText = (text: string): Either.Either<number, string> =>
  /^\d+$/.test(text) ? Either.right(Number(text)) : Either.left(`expected a whole number, got ${show(text)}`)

/**
 * A decimal number, as written in the environment (`1.5`, `2`, `1e3`): not
 * hexadecimal, octal or binary, which `Number` would also read (`0x10` is
 * 16), nor `Infinity`.
 *
 * @internal
 */
export const numberText = (text: string): Either.Either<number, string> =>
  /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(text) && Number.isFinite(Number(text)) ?
    Either.right(Number(text)) :
    Either.left(`expected a (decimal) number, got ${show(text)}`)

/** @internal */
export const booleanText = (text: string): Either.Either<boolean, string> => {
  const lower = text.toLowerCase()
  if (["true", "1", "yes", "on"].includes(lower)) return Either.right(true)
  if (["false", "0", "no", "off"].includes(lower)) return Either.right(false)
  return Either.left(`expected true or false, got ${show(text)}`)
}

const statusText = (text: string): Either.Either<Array<RetryPolicy.StatusPattern>, string> => {
  const out: Array<RetryPolicy.StatusPattern> = []
  for (const item of noneOrList(text) ?? []) {
    const lower = item.toLowerCase()
    if (lower === "4xx" || lower === "5xx") out.push(lower)
    else if (/^\d{3}$/.test(item)) out.push(Number(item))
    else return Either.left(`expected status codes such as 429,503 or 5xx, got ${show(item)}`)
  }
  return Either.right(out)
}

const rawText = (text: string): Either.Either<string, string> => Either.right(text)

/** @internal */
export const config = (prefix = "HTTP_RETRY"): Config.Config<RetryPolicy.RetryPolicy> => {
  // Flat names rather than `Config.nested`: the variable is found and named in
  // errors as HTTP_RETRY_MAX_ATTEMPTS whatever path delimiter the provider uses.
  const field = <A>(name: string, decode: (text: string) => Either.Either<A, string>) =>
    variable(prefix === "" ? name : `${prefix}_${name}`, decode)
  // One table: each option, its variable, and how the variable's text is read.
  const names = {
    maxAttempts: "MAX_ATTEMPTS",
    maxElapsed: "MAX_ELAPSED",
    baseDelay: "BASE_DELAY",
    factor: "FACTOR",
    maxDelay: "MAX_DELAY",
    jitter: "JITTER",
    attemptTimeout: "ATTEMPT_TIMEOUT",
    statuses: "STATUSES",
    methods: "METHODS",
    retryAfter: "RETRY_AFTER",
    maxRetryAfter: "MAX_RETRY_AFTER",
    maxDrainBytes: "MAX_DRAIN_BYTES",
    minTimeLeft: "MIN_TIME_LEFT"
  } as const
  const fields = {
    maxAttempts: field(names.maxAttempts, integerText),
    maxElapsed: field(names.maxElapsed, durationText),
    baseDelay: field(names.baseDelay, durationText),
    factor: field(names.factor, numberText),
    maxDelay: field(names.maxDelay, durationText),
    jitter: field(names.jitter, rawText),
    attemptTimeout: field(names.attemptTimeout, durationText),
    statuses: field(names.statuses, statusText),
    methods: field(names.methods, (text) => Either.right(noneOrList(text) ?? [])),
    retryAfter: field(names.retryAfter, booleanText),
    maxRetryAfter: field(names.maxRetryAfter, durationText),
    maxDrainBytes: field(names.maxDrainBytes, integerText),
    minTimeLeft: field(names.minTimeLeft, minTimeLeftText)
  }
  // A validation error names a policy field; retryOn's fields come from STATUSES.
  const envName: Record<string, string> = { ...names, "retryOn.statuses": names.statuses }
  return Config.all(fields).pipe(
    Config.mapOrFail((values) => {
      const options: Record<string, unknown> = {}
      const texts: Record<string, string> = {}
      for (
        const [key, read] of Object.entries(values) as Array<
          [keyof typeof names, Option.Option<{ readonly value: unknown; readonly text: string }>]
        >
      ) {
        if (Option.isSome(read)) {
          if (key === "statuses") options.retryOn = { statuses: read.value.value }
          else options[key] = read.value.value
          texts[prefix === "" ? names[key] : `${prefix}_${names[key]}`] = read.value.text
        }
      }
      const result = validate(options as RetryPolicy.Options)
      if (Either.isRight(result)) return Either.right(result.right)
      const error = result.left
      const name = envName[error.field.replace(/\[\d+\]$/, "")]
      const path = name === undefined ? error.field : prefix === "" ? name : `${prefix}_${name}`
      const text = name === undefined ? undefined : texts[path]
      return Either.left(
        ConfigError.InvalidData([path], text === undefined ? error.message : `${path}=${show(text)}: ${error.message}`)
      )
    })
  )
}
