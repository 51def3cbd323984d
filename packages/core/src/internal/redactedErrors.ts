import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as Redact from "./redact.js"

/**
 * The platform's `RequestError`, unchanged in type and fields, whose message,
 * JSON and inspection show the URL without userinfo or secret query values.
 *
 * @internal
 */
export class RedactedRequestError extends HttpClientError.RequestError {
  declare readonly redactedUrl: string
  override get methodAndUrl(): string {
    return `${this.request.method} ${this.redactedUrl}`
  }
  override toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientError",
      _tag: this._tag,
      reason: this.reason,
      message: this.message,
      method: this.request.method,
      url: this.redactedUrl
    }
  }
  override [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
  override toString(): string {
    return `RequestError: ${this.message}`
  }
}

/** @internal */
export const redactRequestError = (
  error: HttpClientError.RequestError,
  redaction: Redact.Redaction
): RedactedRequestError => {
  if (error instanceof RedactedRequestError) return error
  const description = error.description ?? describeCause(error.cause)
  return withRedactedUrl(
    new RedactedRequestError({
      request: error.request,
      reason: error.reason,
      cause: redactCause(error.cause),
      ...(description === undefined ? {} : { description })
    }),
    redaction
  )
}

const hasMessage = (u: unknown): u is { readonly message: string } =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" && u.message !== ""

// A URL in free text: from its scheme to the first space or ")". Not `file:` URLs, the frames of a stack (a path such
// as `.pnpm/undici@7.30.2/` holds an "@"), which carry no credentials.
const URL_TEXT = /\b(?!file:)[a-z][a-z\d+.-]*:\/\/[^\s)]*/gi

// fetch's refusal of a header quotes the value: `Headers.append: "Bearer ..." is an invalid header value.` (or
// `Headers.set:`, `Headers constructor:`). Found by its two ends, in linear time whatever the message holds.
const HEADER_VALUE_END = "\" is an invalid header value"
const HEADER_VALUE_START = /Headers(?:\.append|\.set| constructor): "/g

const hideHeaderValue = (message: string): string => {
  // From the first start marker to the last end marker: a value may itself hold either text.
  HEADER_VALUE_START.lastIndex = 0
  const found = HEADER_VALUE_START.exec(message)
  if (found === null) return message
  const start = HEADER_VALUE_START.lastIndex
  const end = message.lastIndexOf(HEADER_VALUE_END)
  return end < start ? message : `${message.slice(0, start)}${Redact.REDACTED}${message.slice(end)}`
}

/**
 * Every URL in a message loses its userinfo, query and fragment (`Redact.urlText`), and a header value quoted by
 * fetch's refusal of it is hidden.
 */
const sanitize = (message: string): string =>
  hideHeaderValue(message).replace(URL_TEXT, (url) => Redact.urlText(url, false))

/**
 * The cause of a platform error with every URL in its messages and stacks
 * redacted (userinfo, query and fragment), down its `cause` chain and the
 * `errors` of an `AggregateError`: Effect's loggers print an error's cause
 * in full (`Cause.pretty` with `renderErrorCause`), and fetch's own errors
 * quote the request's URL. A cause that shows no URL is returned as it is;
 * one that does is copied with its prototype and other fields (`name`,
 * `code`: what `TransportFailure` classifies by), so only its text changes.
 *
 * @internal
 */
export const redactCause = (cause: unknown, depth = 0): unknown => {
  if (typeof cause === "string") return sanitize(cause)
  if (typeof cause !== "object" || cause === null || depth > 4) return cause
  try {
    return redactObject(cause, depth)
  } catch {
    // A cause that cannot be read or copied (a getter that throws, a frozen copy): its text alone, redacted.
    return plainCopy(cause)
  }
}

/**
 * Fields the loop over text fields below leaves alone: names and codes that
 * `TransportFailure` classifies by, kept as they are, and `message` and
 * `stack`, which are sanitized on their own.
 */
const NAMING_FIELDS = new Set(["name", "code", "syscall", "errno", "message", "stack"])

const redactObject = (cause: object, depth: number): unknown => {
  const text = (name: "message" | "stack"): string | undefined => {
    const value = (cause as Record<string, unknown>)[name]
    return typeof value === "string" ? value : undefined
  }
  const message = text("message")
  const stack = text("stack")
  // Other text fields, as Node's ERR_INVALID_URL keeps the URL it refused in `input`: the whole field is a URL's
  // text, which may hold a space (the reason it did not parse).
  const fields: Record<string, string> = {}
  let fieldsChanged = false
  for (const [name, value] of Object.entries(cause)) {
    if (typeof value === "string" && !NAMING_FIELDS.has(name)) {
      fields[name] = /[@?#]/.test(value) ? Redact.urlText(value, false) : value
      if (fields[name] !== value) fieldsChanged = true
    }
  }
  const inner = Predicate.hasProperty(cause, "cause") ? cause.cause : undefined
  const errors = Predicate.hasProperty(cause, "errors") && Array.isArray(cause.errors) ? cause.errors : undefined
  const redacted = {
    message: message === undefined ? undefined : sanitize(message),
    stack: stack === undefined ? undefined : sanitize(stack),
    cause: inner === undefined ? undefined : redactCause(inner, depth + 1),
    errors: errors?.map((error) => redactCause(error, depth + 1))
  }
  if (
    !fieldsChanged && redacted.message === message && redacted.stack === stack && redacted.cause === inner &&
    (errors === undefined || redacted.errors!.every((error, i) => error === errors[i]))
  ) return cause
  let copy: object
  try {
    copy = Object.create(Object.getPrototypeOf(cause), Object.getOwnPropertyDescriptors(cause))
    // A host object (a DOMException) keeps its fields in internal slots that a copy has not: read one to find out.
    void (copy as { readonly name?: unknown }).name
  } catch {
    copy = plainCopy(cause)
  }
  for (const [name, value] of Object.entries(redacted)) {
    if (value !== undefined) {
      Object.defineProperty(copy, name, { value, writable: true, configurable: true, enumerable: false })
    }
  }
  for (const [name, value] of Object.entries(fields)) {
    Object.defineProperty(copy, name, { value, writable: true, configurable: true, enumerable: true })
  }
  return copy
}

/** An `Error` with the cause's name, code and redacted message, for a cause that cannot be copied as it is. */
const plainCopy = (cause: object): Error => {
  const read = (name: string): unknown => {
    try {
      return (cause as Record<string, unknown>)[name]
    } catch {
      return undefined
    }
  }
  const message = read("message")
  const copy = new Error(typeof message === "string" ? sanitize(message) : "")
  const name = read("name")
  if (typeof name === "string") copy.name = name
  const code = read("code")
  if (code !== undefined) Object.assign(copy, { code })
  return copy
}

/**
 * What the cause of a platform error says happened, for its `description`
 * (which the platform's `message` shows) when the platform gave none: the
 * message of the first error in the `cause` chain that carries a code, with
 * the code (`connect ECONNREFUSED 127.0.0.1:4000`, `other side closed
 * (UND_ERR_SOCKET)`), else (with `uncoded`) the cause's own message. A URL
 * in it loses its userinfo, query and fragment.
 *
 * @internal
 */
export const describeCause = (cause: unknown, uncoded = true): string | undefined => {
  let at: unknown = cause
  for (let depth = 0; depth < 4 && at !== undefined && at !== null; depth++) {
    if (Predicate.hasProperty(at, "code") && typeof at.code === "string" && hasMessage(at)) {
      return sanitize(at.message.includes(at.code) ? at.message : `${at.message} (${at.code})`)
    }
    at = Predicate.hasProperty(at, "errors") && Array.isArray(at.errors) && at.errors.length > 0 ?
      at.errors[0] :
      Predicate.hasProperty(at, "cause") ?
      at.cause :
      undefined
  }
  return uncoded && hasMessage(cause) ? sanitize(cause.message) : undefined
}

/** Keeps the redacted URL off the error's own fields, so JSON and inspection show only what `toJSON` picks. */
const withRedactedUrl = <A extends { readonly request: HttpClientRequest.HttpClientRequest }>(
  error: A,
  redaction: Redact.Redaction
): A =>
  Object.defineProperty(error, "redactedUrl", {
    value: Redact.requestUrl(error.request, redaction, true),
    enumerable: false
  })

/**
 * The platform's `ResponseError` (a body that could not be read or decoded),
 * unchanged in type and fields, whose message, JSON and inspection show the
 * URL redacted and no header: the platform's own would print the request's
 * URL with its userinfo and query, and both sides' headers, cookies included.
 *
 * @internal
 */
export class RedactedResponseError extends HttpClientError.ResponseError {
  declare readonly redactedUrl: string
  override get methodAndUrl(): string {
    return `${this.request.method} ${this.redactedUrl}`
  }
  override toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientError",
      _tag: this._tag,
      reason: this.reason,
      message: this.message,
      status: this.response.status,
      method: this.request.method,
      url: this.redactedUrl
    }
  }
  override [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
  override toString(): string {
    return `ResponseError: ${this.message}`
  }
}

/**
 * The cause of a body that did not decode, with no word of the body: a
 * `SyntaxError` from `JSON.parse` quotes up to 30 characters of the text
 * (`Unexpected token 'b', ..."s_token": body"... is not valid JSON`), which
 * `Cause.pretty` with `renderErrorCause` and loggers that print causes show.
 * A cause with a `code` (a stream's error) names what happened and is kept,
 * redacted as any cause.
 */
const quietDecodeCause = (cause: unknown): unknown => {
  // Only `JSON.parse`'s: a body that broke off while read (fetch's `TypeError: terminated`, its socket error as its
  // cause) names what happened, and keeps its chain.
  if (!(cause instanceof SyntaxError)) return redactCause(cause)
  const quiet = new Error(`${cause.name} while decoding the body (its text is not shown)`)
  quiet.name = cause.name
  const frames = cause.stack?.split("\n").filter((line) => line.trimStart().startsWith("at "))
  quiet.stack = [`${quiet.name}: ${quiet.message}`, ...(frames ?? [])].join("\n")
  return quiet
}

const redactResponseError = (
  error: HttpClientError.ResponseError,
  redaction: Redact.Redaction
): RedactedResponseError => {
  if (error instanceof RedactedResponseError) return error
  // Only a cause with a code describes a body's error: the words of any other (a JSON `SyntaxError`) may quote
  // the body itself.
  const description = error.description ?? describeCause(error.cause, false)
  return withRedactedUrl(
    new RedactedResponseError({
      request: error.request,
      response: error.response,
      reason: error.reason,
      cause: error.reason === "Decode" ? quietDecodeCause(error.cause) : redactCause(error.cause),
      ...(description === undefined ? {} : { description })
    }),
    redaction
  )
}

/**
 * A response as the retry hands it out (to the caller, in `HttpStatusError`
 * and to `onRetry`): the same answer, whose body errors are
 * `RedactedResponseError`s and whose JSON and inspection redact the URL and
 * the headers. Reading the body of a 200 that is cut short is the caller's
 * business, but the error it gets must not carry the request's secrets.
 *
 * @internal
 */
class RedactedResponse implements HttpClientResponse.HttpClientResponse {
  // On the prototype (below): one per response, these were two symbol-keyed defines on the happy path.
  declare readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId
  declare readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId
  constructor(
    /** The response as the wrapped client returned it. */
    readonly unredacted: HttpClientResponse.HttpClientResponse,
    readonly redaction: Redact.Redaction
  ) {}
  get request() {
    return this.unredacted.request
  }
  get status() {
    return this.unredacted.status
  }
  get headers() {
    return this.unredacted.headers
  }
  get cookies() {
    return this.unredacted.cookies
  }
  get remoteAddress() {
    return this.unredacted.remoteAddress
  }
  get json() {
    return Effect.mapError(this.unredacted.json, (e) => redactResponseError(e, this.redaction))
  }
  get text() {
    return Effect.mapError(this.unredacted.text, (e) => redactResponseError(e, this.redaction))
  }
  get urlParamsBody() {
    return Effect.mapError(this.unredacted.urlParamsBody, (e) => redactResponseError(e, this.redaction))
  }
  get arrayBuffer() {
    return Effect.mapError(this.unredacted.arrayBuffer, (e) => redactResponseError(e, this.redaction))
  }
  get formData() {
    return Effect.mapError(this.unredacted.formData, (e) => redactResponseError(e, this.redaction))
  }
  get stream() {
    return Stream.mapError(this.unredacted.stream, (e) => redactResponseError(e, this.redaction))
  }
  toJSON(): unknown {
    return {
      _id: "@effect/platform/HttpClientResponse",
      request: { method: this.request.method, url: Redact.requestUrl(this.request, this.redaction, true) },
      status: this.status,
      headers: Redact.headers(this.headers, this.redaction)
    }
  }
  toString(): string {
    return JSON.stringify(this.toJSON(), null, 2)
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

Object.defineProperty(RedactedResponse.prototype, HttpClientResponse.TypeId, { value: HttpClientResponse.TypeId })
Object.defineProperty(RedactedResponse.prototype, HttpIncomingMessage.TypeId, { value: HttpIncomingMessage.TypeId })

/** @internal */
export const redactResponse = (
  response: HttpClientResponse.HttpClientResponse,
  redaction: Redact.Redaction
): HttpClientResponse.HttpClientResponse =>
  response instanceof RedactedResponse ? response : new RedactedResponse(response, redaction)

/** @internal */
export const isTimeout = (u: unknown): u is Cause.TimeoutException => Cause.isTimeoutException(u)

/** @internal */
export const isRequestError = (u: unknown): u is HttpClientError.RequestError =>
  HttpClientError.isHttpClientError(u) && u._tag === "RequestError"

/**
 * A client's error as the caller sees it: the platform's `RequestError` and
 * `ResponseError` (a body that failed, or `filterStatusOk`'s status) redacted,
 * any other error as it is.
 *
 * @internal
 */
export const redactError = (u: unknown, redaction: Redact.Redaction): unknown => {
  if (!HttpClientError.isHttpClientError(u)) return u
  return u._tag === "RequestError" ? redactRequestError(u, redaction) : redactResponseError(u, redaction)
}
