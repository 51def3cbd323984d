import * as HttpClient from "@effect/platform/HttpClient"
import * as Schedule from "effect/Schedule"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"
import { BASE_DELAY_MS, RETRY_LIMIT } from "./types.js"
import { undiciLayer } from "./undici-layer.js"

/**
 * Opt-in (`--clients=effect-retry`): what an Effect user writes without us, platform's `HttpClient.retryTransient`.
 * It retries 408/429/5xx and transport errors, and does not read Retry-After.
 */
export const adapter: Adapter = {
  make: ({ baseDelayMs = BASE_DELAY_MS, connections }) =>
    makeEffectClient(undiciLayer(connections), (client) =>
      client.pipe(
        HttpClient.filterStatusOk,
        HttpClient.retryTransient({
          schedule: Schedule.exponential(`${baseDelayMs} millis`, 2),
          times: RETRY_LIMIT
        })
      ))
}
