/**
 * Retrying HTTP requests as Effect programs, on any `@effect/platform` `HttpClient`:
 * the retry combinator and layer, the policy, the typed status error, `Retry-After`
 * parsing, transport failure classification and a scripted test client.
 *
 * @module @http-retry/core
 * @since 0.1.0
 */

/**
 * Retrying requests: a combinator that turns any `HttpClient` into one that
 * fails with a typed `HttpStatusError` on a final non-2xx answer and retries
 * transient failures under a `RetryPolicy`.
 *
 * @since 0.1.0
 */
export * as HttpRetry from "./HttpRetry.js"

/**
 * The typed failure for a final non-2xx answer: the equivalent of
 * `requests`' `raise_for_status`, carrying how many attempts were made and
 * why the retry gave up.
 *
 * @since 0.1.0
 */
export * as HttpStatusError from "./HttpStatusError.js"

/**
 * The `Retry-After` response header (RFC 9110 §10.2.3), parsed against
 * Effect's `Clock` so that HTTP-dates are testable with `TestClock`.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"

/**
 * A retry budget: how many retries the calls to one origin may make, shared by
 * every call through the client, so that a backend that is down sees about one
 * attempt per call instead of `maxAttempts` (no retry storm).
 *
 * The algorithm is gRPC's `retryThrottling` (gRFC A6), per origin (scheme,
 * host, port): a bucket of `maxTokens` tokens, full at the start; an attempt
 * that fails in a way the policy retries (`retryOn`) takes 1 token, an answer
 * the policy accepts gives back `tokenRatio` (never above `maxTokens`); a retry
 * is made only while more than half of `maxTokens` is left. First attempts are
 * never refused. With the defaults (100 tokens, 0.1) retries stop once about 50
 * more attempts have failed than a tenth of those that succeeded, and in
 * steady state they go on while fewer than about 1 attempt in 11 fails.
 *
 * The `RetryBudget` service is the store: `make` keeps the buckets in this
 * process; `@http-retry/redis` keeps them in Redis, shared by a fleet. Tests
 * swap it with a Layer.
 *
 * @since 0.2.0
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * A retry policy as plain, inspectable data: what to retry, how long to wait,
 * and when to stop. `make` validates every field; `toSchedule` compiles the
 * backoff into an Effect `Schedule`.
 *
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * A scripted `HttpClient` for tests without a network: it answers each
 * request from a script (statuses, headers, bodies, transport failures,
 * hangs, delays on Effect's `Clock`) and records what it received, so retry
 * behaviour can be asserted exactly under `TestClock`.
 *
 * @since 0.1.0
 */
export * as TestHttpClient from "./TestHttpClient.js"

/**
 * What went wrong below HTTP, read from the error codes that Node, undici and
 * TLS put on the causes of a platform `RequestError`. The retry decision is
 * made on this classification: a refused connection, a reset or a timeout can
 * heal; a name that does not resolve or a certificate that does not verify
 * will fail the same way on every attempt.
 *
 * @since 0.1.0
 */
export * as TransportFailure from "./TransportFailure.js"
