import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
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
  return withRedactedUrl(
    new RedactedRequestError({
      request: error.request,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    }),
    redaction
  )
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

/** @internal */
export const redactResponseError = (
  error: HttpClientError.ResponseError,
  redaction: Redact.Redaction
): RedactedResponseError => {
  if (error instanceof RedactedResponseError) return error
  return withRedactedUrl(
    new RedactedResponseError({
      request: error.request,
      response: error.response,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
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
export class RedactedResponse implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
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
