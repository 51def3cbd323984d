/**
 * The Node platform layer for `@http-retry/core`, on `@effect/platform-node`'s undici
 * client.
 *
 * @module @http-retry/node
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as NodeHttpRetry from "./NodeHttpRetry.js"
