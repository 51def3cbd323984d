import { oursAdapter } from "./ours.js"
import type { Adapter } from "./types.js"

/**
 * Our product with the retry budget and the circuit breaker both on, their defaults:
 * `NodeHttpRetry.layer({ budget: true, breaker: true })`. On the happy path it shows what the two cost together.
 */
export const adapter: Adapter = oursAdapter({ budget: true, breaker: true })
