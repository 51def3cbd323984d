import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import type * as HttpRetry from "../HttpRetry.js"

// What a client tells the retry about itself, as non-enumerable marks on a
// client derived from it: how it bounds an attempt, and that it records no span.

/** @internal */
export const AttemptTimeoutTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/AttemptTimeout")

const forkedTimeout: HttpRetry.EnforceTimeout = (effect, timeout, onTimeout) =>
  Effect.timeoutFail(effect, { duration: timeout, onTimeout })

/** @internal */
export const enforceOf = (client: unknown): HttpRetry.EnforceTimeout =>
  Predicate.hasProperty(client, AttemptTimeoutTypeId) ?
    client[AttemptTimeoutTypeId] as HttpRetry.EnforceTimeout :
    forkedTimeout

/** @internal */
export const withAttemptTimeout = dual<
  (
    enforce: HttpRetry.EnforceTimeout
  ) => <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>,
  <E, R>(self: HttpClient.HttpClient.With<E, R>, enforce: HttpRetry.EnforceTimeout) => HttpClient.HttpClient.With<E, R>
>(2, (self, enforce) => {
  // The same client, answering one more question: no extra step per request.
  const client = Object.create(self)
  Object.defineProperty(client, AttemptTimeoutTypeId, { value: enforce, enumerable: false })
  return client
})

/** @internal */
export const NoSpansTypeId: unique symbol = Symbol.for("@http-retry/core/HttpRetry/NoSpans")

/** @internal */
export const withNoSpans = <E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> => {
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
  for (const id of [AttemptTimeoutTypeId, NoSpansTypeId]) {
    if (Predicate.hasProperty(from, id)) Object.defineProperty(to, id, { value: from[id], enumerable: false })
  }
  return to
}
