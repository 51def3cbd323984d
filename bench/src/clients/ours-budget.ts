import { oursAdapter } from "./ours.js"
import type { Adapter } from "./types.js"

/** Our product with the retry budget on: `NodeHttpRetry.layer({ budget: true })`, 100 tokens, 0.1 per success. */
export const adapter: Adapter = oursAdapter({ budget: true })
