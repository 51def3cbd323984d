import { HttpRetry } from "@http-retry/core"
import * as Layer from "effect/Layer"
import { makeEffectClient } from "./effect-driver.js"
import { retryPolicyOf } from "./ours.js"
import type { Adapter } from "./types.js"
import { undiciLayer } from "./undici-layer.js"

/**
 * The combinator "for any client" over the platform's client: `HttpRetry.layer()` (default policy, tracing on)
 * provided over `NodeHttpClient.layerUndici`, the way a user adds it to a program that already has the platform's
 * layer. Against the `effect` adapter (the same layer, no retry) it shows what the retry costs on a client that
 * gives it no fast path.
 */
export const adapter: Adapter = {
  make: (settings) =>
    makeEffectClient(HttpRetry.layer(retryPolicyOf(settings)).pipe(Layer.provide(undiciLayer(settings.connections))))
}
