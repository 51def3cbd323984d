import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"

/**
 * A client cut in two: its request preprocessing (`mapRequest` and friends)
 * and the sending of an already preprocessed request.
 *
 * @internal
 */
export interface Split<E, R> {
  readonly preprocess: HttpClient.HttpClient.Preprocess<E, R>
  readonly send: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>
}

/**
 * The retry runs between preprocessing and sending, so it sees (and logs, and
 * traces) the final request, and an attempt re-sends it without preprocessing
 * it again. Each attempt and each redirect hop sends a request of its own (an
 * attempt adds its trace headers, a hop has another URL).
 *
 * @effect/platform 0.97.2 gives no public way to do that: `HttpClient.transform`
 * hands out the send of the preprocessed request itself, not a function of the
 * request. So this reads the `preprocess` and `postprocess` every client made
 * by `HttpClient.makeWith` (hence `make`, `mapRequest`, `transform`, ...) carries,
 * the fields `HttpClient.transform` itself reads. test/HttpRetry/clientSplit.test.ts pins
 * that contract. A client made some other way is retried around its whole
 * `execute`.
 *
 * @internal
 */
export const split = <E, R>(client: HttpClient.HttpClient.With<E, R>): Split<E, R> => {
  const parts = client as unknown as Partial<{
    preprocess: HttpClient.HttpClient.Preprocess<E, R>
    postprocess: HttpClient.HttpClient.Postprocess<E, R>
  }>
  if (typeof parts.preprocess === "function" && typeof parts.postprocess === "function") {
    const postprocess = parts.postprocess
    return { preprocess: parts.preprocess, send: (request) => postprocess(Effect.succeed(request)) }
  }
  return { preprocess: Effect.succeed, send: (request) => client.execute(request) }
}
