import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"
import { undiciLayer } from "./undici-layer.js"

/**
 * The plain @effect/platform-node undici client, `NodeHttpClient.layerUndici`, no retry. The driver's status check
 * (a comparison, the same for every Effect client) fails it on a non-2xx answer; no `HttpClient.filterStatusOk`.
 */
export const adapter: Adapter = {
  make: ({ connections }) => makeEffectClient(undiciLayer(connections))
}
