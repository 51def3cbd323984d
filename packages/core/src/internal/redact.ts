import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"

/** @internal */
export const REDACTED = "<redacted>"

const defaultSecretHeaders: ReadonlyArray<string> = [
  "authorization",
  "cookie",
  "set-cookie",
  "proxy-authorization",
  "x-api-key",
  "x-amz-security-token"
]

const defaultSecretQuery: ReadonlyArray<string> = [
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "api_key",
  "apikey",
  "key",
  "password",
  "secret",
  "client_secret",
  "signature",
  "sig",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token"
]

/**
 * The names to hide, lower-cased once so the check per name is a set lookup.
 *
 * @internal
 */
export interface Redaction {
  readonly headers: ReadonlySet<string>
  readonly query: ReadonlySet<string>
}

/** @internal */
export const make = (headers: ReadonlyArray<string>, query: ReadonlyArray<string>): Redaction => ({
  headers: new Set([...defaultSecretHeaders, ...headers].map((name) => name.toLowerCase())),
  query: new Set([...defaultSecretQuery, ...query].map((name) => name.toLowerCase()))
})

/** @internal */
export const defaults: Redaction = make([], [])

/**
 * Headers fit for a log line or an error: a secret header's value replaced,
 * and the URLs in the others redacted as `url` does with their query
 * (`Location: https://bucket.test/f?X-Amz-Signature=...`, a `Link` or a
 * `Referer`), fragments dropped (a redirect may carry an
 * `#access_token=...`).
 *
 * @internal
 */
export const headers = (
  input: Headers.Headers,
  redaction: Redaction
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in input) {
    const lower = name.toLowerCase()
    out[name] = redaction.headers.has(lower) ? REDACTED : headerValue(lower, input[name], redaction)
  }
  return out
}

/**
 * What may hold a secret in a header's text, found in one pass left to
 * right (so that nothing redacted is read again): an absolute URL, from the
 * start of its scheme (never from inside a word: a long run of letters is
 * scanned once, not once per letter) up to a space, a quote or a "<" or ">";
 * and a `name=value` pair after "?", "&" or "#", as in a relative URL's
 * query (`Refresh: 0; url=/login?token=...`) or a fragment
 * (`#access_token=...`). In a `Link`, each `<...>` target as well, relative
 * or not.
 */
const IN_TEXT = String.raw`(?<url>(?<![a-z\d+.-])[a-z][a-z\d+.-]*:\/\/[^\s<>"']+)` +
  String.raw`|(?<separator>[?&#])(?<parameter>[^=&?#\s;,<>"']+)=[^&#\s;,<>"']*`
const TEXT = new RegExp(IN_TEXT, "gi")
const LINK = new RegExp(String.raw`<(?<target>[^<>]*)>|` + IN_TEXT, "gi")

interface Found {
  readonly url?: string
  readonly separator?: string
  readonly parameter?: string
  readonly target?: string
}

const headerValue = (name: string, value: string, redaction: Redaction): string => {
  if (name === "location" || name === "content-location") return target(value.trim(), redaction)
  const redactFound = (whole: string, ...rest: Array<unknown>): string => {
    const found = rest.at(-1) as Found
    if (found.target !== undefined) return `<${target(found.target, redaction)}>`
    if (found.url !== undefined) return url(found.url, [], redaction, true)
    return secretParameter(found.parameter!, redaction) ? `${found.separator}${found.parameter}=${REDACTED}` : whole
  }
  return name === "link" ? value.replace(LINK, redactFound) : value.replace(TEXT, redactFound)
}

const secretParameter = (parameter: string, redaction: Redaction): boolean => {
  let decoded = parameter
  try {
    decoded = decodeURIComponent(parameter.replace(/\+/g, " "))
  } catch {
    // A "%" that is no escape: the name as it is written.
  }
  return redaction.query.has(decoded.toLowerCase())
}

/** A URI reference, absolute (`url`: any scheme, `myapp:/cb#access_token=...` included) or relative. */
const target = (value: string, redaction: Redaction): string =>
  /^[a-z][a-z\d+.-]*:/i.test(value) ? url(value, [], redaction, true) : reference(value, redaction)

/**
 * A relative reference (`/next?token=...`, `//host/path`): its path kept,
 * its secret query values replaced, its fragment dropped.
 */
const reference = (value: string, redaction: Redaction): string => {
  if (value.startsWith("//")) return url(`http:${value}`, [], redaction, true).slice("http:".length)
  const end = value.search(/[?#]/)
  if (end === -1) return value
  const path = value.slice(0, end)
  if (value[end] === "#") return path
  const hash = value.indexOf("#", end)
  const query = redactedQuery(new URLSearchParams(value.slice(end + 1, hash === -1 ? undefined : hash)), redaction)
  return query === "" ? path : `${path}?${query}`
}

const redactedQuery = (search: URLSearchParams, redaction: Redaction): string => {
  const parts: Array<string> = []
  for (const [name, value] of search) {
    const shown = redaction.query.has(name.toLowerCase()) ? REDACTED : encodeURIComponent(value)
    parts.push(`${encodeURIComponent(name)}=${shown}`)
  }
  return parts.join("&")
}

/**
 * A URL fit for a log line or an error message: userinfo is replaced, secret
 * query parameters keep their name but lose their value, and the whole query
 * is dropped unless `query` is true.
 *
 * @internal
 */
export const url = (
  raw: string,
  params: ReadonlyArray<readonly [string, string]>,
  redaction: Redaction,
  query: boolean
): string => {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    return urlText(raw, query)
  }
  return fromParsed(parsed, params, redaction, query)
}

/**
 * The text of a URL that was not parsed (one that does not parse, or one
 * quoted in an error's message), for a message: its query and fragment are
 * dropped (`?<unparsed>` marks a dropped query when `query` is true), and
 * any userinfo hidden.
 *
 * Without an "@" nothing else can be secret. With one only in the authority
 * (before the first "/", "?" or "#"), that is the userinfo. With one further
 * on, where the userinfo ends is unknown: a password may hold an unencoded
 * "/", "?" or "#", and an "@" may as well be in the path or in a query value
 * (`?email=a@b.test&api_key=...`). Then only the host-like text after the
 * last "@" is kept, up to the first character a host cannot hold.
 *
 * @internal
 */
export const urlText = (raw: string, query: boolean): string => {
  const scheme = /^[a-z][a-z\d+.-]*:[/\\]*/i.exec(raw)?.[0] ?? ""
  const rest = raw.slice(scheme.length)
  const end = rest.search(/[/?#\\]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  const after = end === -1 ? "" : rest.slice(end)
  const dropped = (text: string) => text.replace(/[?#].*$/, query && /[?#]/.test(text) ? "?<unparsed>" : "")
  if (!after.includes("@")) {
    const at = authority.lastIndexOf("@")
    return `${scheme}${at === -1 ? authority : `${REDACTED}@${authority.slice(at + 1)}`}${dropped(after)}`
  }
  const host = /^[^\s/?#\\&;=,@]*/.exec(raw.slice(raw.lastIndexOf("@") + 1))![0]
  return `${scheme}${REDACTED}@${host}`
}

const fromParsed = (
  parsed: URL,
  params: ReadonlyArray<readonly [string, string]>,
  redaction: Redaction,
  query: boolean
): string => {
  const userinfo = parsed.username !== "" || parsed.password !== "" ? `${REDACTED}@` : ""
  const base = `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}`
  if (!query || (parsed.search === "" && params.length === 0)) return base
  const search = new URLSearchParams(parsed.search)
  for (const [name, value] of params) search.append(name, value)
  const shown = redactedQuery(search, redaction)
  return shown === "" ? base : `${base}?${shown}`
}

/** @internal */
export const requestUrl = (
  request: HttpClientRequest.HttpClientRequest,
  redaction: Redaction,
  query: boolean
): string => url(request.url, request.urlParams, redaction, query)

/**
 * The URL attributes of an HTTP client span (OpenTelemetry semantic
 * conventions), with `url.full` and `url.query` redacted.
 *
 * @internal
 */
export const spanAttributes = (
  request: HttpClientRequest.HttpClientRequest,
  redaction: Redaction
): Record<string, string | number> => {
  let parsed: URL
  try {
    parsed = new URL(request.url)
  } catch {
    return { "url.full": requestUrl(request, redaction, true) }
  }
  // One parse serves every attribute; the query is only walked when there is one.
  const full = fromParsed(parsed, request.urlParams, redaction, true)
  const attributes: Record<string, string | number> = {
    "url.full": full,
    "url.scheme": parsed.protocol.slice(0, -1),
    "url.path": parsed.pathname,
    "server.address": parsed.hostname
  }
  if (parsed.port !== "") attributes["server.port"] = Number(parsed.port)
  const query = full.indexOf("?")
  if (query !== -1) attributes["url.query"] = full.slice(query + 1)
  return attributes
}

const redactJson = (value: unknown, redaction: Redaction): unknown => {
  if (Array.isArray(value)) return value.map((item) => redactJson(item, redaction))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [name, field] of Object.entries(value)) {
      out[name] = redaction.query.has(name.toLowerCase()) ? REDACTED : redactJson(field, redaction)
    }
    return out
  }
  return value
}

/**
 * A request body as a log line may show it: in a urlencoded form or a JSON
 * document, the value of every secret-named field (the query parameter names:
 * `password`, `token`, ... and the policy's `redact.query`) is replaced, at any
 * depth; other fields stay readable. A body that claims to be JSON or a form
 * and does not parse is not shown at all. Other text is shown as it is.
 *
 * @internal
 */
export const bodyText = (text: string, contentType: string | undefined, redaction: Redaction): string => {
  const type = contentType?.toLowerCase() ?? ""
  const trimmed = text.trimStart()
  if (type.includes("json") || (type === "" && (trimmed.startsWith("{") || trimmed.startsWith("[")))) {
    try {
      return JSON.stringify(redactJson(JSON.parse(text), redaction))
    } catch {
      return type.includes("json") ? `<unparsed JSON, ${text.length} chars>` : text
    }
  }
  if (type.includes("application/x-www-form-urlencoded")) {
    const params = new URLSearchParams(text)
    const parts: Array<string> = []
    for (const [name, value] of params) {
      parts.push(
        `${encodeURIComponent(name)}=${redaction.query.has(name.toLowerCase()) ? REDACTED : encodeURIComponent(value)}`
      )
    }
    return parts.join("&")
  }
  return text
}
