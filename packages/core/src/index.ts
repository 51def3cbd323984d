/**
 * Retrying HTTP requests as Effect programs, on any `@effect/platform` `HttpClient`:
 * the retry combinator and layer, the policy, the typed status error, `Retry-After`
 * parsing, transport failure classification and a scripted test client.
 *
 * @module @http-retry/core
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as HttpRetry from "./HttpRetry.js"

/**
 * @since 0.1.0
 */
export * as HttpStatusError from "./HttpStatusError.js"

/**
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"

/**
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * @since 0.1.0
 */
export * as TestHttpClient from "./TestHttpClient.js"

/**
 * @since 0.1.0
 */
export * as TransportFailure from "./TransportFailure.js"
