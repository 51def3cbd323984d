import { oursAdapter } from "./ours.js"
import type { Adapter } from "./types.js"

/**
 * Our product with the circuit breaker on: `NodeHttpRetry.layer({ breaker: true })`, its defaults (5 failures in a
 * row or half of 20 calls in 10 s; open 5 s). On the happy path it shows what the breaker costs; against /down,
 * how fast a call fails while it is open.
 */
export const adapter: Adapter = oursAdapter({ breaker: true })
