import { Hedging } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Layer from "effect/Layer"
import { makeEffectClient } from "./effect-driver.js"
import { retryPolicyOf } from "./ours.js"
import type { Adapter } from "./types.js"

/**
 * Our product with hedging on: `NodeHttpRetry.layer()` as for "ours", hedged by `Hedging.layer()` under the
 * defaults (adaptive delay: p95 of the latency per origin over 30 s, floor 10 ms; budget 5% of requests over 10 s).
 */
export const adapter: Adapter = {
  make: (settings) => {
    const policy = retryPolicyOf(settings)
    return makeEffectClient(
      Hedging.layer().pipe(
        Layer.provide(
          NodeHttpRetry.layer({ connections: settings.connections, ...(policy === undefined ? {} : { policy }) })
        )
      )
    )
  }
}
