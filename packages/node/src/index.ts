/**
 * The Node platform layer for `@http-retry/core`, on `@effect/platform-node`'s undici.
 *
 * @module @http-retry/node
 * @since 0.1.0
 */

/**
 * The Node platform layer: `@effect/platform-node`'s undici under the core's
 * retry, with TLS, proxy and connection options per layer (never
 * process-wide).
 *
 * @since 0.1.0
 */
export * as NodeHttpRetry from "./NodeHttpRetry.js"
