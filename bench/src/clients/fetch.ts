import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"

/**
 * The platform's fetch client, `FetchHttpClient.layer`, no retry: on Node's global `fetch` (the undici bundled in
 * Node, with its global dispatcher: unlimited connections per origin).
 */
export const adapter: Adapter = {
  make: () => makeEffectClient(FetchHttpClient.layer)
}
