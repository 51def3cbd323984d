/**
 * Keeping secrets off the spans of a wrapped client.
 *
 * The platform's `HttpClient.make` records `url.full` and `url.query` as
 * written, request headers redacted only by `Headers.currentRedactedNames`,
 * and ends its span with the raw `RequestError`, whose message holds the URL.
 * For an attempt whose request carries a secret the retry runs the send
 * under a tracer that wraps the fiber's own: every span it starts is the
 * fiber tracer's span, with those attributes and the failure it ends with
 * redacted. A request without a secret is left alone, at no cost.
 *
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Redact from "./redact.js"
import { redactError } from "./redactedErrors.js"

/** The names `Headers.currentRedactedNames` hides by default: the platform's span already redacts these. */
const PLATFORM_REDACTED = new Set(["authorization", "cookie", "set-cookie", "x-api-key"])

/** @internal */
export interface Secrets {
  readonly redaction: Redact.Redaction
}

/** @internal */
export const secretsOf = (redaction: Redact.Redaction): Secrets => ({ redaction })

/** Where a query's text may hold a nested URL or a hidden separator, which only `Redact.url` reads right. */
const NESTED = /[@#\\\t\n\r]|%(?:40|3f|23|5c|26|3b)/i

const queryHasSecret = (search: string, secrets: Secrets): boolean => {
  // A URL nested in a value (`?next=https://user:pw@host/?token=...`, encoded or not), an escaped "&" or ";" that
  // `Redact.url` decodes and reads as one, a tab or newline the URL parser drops: redacted, as a secret would be.
  if (NESTED.test(search) || search.indexOf("?", 1) !== -1) return true
  // Names read off the string in one pass, "&" and ";" both ending one (`Redact.url` finds a `;token=` in a value
  // too): a URLSearchParams per request was a tenth of the retry's cost on the happy path.
  let start = search.startsWith("?") ? 1 : 0
  let eq = -1
  for (let i = start; i <= search.length; i++) {
    const c = i < search.length ? search.charCodeAt(i) : 38
    if (c === 61 /* = */) {
      if (eq === -1) eq = i
    } else if (c === 38 /* & */ || c === 59 /* ; */) {
      if (i > start && Redact.secretParameter(search.slice(start, eq === -1 ? i : eq), secrets.redaction)) return true
      start = i + 1
      eq = -1
    }
  }
  return false
}

/**
 * Whether `url` has userinfo. With no "@" it has none. With one, the URL is
 * parsed as the platform parses it: WHATWG URL reads userinfo from
 * `http:/u:p@h`, `http:\\u:p@h` and `http:u:p@h` too. A URL that does not
 * parse on its own (a relative one) has userinfo if an "@" is in its
 * authority, the part after a leading "//" up to the first "/", "?" or "#":
 * an "@" in the path (`/users/@me`), the query or the fragment is not.
 */
const hasUserinfo = (url: string): boolean => {
  const at = url.indexOf("@")
  if (at === -1) return false
  try {
    const parsed = new URL(url)
    return parsed.username !== "" || parsed.password !== ""
  } catch {
    if (!url.startsWith("//")) return false
    for (let i = 2; i < at; i++) {
      const c = url.charCodeAt(i)
      if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) return false
    }
    return true
  }
}

/**
 * Whether a span of `request` could show a secret: userinfo in the URL, a
 * secret query parameter, or a secret header the platform does not redact.
 * String checks only on the usual request (no "@" or "?", no URL parameter).
 *
 * @internal
 */
export const hasSecret = (request: HttpClientRequest.HttpClientRequest, secrets: Secrets): boolean => {
  const url = request.url
  const query = url.indexOf("?")
  if (hasUserinfo(url)) return true
  // A fragment (`#access_token=...`) is secret as a whole, as `Redact.url` has it.
  if (url.includes("#") || Option.isSome(request.hash)) return true
  if (query !== -1 && queryHasSecret(url.slice(query), secrets)) return true
  for (const [name, value] of request.urlParams) {
    if (Redact.secretParameter(name, secrets.redaction)) return true
    // A URL or a query in a parameter's value (`next=https://user:pw@host/`, `q=a&token=...`), written into `url.full`.
    if (/[@#\\?&;]/.test(value)) return true
  }
  // A secret header the platform's span does not redact by default (a default name or one of the policy's).
  for (const name in request.headers) {
    if (!PLATFORM_REDACTED.has(name) && Redact.isSecretHeader(name, secrets.redaction)) return true
  }
  return false
}

/** `url.query` read as `Redact.url` reads a query ("&" and ";" both separators, nested URLs redacted). */
const redactQuery = (query: string, redaction: Redact.Redaction): string => {
  const shown = Redact.url(`http://query.invalid/?${query}`, [], redaction, true)
  const start = shown.indexOf("?")
  return start === -1 ? "" : shown.slice(start + 1)
}

const REQUEST_HEADER = "http.request.header."
const RESPONSE_HEADER = "http.response.header."

/** Where a header's text may hold a URL's secret: a query or fragment, a parameter, userinfo, or a scheme. */
const MAY_HOLD_SECRET = /[?#@;&=]|:[/\\]/

/**
 * A header's value, with its secret or its URLs' secrets hidden. A value in
 * which nothing was hidden (no marker, no fragment dropped, no query that did
 * not parse) is kept as written, not as `Redact.header` re-encodes it.
 */
const redactHeader = (name: string, value: string, redaction: Redact.Redaction): string => {
  if (Redact.isSecretHeader(name, redaction)) return Redact.REDACTED
  if (!MAY_HOLD_SECRET.test(value)) return value
  const shown = Redact.header(name, value, redaction)
  return shown.includes(Redact.REDACTED) || shown.includes("<unparsed>") || value.includes("#") ? shown : value
}

const redactAttribute = (key: string, value: unknown, redaction: Redact.Redaction): unknown => {
  if (typeof value !== "string") return value
  if (key === "url.full") return Redact.url(value, [], redaction, true)
  if (key === "url.query") return redactQuery(value, redaction)
  // A secret header's value hidden; the URLs in any other (`Location`, `Link`, `Refresh`) redacted.
  if (key.startsWith(REQUEST_HEADER)) return redactHeader(key.slice(REQUEST_HEADER.length), value, redaction)
  if (key.startsWith(RESPONSE_HEADER)) return redactHeader(key.slice(RESPONSE_HEADER.length), value, redaction)
  return value
}

class RedactingSpan implements Tracer.Span {
  readonly _tag = "Span"
  constructor(readonly span: Tracer.Span, readonly redaction: Redact.Redaction) {}
  get name() {
    return this.span.name
  }
  get spanId() {
    return this.span.spanId
  }
  get traceId() {
    return this.span.traceId
  }
  get parent() {
    return this.span.parent
  }
  get context() {
    return this.span.context
  }
  get status() {
    return this.span.status
  }
  get attributes() {
    return this.span.attributes
  }
  get links() {
    return this.span.links
  }
  get sampled() {
    return this.span.sampled
  }
  get kind() {
    return this.span.kind
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.span.end(
      endTime,
      Exit.isFailure(exit) ? Exit.failCause(Cause.map(exit.cause, (error) => redactError(error, this.redaction))) : exit
    )
  }
  attribute(key: string, value: unknown): void {
    this.span.attribute(key, redactAttribute(key, value, this.redaction))
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.span.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.span.addLinks(links)
  }
}

/** The redaction each tracer made here redacts with. */
const redactingWith = new WeakMap<Tracer.Tracer, Redact.Redaction>()

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  if (a.size !== b.size) return false
  for (const name of a) if (!b.has(name)) return false
  return true
}

const sameNames = (a: Redact.Redaction, b: Redact.Redaction): boolean =>
  a === b || (sameSet(a.headers, b.headers) && sameSet(a.query, b.query))

/**
 * `tracer`, whose spans redact the URL attributes, secret request headers and
 * the platform's `RequestError` or `ResponseError` they end with.
 */
const make = (tracer: Tracer.Tracer, redaction: Redact.Redaction): Tracer.Tracer => {
  // Already redacting with the same names (a redirect's hop under an attempt that redacts): once is enough, and a
  // second pass would read the first one's "<redacted>" as text.
  const current = redactingWith.get(tracer)
  if (current !== undefined && sameNames(current, redaction)) return tracer
  const redacting = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const span = tracer.span(name, parent, context, links, startTime, kind, options)
      const redacting = new RedactingSpan(span, redaction)
      // Attributes given at creation reached the span before this wrapper: redact them in place.
      for (const [key, value] of span.attributes) {
        const shown = redactAttribute(key, value, redaction)
        if (shown !== value) span.attribute(key, shown)
      }
      return redacting
    },
    context: (f, fiber) => tracer.context(f, fiber)
  })
  redactingWith.set(redacting, redaction)
  return redacting
}

const madeFor = new WeakMap<Tracer.Tracer, WeakMap<Redact.Redaction, Tracer.Tracer>>()

/**
 * `make` over `tracer` for `redaction`: one per tracer and redaction, so that
 * a send under it builds no tracer of its own.
 *
 * @internal
 */
export const forRequests = (tracer: Tracer.Tracer, redaction: Redact.Redaction): Tracer.Tracer => {
  let byRedaction = madeFor.get(tracer)
  if (byRedaction === undefined) {
    byRedaction = new WeakMap()
    madeFor.set(tracer, byRedaction)
  }
  let made = byRedaction.get(redaction)
  if (made === undefined) {
    made = make(tracer, redaction)
    byRedaction.set(redaction, made)
  }
  return made
}
