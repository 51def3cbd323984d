import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { withinTimeout } from "./timeout.js"

/**
 * The longest a failed answer's body may take to drain (the attempt's timeout
 * too, when shorter): a body that stalls longer is cut off.
 *
 * @internal
 */
export const MAX_DRAIN_MILLIS = 1000

/**
 * undici reuses a socket whose response has just ended only after a full turn
 * of the event loop (`setImmediate`, client-h1.js in undici 7): a request sent
 * sooner finds the connection busy and opens another. A timer set once the
 * body has ended fires after that turn, so the connection is back in the pool
 * whatever the backoff, 0 ms included. Under the TestClock a zero sleep is
 * immediate.
 */
const connectionReturned: Effect.Effect<void> = Effect.sleep(Duration.zero)

/**
 * Reads and discards a failed attempt's body so its connection goes back to
 * the pool, as undici's `body.dump()` does, and tells whether it was read to
 * the end. A body longer than `limit` bytes (by its `Content-Length`, or as it
 * is read), or one that stalls past `timeoutMillis`, is cut off instead:
 * ending the read early destroys the socket, which is cheaper than reading
 * megabytes of an error page. A body that fails is expected here and ignored.
 *
 * With `untilReusable` false the caller's own wait must be a timer armed after
 * this (the retry's backoff is): it then stands for the zero sleep.
 *
 * @internal
 */
export const drain = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number,
  timeoutMillis: number,
  untilReusable = true
): Effect.Effect<boolean> => {
  const drained = untilReusable ? Effect.as(connectionReturned, true) : Effect.succeed(true)
  const length = Number(response.headers["content-length"] ?? Number.NaN)
  // One fiber and a native timer on the live clock: `Effect.timeout` forked two and joined their fiber refs,
  // on every retried answer.
  const bounded = <A, E>(read: Effect.Effect<A, E>) =>
    Effect.withFiberRuntime<A, E | Cause.TimeoutException>((fiber) =>
      withinTimeout(read, fiber, timeoutMillis, () => new Cause.TimeoutException())
    )
  // A small body of known length (the usual error page) is read in one go, without a stream's machinery.
  if (length <= limit) {
    return bounded(response.arrayBuffer).pipe(
      Effect.matchEffect({
        onFailure: () => Effect.succeed(false),
        onSuccess: () => drained
      })
    )
  }
  // Known to be too long: read nothing, end the stream at its first chunk.
  const read = length > limit ?
    Effect.as(Stream.runDrain(Stream.take(response.stream, 1)), limit + 1) :
    Stream.runFoldWhile(response.stream, 0, (n) => n <= limit, (n, chunk) => n + chunk.length)
  return bounded(read).pipe(
    Effect.matchEffect({
      onFailure: () => Effect.succeed(false),
      onSuccess: (n) => n <= limit ? drained : Effect.succeed(false)
    }),
    // The stream's own fiber must not log the failure it ends with as an unhandled error.
    Effect.withUnhandledErrorLogLevel(Option.none())
  )
}
