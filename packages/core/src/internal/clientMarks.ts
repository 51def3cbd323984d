import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Predicate from "effect/Predicate"
import type * as HttpRetry from "../HttpRetry.js"

// What a client tells the retry about itself, as non-enumerable marks on a
// client derived from it: that it reads the attempt's timeout, that it can
// abort its own attempt (for a hedge), and that it records no span.

/** Public as `HttpRetry.AttemptTimeout`: left unmarked so its declaration stays in the published types. */
export class AttemptTimeout extends Context.Tag("@http-retry/core/HttpRetry/AttemptTimeout")<
  AttemptTimeout,
  HttpRetry.AttemptTimeout.Service
>() {}

/** Public through `HttpRetry.ReadsAttemptTimeout`: left unmarked so its declaration stays in the published types. */
export const ReadsAttemptTimeoutTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/ReadsAttemptTimeout")

const AbortsAttemptTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/AbortsAttempt")

/** @internal */
export const readsAttemptTimeout = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  options?: HttpRetry.ReadsAttemptTimeoutOptions
): HttpClient.HttpClient.With<E, R> & HttpRetry.ReadsAttemptTimeout => {
  // The same client, answering one more question: no extra step per request.
  const client = Object.create(self)
  Object.defineProperty(client, ReadsAttemptTimeoutTypeId, { value: true, enumerable: false })
  if (options?.abortable === true) {
    Object.defineProperty(client, AbortsAttemptTypeId, { value: true, enumerable: false })
  }
  return client
}

/** @internal */
export const isReadingAttemptTimeout = (client: unknown): boolean =>
  Predicate.hasProperty(client, ReadsAttemptTimeoutTypeId)

/** @internal */
export const isAbortingAttempt = (client: unknown): boolean => Predicate.hasProperty(client, AbortsAttemptTypeId)

/** Public through `HttpRetry.RecordsNoSpans`: left unmarked so its declaration stays in the published types. */
export const NoSpansTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/NoSpans")

/** @internal */
export const withNoSpans = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E, R> & HttpRetry.RecordsNoSpans => {
  const client = Object.create(self)
  Object.defineProperty(client, NoSpansTypeId, { value: true, enumerable: false })
  return client
}

/**
 * A client built on `from` keeps what `from` told the retry about itself.
 *
 * @internal
 */
export const keepMarks = <C>(from: unknown, to: C): C => {
  for (const id of [ReadsAttemptTimeoutTypeId, AbortsAttemptTypeId, NoSpansTypeId]) {
    if (Predicate.hasProperty(from, id)) Object.defineProperty(to, id, { value: from[id], enumerable: false })
  }
  return to
}
