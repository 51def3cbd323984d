import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"

/** Our product on its lean path: the same layer with `tracing: false` (no span per attempt, no trace headers). */
export const adapter: Adapter = {
  make: ({ connections, policy }) =>
    makeEffectClient(
      policy === "default"
        ? NodeHttpRetry.layer({ connections, tracing: false })
        : NodeHttpRetry.layer({
          connections,
          tracing: false,
          policy: RetryPolicy.make({ baseDelay: "50 millis", jitter: "none" })
        })
    )
}
