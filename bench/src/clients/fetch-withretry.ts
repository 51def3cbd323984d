import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { HttpRetry } from "@http-retry/core"
import * as Layer from "effect/Layer"
import { makeEffectClient } from "./effect-driver.js"
import { retryPolicyOf } from "./ours.js"
import type { Adapter } from "./types.js"

/** `HttpRetry.layer()` (default policy, tracing on) over `FetchHttpClient.layer`: the retry on a non-Node client. */
export const adapter: Adapter = {
  make: (settings) =>
    makeEffectClient(HttpRetry.layer(retryPolicyOf(settings)).pipe(Layer.provide(FetchHttpClient.layer)))
}
