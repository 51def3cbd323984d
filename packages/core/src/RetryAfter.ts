/**
 * The `Retry-After` response header (RFC 9110 §10.2.3), parsed against
 * Effect's `Clock` so that HTTP-dates are testable with `TestClock`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Unify from "effect/Unify"

/**
 * The parsed header.
 *
 * - `Delay`: wait this long (an HTTP-date in the past is a zero delay);
 * - `Invalid`: the header was present but is neither delta-seconds nor an HTTP-date.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryAfter = Data.TaggedEnum<{
  /** A usable header. */
  Delay: {
    /** How long to wait. */
    readonly delay: Duration.Duration
    /** The header value as received. */
    readonly raw: string
  }
  /** A header that is neither delta-seconds nor an HTTP-date. */
  Invalid: {
    /** The header value as received. */
    readonly raw: string
  }
}>

type Delay = Extract<RetryAfter, { readonly _tag: "Delay" }>
type Invalid = Extract<RetryAfter, { readonly _tag: "Invalid" }>
type Cases = { readonly [Tag in RetryAfter["_tag"]]: (value: Extract<RetryAfter, { readonly _tag: Tag }>) => unknown }
type OnlyCases<C> = C & { readonly [K in Exclude<keyof C, RetryAfter["_tag"]>]: never }

// Written out rather than destructured from `Data.taggedEnum`, whose inferred `$match` bounds each handler's result
// with `any`: the declarations a user reads name the cases and hold no `any`.
const cases = Data.taggedEnum<RetryAfter>()

/**
 * Builds the `Delay` case.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Delay: Data.Case.Constructor<Delay, "_tag"> = cases.Delay

/**
 * Builds the `Invalid` case.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Invalid: Data.Case.Constructor<Invalid, "_tag"> = cases.Invalid

/**
 * A guard for one case: `RetryAfter.is("Delay")(value)`.
 *
 * @since 0.1.0
 * @category guards
 */
export const is: <Tag extends RetryAfter["_tag"]>(
  tag: Tag
) => (u: unknown) => u is Extract<RetryAfter, {
  /** The case `tag` names. */
  readonly _tag: Tag
}> = cases.$is

/**
 * Exhaustive matching on the two cases.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const match: {
  <const C extends Cases>(cases: OnlyCases<C>): (self: RetryAfter) => Unify.Unify<ReturnType<C[RetryAfter["_tag"]]>>
  <const C extends Cases>(self: RetryAfter, cases: OnlyCases<C>): Unify.Unify<ReturnType<C[RetryAfter["_tag"]]>>
} = cases.$match

const DELTA_SECONDS = /^\s*(\d+)\s*$/

/** The largest delta-seconds read as it is (RFC 9111, section 1.2.2). */
const MAX_DELTA_SECONDS = 2 ** 31
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})"
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
// Sun Nov  6 08:49:37 1994
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

const toMillis = (
  year: number,
  month: string,
  day: number,
  hours: number,
  minutes: number,
  seconds: number
): number | undefined => {
  const monthIndex = MONTHS.indexOf(month.toLowerCase())
  if (hours > 23 || minutes > 59 || seconds > 60 || day < 1 || day > 31) return undefined
  const millis = Date.UTC(year, monthIndex, day, hours, minutes, Math.min(seconds, 59))
  // Reject dates that roll over, such as 31 Feb.
  if (new Date(millis).getUTCDate() !== day) return undefined
  // A leap second (:60) is read as the second after :59, so the retry is never sent early.
  return seconds === 60 ? millis + 1000 : millis
}

/**
 * The time an HTTP-date names, in milliseconds since the epoch, for the three
 * formats RFC 9110 allows (IMF-fixdate, RFC 850, asctime); `undefined` for
 * anything else.
 *
 * A two-digit RFC 850 year is read as the nearest year not more than 50 years
 * ahead of `nowMillis`, as RFC 9110 asks.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHttpDate = (value: string, nowMillis: number): number | undefined => {
  const text = value.trim()
  let match = IMF_FIXDATE.exec(text)
  if (match !== null) {
    return toMillis(+match[3], match[2], +match[1], +match[4], +match[5], +match[6])
  }
  match = RFC_850.exec(text)
  if (match !== null) {
    const nowYear = new Date(nowMillis).getUTCFullYear()
    let year = Math.floor(nowYear / 100) * 100 + +match[3]
    if (year > nowYear + 50) year -= 100
    return toMillis(year, match[2], +match[1], +match[4], +match[5], +match[6])
  }
  match = ASCTIME.exec(text)
  if (match !== null) {
    return toMillis(+match[6], match[1], +match[2].trim(), +match[3], +match[4], +match[5])
  }
  return undefined
}

/**
 * Parses a `Retry-After` value at the instant `nowMillis` (take it from
 * `Clock.currentTimeMillis`, never from the wall clock).
 *
 * Delta-seconds must be digits only: `-5`, `1.5` and `soon` are `Invalid`.
 * A number of seconds past 2^31 is taken as 2^31 (about 68 years), as RFC
 * 9111 has caches read a delta-seconds they cannot represent: too long to
 * wait, never a number to ignore. An HTTP-date in the past is a zero `Delay`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (value: string, nowMillis: number): RetryAfter => {
  const seconds = DELTA_SECONDS.exec(value)
  if (seconds !== null) {
    return Delay({ delay: Duration.seconds(Math.min(Number(seconds[1]), MAX_DELTA_SECONDS)), raw: value })
  }
  const at = parseHttpDate(value, nowMillis)
  if (at === undefined) return Invalid({ raw: value })
  return Delay({ delay: Duration.millis(Math.max(0, at - nowMillis)), raw: value })
}
