/**
 * Retrying HTTP requests as Effect programs, on any `@effect/platform` `HttpClient`:
 * the retry combinator and layer, the policy, the typed status error, `Retry-After`
 * parsing, transport failure classification and a scripted test client.
 *
 * @module @http-retry/core
 * @since 0.1.0
 */

/**
 * A circuit breaker per origin (scheme, host, port), shared by every call
 * through the client: after enough failures the origin is left alone for a
 * while, and calls to it fail at once with a `CircuitOpenError` instead of
 * waiting out their timeouts and backoffs against a backend that is down.
 *
 * - **Closed** (normal): every call goes. It opens after
 *   `consecutiveFailures` failures in a row (default 5), or when at least
 *   `failureRatio` (default 0.5) of the calls in the last `window` (default
 *   10 seconds) failed, counted once `minimumCalls` (default 20) were made in
 *   it. Either rule may be turned off with `false`.
 * - **Open**: no call goes, for `openFor` (default 5 seconds), or longer when
 *   the failure that opened it was a 429 or 503 with a `Retry-After` (capped
 *   at the policy's `maxRetryAfter`). A first attempt fails with
 *   `CircuitOpenError`; a retry is not made, and the call ends with its last
 *   failure (give-up reason `CircuitOpen` on an `HttpStatusError`).
 * - **Half-open**: from `openFor` on, at most `halfOpenProbes` calls (default
 *   1) go as probes; a probe's success closes the breaker, its failure opens
 *   it again for `openFor`. A probe that is interrupted gives its place back.
 *
 * What counts as a failure is what the call's policy retries (`retryOn`: its
 * statuses, transport failures that can heal, attempt timeouts); a 2xx answer
 * is a success; any other answer (a 404) is neither.
 *
 * The `CircuitBreaker` service is the store: `make` keeps the state in this
 * process; a shared store (Redis) implements the same `Service`. Its checks
 * and records are synchronous and make no I/O, as they run on every attempt.
 * Times are milliseconds on Effect's `Clock`, passed in by the caller, so a
 * breaker is exact under `TestClock`.
 *
 * @since 0.2.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * Hedged requests, as in "The Tail at Scale": when an attempt that may be
 * sent again has no answer after the hedge delay, a second one is sent beside
 * it; the first answer the policy accepts wins and the other attempts are
 * interrupted (their connections closed, their bodies never read). The delay
 * is fixed or follows a percentile of the latency seen per origin, and a
 * budget per origin caps the extra load.
 *
 * Turn it on with `HttpRetry.withHedging` on a client, or `Hedging.layer`
 * over the client in context.
 *
 * @since 0.2.0
 */
export * as Hedging from "./Hedging.js"

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
