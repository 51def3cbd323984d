import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Schedule from "effect/Schedule"
import { makeEffectClient } from "./effect-driver.js"
import type { Adapter } from "./types.js"
import { BASE_DELAY_MS } from "./types.js"
import { undiciLayer } from "./undici-layer.js"

/** What our default policy retries: 408, 429, 500, 502, 503, 504. */
const retriedStatuses = new Set([408, 429, 500, 502, 503, 504])

/**
 * The platform's own retry, written the way an Effect user writes it without us: `NodeHttpClient.layerUndici`,
 * `HttpClient.filterStatusOk` (a non-2xx answer becomes a `ResponseError`), then `HttpClient.retry` with
 * `Schedule.exponential(base)` (factor 2, no jitter) and `times: 3` (4 attempts, our default `maxAttempts`),
 * retrying while the error is a transport `RequestError` or a `ResponseError` whose status our policy retries.
 * It reads no Retry-After, has no attempt timeout, no deadline and no span per attempt (the platform's client
 * still records its own span per request), and leaves a failed answer's body unread.
 */
export const adapter: Adapter = {
  make: ({ baseDelayMs = BASE_DELAY_MS, connections }) =>
    makeEffectClient(undiciLayer(connections), (client) =>
      client.pipe(
        HttpClient.filterStatusOk,
        HttpClient.retry({
          schedule: Schedule.exponential(`${baseDelayMs} millis`, 2),
          times: 3,
          while: (error: HttpClientError.HttpClientError) =>
            error._tag === "RequestError" ||
            (error.reason === "StatusCode" && retriedStatuses.has(error.response.status))
        })
      ))
}
