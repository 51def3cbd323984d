import { oursAdapter } from "./ours.js"
import type { Adapter } from "./types.js"

/** Our product on its lean path: the same layer with `tracing: false` (no span per attempt, no trace headers). */
export const adapter: Adapter = oursAdapter({ tracing: false })
