/**
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
