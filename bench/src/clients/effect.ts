import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"
import { undiciLayer } from "./undici-layer.js"

/** The plain @effect/platform-node undici client, no retry, failing on non-2xx with `HttpClient.filterStatusOk`. */
export const adapter: Adapter = {
  make: ({ connections }) => makeEffectClient(undiciLayer(connections))
}
