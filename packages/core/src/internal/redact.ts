import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"

/** @internal */
export const REDACTED = "<redacted>"

// The names hidden by default, compared as `keyOf` reads a name: `access_token` also stands for `accessToken`,
// `Access-Token` and `access_token2`. A list, not a rule on the shape of a name: `pageToken`, `stop_token` and
// `Access-Control-Allow-Credentials` hold nothing secret, and a header hidden here is also dropped on a
// cross-origin redirect (redirects.ts). A policy adds its own (`redact.headers`, `redact.query`).

const defaultSecretHeaders: ReadonlyArray<string> = [
  "authorization",
  "authentication",
  "cookie",
  "set-cookie",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-api-token",
  "x-auth-token",
  "x-auth-key",
  "x-access-token",
  "access-token",
  "x-token",
  "x-session-token",
  "x-refresh-token",
  "x-secret-key",
  "x-access-key",
  "x-client-secret",
  "x-gitlab-token",
  "x-shopify-access-token",
  "x-rapidapi-key",
  "x-algolia-api-key",
  "x-csrf-token",
  "x-xsrf-token",
  "private-token",
  "x-amz-security-token",
  "x-amz-server-side-encryption-customer-key",
  "x-vault-token",
  "x-goog-api-key",
  "x-goog-encryption-key",
  "ocp-apim-subscription-key",
  "x-functions-key",
  "dd-api-key",
  "dd-application-key",
  "x-parse-master-key",
  "x-hub-signature"
]

const defaultSecretQuery: ReadonlyArray<string> = [
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "auth_token",
  "private_token",
  "session_token",
  "api_key",
  "x-api-key",
  "api_token",
  "key",
  "private_key",
  "access_key",
  "secret_key",
  "subscription_key",
  "client_assertion",
  "password",
  "passwd",
  "pass",
  "pwd",
  "passphrase",
  "password_confirmation",
  "new_password",
  "old_password",
  "current_password",
  "secret",
  "client_secret",
  "signature",
  "sig",
  "code_verifier",
  "jsessionid",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "x-goog-signature",
  "x-goog-credential"
]

/**
 * A name as the lists compare it: lower-cased, without "-", "_", "." and
 * spaces, and without trailing digits (`password2`, `X-Hub-Signature-256`);
 * a form field by its last bracketed part (`user[password]`, `password[]`,
 * `api_key[0]`).
 */
const keyOf = (name: string): string => {
  // An array's brackets (`password[]`, `api_key[0]`, as qs writes them) first, then the field's last part.
  let lower = name.trim().toLowerCase().replace(/(?:\[\d*\])+$/, "")
  if (lower.endsWith("]")) lower = lower.slice(lower.lastIndexOf("[") + 1, -1)
  return lower.replace(/[-_.\s]/g, "").replace(/\d+$/, "")
}

/**
 * The names to hide, as `keyOf` reads them, and the names already looked up
 * (a client sees a handful of distinct names; the cache is cleared past
 * `SEEN_MAX`), so the check per header on the request path is a map lookup.
 *
 * @internal
 */
export interface Redaction {
  readonly headers: ReadonlySet<string>
  readonly query: ReadonlySet<string>
  readonly seenHeaders: Map<string, boolean>
  readonly seenQuery: Map<string, boolean>
}

const SEEN_MAX = 1024

/** @internal */
export const make = (headers: ReadonlyArray<string>, query: ReadonlyArray<string>): Redaction => ({
  // A name that reads as nothing (`"-"`, `"123"`) would hide every name that does too.
  headers: new Set([...defaultSecretHeaders, ...headers].map(keyOf).filter((key) => key !== "")),
  query: new Set([...defaultSecretQuery, ...query].map(keyOf).filter((key) => key !== "")),
  seenHeaders: new Map(),
  seenQuery: new Map()
})

/** @internal */
export const defaults: Redaction = make([], [])

const lookUp = (name: string, keys: ReadonlySet<string>, seen: Map<string, boolean>): boolean => {
  let secret = seen.get(name)
  if (secret === undefined) {
    secret = keys.has(keyOf(name))
    // A long name is no header's or parameter's a client sends again: not kept.
    if (name.length > 128) return secret
    if (seen.size >= SEEN_MAX) seen.clear()
    seen.set(name, secret)
  }
  return secret
}

/**
 * Whether a header is one the redaction hides: a default name or one of the
 * policy's `redact.headers`, compared as `keyOf` reads them.
 *
 * @internal
 */
export const isSecretHeader = (name: string, redaction: Redaction): boolean =>
  lookUp(name, redaction.headers, redaction.seenHeaders)

/**
 * Whether a query parameter or a body field, by its decoded name, is one the
 * redaction hides: a default name or one of the policy's `redact.query`,
 * compared as `keyOf` reads them (`accessToken` as `access_token`).
 *
 * @internal
 */
export const isSecretName = (name: string, redaction: Redaction): boolean =>
  lookUp(name, redaction.query, redaction.seenQuery)

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
    out[name] = isSecretHeader(name, redaction) ? REDACTED : headerValue(lower, input[name], redaction)
  }
  return out
}

/**
 * Userinfo (after "//", or after a web scheme and one slash or none) and a
 * parameter's `name=` (after "?", "&", ";" or "#"), none of them running
 * over a character of `stop`.
 */
const secretsIn = (stop: string): string =>
  String.raw`(?<authority>(?<![a-z\d+.-])[/\\]{2}[^/\\?#@${stop}]*@)` +
  String
    .raw`|(?<opaque>(?<![a-z\d+.-])(?:https?|wss?|ftp):[/\\]?(?![/\\])[^/\\?#@:${stop}]*(?::[^/\\?#@:${stop}]*)?@)` +
  String.raw`|(?<separator>[?&;#])(?<parameter>[^=&?#;,${stop}]+)=`

/**
 * What may hold a secret in a header's text, found in one pass left to right
 * (each match is scanned once, so a long value costs its length, and nothing
 * redacted is read again):
 * - an absolute URL, from the start of its scheme (never from inside a word)
 *   up to a space, a quote or a "<" or ">";
 * - userinfo without a scheme and "//" (`//user:pw@host`, `\\user:pw@host`)
 *   or with a web scheme and one slash or none (`https:/user:pw@host`,
 *   `https:user:pw@host`, as browsers read them);
 * - a `name=` after "?", "&", ";" or "#", as in a relative URL's query
 *   (`Refresh: 0; url=/login?token=...`) or a fragment
 *   (`#access_token=...`): a secret name's value is hidden, any other value
 *   is read on, so a URL nested in it is found too;
 * - in a `Link`, each `<...>` target, relative or not.
 */
const IN_TEXT = String.raw`(?<url>(?<![a-z\d+.-])[a-z][a-z\d+.-]*:[/\\]{2}[^\s<>"']+)|` + secretsIn(String.raw`\s<>"'`)
const TEXT = new RegExp(IN_TEXT, "gi")
const LINK = new RegExp(String.raw`<(?<target>[^<>]*)>|` + IN_TEXT, "gi")
/** A parameter's value, from where its `name=` ends (a comma may be in a URL's query: hidden with it). */
const VALUE = /[^&;#\s<>"']*/y

/**
 * The same, in a query value already decoded (`?next=https://host/?token=...`),
 * where a space or a comma is part of the value (a `+` decodes to a space):
 * userinfo, and a secret `name=`'s value up to the next "&", ";" or "#". A URL
 * nested there is not parsed again, so no depth of nesting costs more than
 * its length.
 */
const DECODED = new RegExp(secretsIn(""), "gi")
const DECODED_VALUE = /[^&;#]*/y

/**
 * One header's value fit for a span, a log line or an error: hidden when
 * its name is a secret, its URLs redacted otherwise (as `headers`).
 *
 * @internal
 */
export const header = (name: string, value: string, redaction: Redaction): string => {
  const lower = name.toLowerCase()
  return isSecretHeader(name, redaction) ? REDACTED : headerValue(lower, value, redaction)
}

const headerValue = (name: string, value: string, redaction: Redaction): string =>
  name === "location" || name === "content-location" ?
    target(value, redaction) :
    redactText(value, name === "link" ? LINK : TEXT, redaction)

const redactText = (
  text: string,
  pattern: RegExp,
  redaction: Redaction,
  value: RegExp = VALUE
): string => {
  let out = ""
  let last = 0
  pattern.lastIndex = 0
  for (let found = pattern.exec(text); found !== null; found = pattern.exec(text)) {
    const groups = found.groups!
    let end = pattern.lastIndex
    let shown = found[0]
    if (groups.target !== undefined) {
      shown = `<${target(groups.target, redaction)}>`
    } else if (groups.url !== undefined) {
      shown = url(groups.url, [], redaction, true)
    } else if (groups.authority !== undefined) {
      shown = `${shown.slice(0, 2)}${REDACTED}@`
    } else if (groups.opaque !== undefined) {
      shown = `${/^[a-z]+:[/\\]?/i.exec(shown)![0]}${REDACTED}@`
    } else if (secretParameter(groups.parameter!, redaction)) {
      value.lastIndex = end
      value.exec(text)
      end = value.lastIndex
      shown = `${groups.separator}${groups.parameter}=${REDACTED}`
    }
    out += text.slice(last, found.index) + shown
    last = end
    pattern.lastIndex = end
  }
  return out + text.slice(last)
}

/**
 * Whether a query parameter's name, as written (percent-encoded or not), is
 * one the redaction hides.
 *
 * @internal
 */
export const secretParameter = (parameter: string, redaction: Redaction): boolean => {
  let decoded = parameter
  try {
    decoded = decodeURIComponent(parameter.replace(/\+/g, " "))
  } catch {
    // A "%" that is no escape: the name as it is written.
  }
  // `a=1&amp;token=...` splits on "&" into the name `amp;token`.
  return isSecretName(decoded.slice(decoded.lastIndexOf(";") + 1).trim(), redaction)
}

/**
 * A URI reference, absolute (`url`: any scheme, `myapp:/cb#access_token=...`
 * included) or relative, also quoted or with spaces around it.
 */
const target = (value: string, redaction: Redaction): string => {
  const trimmed = value.trim()
  const quoted = /^(["'])([^]*)\1$/.exec(trimmed)
  if (quoted !== null) return `${quoted[1]}${target(quoted[2], redaction)}${quoted[1]}`
  return /^[a-z][a-z\d+.-]*:/i.test(trimmed) ? url(trimmed, [], redaction, true) : reference(trimmed, redaction)
}

/**
 * A relative reference (`/next?token=...`, `//host/path`, `\\host/path`):
 * its path kept, its secret query values replaced, its fragment dropped.
 */
const reference = (value: string, redaction: Redaction): string => {
  if (/^[/\\]{2}/.test(value)) return url(`http:${value}`, [], redaction, true).slice("http:".length)
  const end = value.search(/[?#]/)
  if (end === -1) return value
  const path = value.slice(0, end)
  if (value[end] === "#") return path
  const hash = value.indexOf("#", end)
  const query = redactedQuery(new URLSearchParams(value.slice(end + 1, hash === -1 ? undefined : hash)), redaction)
  return query === "" ? path : `${path}?${query}`
}

/**
 * A query shown: a secret name's value replaced, and any other value read
 * as decoded text (`DECODED`: a URL nested in it,
 * `?next=https://host/?token=...`, or pairs after a ";" that
 * `URLSearchParams` does not split on), encoded once.
 */
const redactedQuery = (search: URLSearchParams, redaction: Redaction): string => {
  const parts: Array<string> = []
  for (const [name, value] of search) {
    const shown = secretParameter(name, redaction) ?
      REDACTED :
      /[?#@;&\\]/.test(value) ?
      redactText(value, DECODED, redaction, DECODED_VALUE).split(REDACTED).map(encodeURIComponent).join(REDACTED) :
      encodeURIComponent(value)
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
  // An opaque URI (`mailto:`, `urn:`, `data:`) has no authority: no "//" is added to it.
  const base = parsed.href.startsWith(`${parsed.protocol}//`) ?
    `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}` :
    `${parsed.protocol}${parsed.pathname}`
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
      out[name] = isSecretName(name, redaction) ? REDACTED : redactJson(field, redaction)
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
        `${encodeURIComponent(name)}=${isSecretName(name, redaction) ? REDACTED : encodeURIComponent(value)}`
      )
    }
    return parts.join("&")
  }
  return text
}

// Words of an option's name that make its value a credential (ioredis' `password`, a `token`, a `secret`, a cookie).
const SECRET_WORDS = new Set([
  "secret",
  "secrets",
  "token",
  "tokens",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "apikey",
  "cookie",
  "cookies",
  "bearer",
  "session",
  "signature",
  "jwt",
  "pwd",
  "pin",
  "key"
])

/** This library's own options whose names hold such a word, and whose values are no secret. */
const OWN_OPTIONS: ReadonlySet<string> = new Set(["maxTokens", "tokenRatio", "keyPrefix"])

/**
 * Whether an option's name says its value is a credential: one of its words (split at "_", "-", "." and camel
 * case, acronyms too: `HTTPAuth`; trailing digits dropped: `secret2`) is a secret word (`key` among them:
 * `apiKey`, `privateKeyPem`) or starts with "pass" (`password`, `passphrase`). This library's own `keyPrefix`,
 * `maxTokens` and `tokenRatio` are not.
 */
const isSecretOptionName = (name: string): boolean => {
  if (OWN_OPTIONS.has(name)) return false
  const words = name.replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2").replace(/([a-z\d])([A-Z])/g, "$1 $2").toLowerCase()
    .split(/[^a-z\d]+/).map((word) => word.replace(/\d+$/, "")).filter((word) => word !== "")
  return words.some((word) => SECRET_WORDS.has(word) || word.startsWith("pass")) || /api.?key/i.test(name)
}

/**
 * Whether an option error hides `value`, given under `name`: any value but a switch or nothing under a
 * credential's name; a number only under a password's or secret's (a YAML `password: 123456`), not under a
 * token's (`maxToken: 5`, a misspelt budget option, is a count).
 */
const hides = (name: string, value: unknown): boolean =>
  value !== undefined && value !== null && typeof value !== "boolean" && isSecretOptionName(name) &&
  (typeof value !== "number" || /pass|pwd|secret|pin/i.test(name))

/** Shown in place of what an option error does not keep: an object too deep, or one that could not be read. */
const NOT_KEPT = "…"

/**
 * A value an option error may keep and show: a string that may be a URL
 * (it has an "@", or a scheme and "//") as `urlText` shows it, query marked;
 * a URL object the same way; a plain object or array with the text of its
 * credential-named keys (`password`, `redisToken`, ...) hidden and the rest
 * cleaned alike, the same object when nothing in it changed; any other
 * object (a Redis client given where options go) by its class name alone,
 * since its fields may hold a password. Numbers, booleans, functions and
 * durations are kept as they are. Option errors name the value they reject,
 * and a rejected Redis or proxy URL carries its password.
 *
 * @internal
 */
export const optionValue = (value: unknown, field = ""): unknown => {
  try {
    // An option whose own name says it is a credential (`password`, misplaced at the top) is not kept either.
    const name = field.slice(field.lastIndexOf(".") + 1)
    if (name !== "" && hides(name, value)) return REDACTED
    return keptValue(value, 0)
  } catch {
    // A getter or a proxy that throws: nothing of it is kept.
    return NOT_KEPT
  }
}

const keptValue = (value: unknown, depth: number): unknown => {
  if (typeof value === "string") {
    return value.includes("@") || /^[a-z][a-z\d+.-]*:\/\//i.test(value) ? urlText(value, true) : value
  }
  if (value instanceof URL) return urlText(value.href, true)
  if (typeof value !== "object" || value === null || Duration.isDuration(value)) return value
  if (depth > 3) return NOT_KEPT
  if (Array.isArray(value)) {
    const items = value.map((item) => keptValue(item, depth + 1))
    return items.every((item, i) => item === value[i]) ? value : items
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (prototype as { readonly constructor?: { readonly name?: unknown } }).constructor?.name
    return `[${typeof name === "string" && name !== "" ? name : "object"}]`
  }
  const copy: Record<string, unknown> = {}
  let changed = false
  for (const [key, item] of Object.entries(value)) {
    const kept = hides(key, item) ? REDACTED : keptValue(item, depth + 1)
    if (kept !== item) changed = true
    copy[key] = kept
  }
  return changed ? copy : value
}
