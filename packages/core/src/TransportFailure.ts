/**
 * What went wrong below HTTP, read from the error codes that Node, undici and
 * TLS put on the causes of a platform `RequestError`. The retry decision is
 * made on this classification: a refused connection, a reset or a timeout can
 * heal; a name that does not resolve or a certificate that does not verify
 * will fail the same way on every attempt.
 *
 * @since 0.1.0
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | "ConnectionRefused"
  | "ConnectionReset"
  | "Timeout"
  | "DnsNotFound"
  | "DnsUnavailable"
  | "TlsVerification"
  | "ProxyAuthentication"
  | "InvalidRequest"
  | "Aborted"
  | "Unknown"

/**
 * The classification of one failure, with the code it was read from.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportFailure {
  /** What went wrong. */
  readonly kind: Kind
  /** The error code it was read from; `undefined` when none was found. */
  readonly code: string | undefined
}

const byCode: Record<string, Kind> = {
  ECONNREFUSED: "ConnectionRefused",
  ECONNRESET: "ConnectionReset",
  EPIPE: "ConnectionReset",
  ECONNABORTED: "ConnectionReset",
  UND_ERR_SOCKET: "ConnectionReset",
  UND_ERR_CLOSED: "ConnectionReset",
  ERR_HTTP2_STREAM_ERROR: "ConnectionReset",
  ETIMEDOUT: "Timeout",
  UND_ERR_CONNECT_TIMEOUT: "Timeout",
  UND_ERR_HEADERS_TIMEOUT: "Timeout",
  UND_ERR_BODY_TIMEOUT: "Timeout",
  ENOTFOUND: "DnsNotFound",
  EAI_NONAME: "DnsNotFound",
  EAI_NODATA: "DnsNotFound",
  EAI_AGAIN: "DnsUnavailable",
  ENETUNREACH: "ConnectionRefused",
  EHOSTUNREACH: "ConnectionRefused",
  ENETDOWN: "ConnectionRefused",
  EHOSTDOWN: "ConnectionRefused",
  // The request itself cannot be sent (a header with a newline, an unsupported scheme): no attempt will fare better.
  UND_ERR_INVALID_ARG: "InvalidRequest",
  UND_ERR_NOT_SUPPORTED: "InvalidRequest",
  ERR_INVALID_URL: "InvalidRequest",
  ERR_INVALID_HTTP_TOKEN: "InvalidRequest",
  ERR_INVALID_CHAR: "InvalidRequest",
  ERR_UNESCAPED_CHARACTERS: "InvalidRequest"
}

const TLS_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "INVALID_CA",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

const kindOfCode = (code: string): Kind | undefined =>
  byCode[code] ?? (TLS_CODES.has(code) || code.startsWith("ERR_TLS_CERT") ? "TlsVerification" : undefined)

// undici reports a proxy's refusal only in the message: "Proxy response (407) !== 200 when HTTP Tunneling".
const PROXY_AUTH = /\bproxy\b.*\(407\)|\(407\).*\bproxy\b/i

const messageOf = (u: unknown): string =>
  Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message : ""

/**
 * The abort of the request's own signal, as the platform's clients report it: a `DOMException` named `AbortError`
 * (code 20, the reason an `AbortController` aborts with when given none, as `HttpClient.withScope` does when its
 * scope is closed), told by its shape so that one from another realm counts too. undici's own `RequestAbortedError`
 * is named `AbortError` as well, but its code is a string, and it also reports a proxy's refusal to tunnel, which
 * may heal.
 */
const isAbortException = (u: unknown): boolean =>
  Predicate.hasProperty(u, "name") && u.name === "AbortError" && Predicate.hasProperty(u, "code") && u.code === 20

const codeOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "code") && typeof u.code === "string" ? u.code : undefined

/**
 * Classifies any error value by walking its `cause` chain (and the `errors`
 * of an `AggregateError`, as a failed happy-eyeballs connect gives), at most
 * a few levels deep.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyCause = (cause: unknown): TransportFailure => {
  const queue: Array<unknown> = [cause]
  let firstCode: string | undefined
  for (let i = 0; i < queue.length && i < 16; i++) {
    const u = queue[i]
    if (isAbortException(u)) return { kind: "Aborted", code: undefined }
    const code = codeOf(u)
    if (PROXY_AUTH.test(messageOf(u))) return { kind: "ProxyAuthentication", code }
    if (code !== undefined) {
      const kind = kindOfCode(code)
      if (kind !== undefined) return { kind, code }
      firstCode ??= code
    }
    if (Predicate.hasProperty(u, "cause")) queue.push(u.cause)
    if (Predicate.hasProperty(u, "errors") && Array.isArray(u.errors)) queue.push(...u.errors)
  }
  return { kind: "Unknown", code: firstCode }
}

/**
 * Classifies a platform `RequestError`. Only `reason: "Transport"` errors are
 * transport failures; `Encode` and `InvalidUrl` are not, and give `undefined`.
 *
 * @since 0.1.0
 * @category classification
 */
export const classify = (error: HttpClientError.RequestError): TransportFailure | undefined =>
  error.reason === "Transport" ? classifyCause(error.cause) : undefined

/**
 * Whether a failure of this kind may heal on another attempt. DNS "not found",
 * TLS verification failures, a proxy refusing our credentials (407) and a
 * request the transport refuses to send are deterministic, and a request
 * aborted by its own signal (`Aborted`: the scope of `HttpClient.withScope`
 * was closed) would be aborted again; everything else, including failures we
 * cannot classify, is worth another try.
 *
 * @since 0.1.0
 * @category classification
 */
export const isTransient = (kind: Kind): boolean =>
  kind !== "DnsNotFound" && kind !== "TlsVerification" && kind !== "ProxyAuthentication" &&
  kind !== "InvalidRequest" && kind !== "Aborted"
