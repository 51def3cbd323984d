import { oursAdapter } from "./ours.js"
import type { Adapter } from "./types.js"

/**
 * The same layer on the platform's own undici client (`transport: "platform"`): against the plain platform client,
 * what the retry itself costs, the transport being the same.
 */
export const adapter: Adapter = oursAdapter({ transport: "platform" })
