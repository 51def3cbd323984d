import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"

/**
 * `NodeHttpRetry.layer` with `options`: "default" is the default policy; "fault" is the common settings every
 * retrying client gets here (50 ms base, no jitter). The retrying client fails on a non-2xx itself, so nothing is
 * added to it (the plain platform client needs `HttpClient.filterStatusOk` for the same work).
 */
export const oursAdapter = (options: NodeHttpRetry.Options): Adapter => ({
  make: ({ connections, policy }) =>
    makeEffectClient(
      NodeHttpRetry.layer({
        ...options,
        connections,
        ...(policy === "default" ? {} : { policy: RetryPolicy.make({ baseDelay: "50 millis", jitter: "none" }) })
      }),
      (client) => client
    )
})

/** Our product: `NodeHttpRetry.layer()`, the direct transport, a span per attempt. */
export const adapter: Adapter = oursAdapter({})
