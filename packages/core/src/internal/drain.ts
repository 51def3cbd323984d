import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

const DRAIN_LIMIT = 64 * 1024

/**
 * Reads and discards a failed attempt's body so its connection goes back to
 * the pool, and tells whether it was read to the end. A body larger than
 * `DRAIN_LIMIT`, or one that stalls, is cut off instead: ending the read
 * early destroys the socket, which is cheaper than reading megabytes of an
 * error page. A body that fails is expected here and ignored.
 *
 * @internal
 */
export const drain = (
  response: HttpClientResponse.HttpClientResponse,
  timeoutMillis: number
): Effect.Effect<boolean> => {
  const length = Number(response.headers["content-length"] ?? Number.NaN)
  const timeout = Duration.millis(timeoutMillis)
  // A small body of known length (the usual error page) is read in one go, without a stream's machinery.
  if (length <= DRAIN_LIMIT) {
    return Effect.match(Effect.timeout(response.arrayBuffer, timeout), {
      onFailure: () => false,
      onSuccess: () => true
    })
  }
  return Stream.runFoldWhile(response.stream, 0, (n) => n <= DRAIN_LIMIT, (n, chunk) => n + chunk.length).pipe(
    Effect.timeout(timeout),
    Effect.match({ onFailure: () => false, onSuccess: (n) => n <= DRAIN_LIMIT }),
    // The stream's own fiber must not log the failure it ends with as an unhandled error.
    Effect.withUnhandledErrorLogLevel(Option.none())
  )
}
