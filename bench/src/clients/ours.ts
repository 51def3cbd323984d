import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"

/**
 * Our product: `NodeHttpRetry.layer` provides an `HttpClient` with retry built in. "default" is the default policy;
 * "fault" is the common settings every retrying client gets here (50 ms base, no jitter).
 */
export const adapter: Adapter = {
  make: ({ connections, policy }) =>
    makeEffectClient(
      policy === "default"
        ? NodeHttpRetry.layer({ connections })
        : NodeHttpRetry.layer({ connections, policy: RetryPolicy.make({ baseDelay: "50 millis", jitter: "none" }) })
    )
}
