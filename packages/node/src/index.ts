/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as NodeHttpRetry from "./NodeHttpRetry.js"
