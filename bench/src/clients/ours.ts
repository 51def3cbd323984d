import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter, Settings } from "./types.js"
import { BASE_DELAY_MS } from "./types.js"

/**
 * Our policy for a scenario: "default" is `RetryPolicy.defaults` (undefined here, so that the layer's own default
 * is what runs); "fault" is the common settings every retrying client gets here: `baseDelayMs` (50 ms, or 1 ms
 * on the retry path), no jitter, the policy's other defaults (4 attempts, factor 2, 408/429/5xx and transport
 * failures, Retry-After on 429/503).
 */
export const retryPolicyOf = ({ baseDelayMs = BASE_DELAY_MS, policy }: Settings): RetryPolicy.RetryPolicy | undefined =>
  policy === "default" ? undefined : RetryPolicy.make({ baseDelay: `${baseDelayMs} millis`, jitter: "none" })

/**
 * `NodeHttpRetry.layer` with `options` and the scenario's policy. The retrying client fails on a non-2xx itself;
 * the driver's status check costs every Effect client the same comparison.
 */
export const oursAdapter = (options: NodeHttpRetry.Options): Adapter => ({
  make: (settings) => {
    const policy = retryPolicyOf(settings)
    return makeEffectClient(
      NodeHttpRetry.layer({
        ...options,
        connections: settings.connections,
        ...(policy === undefined ? {} : { policy })
      })
    )
  }
})

/** Our product: `NodeHttpRetry.layer()`, the direct transport, a span per attempt. */
export const adapter: Adapter = oursAdapter({})
