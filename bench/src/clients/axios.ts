import axios from "axios"
import axiosRetry, { isNetworkError, retryAfter } from "axios-retry"
import * as Http from "node:http"
import { runPromises } from "./promise-driver.js"
import type { Adapter } from "./types.js"
import { BASE_DELAY_MS, RETRY_LIMIT, RETRY_STATUSES } from "./types.js"

/**
 * axios 1.x (its Node http adapter) with axios-retry 4. axios-retry's `exponentialDelay` is 2^n * 100 ms plus up
 * to 20% random, so `retryDelay` is written out; it takes the larger of the backoff and Retry-After (got and ky let
 * Retry-After replace the backoff: same wait here, since 1 s > 50 ms). Network errors: `isNetworkError`, which
 * accepts ECONNRESET.
 */
export const adapter: Adapter = {
  make: async ({ baseDelayMs = BASE_DELAY_MS, connections }) => {
    const agent = new Http.Agent({ keepAlive: true, maxSockets: connections ?? Infinity })
    const client = axios.create({ httpAgent: agent, responseType: "json" })
    axiosRetry(client, {
      retries: RETRY_LIMIT,
      retryCondition: (error) =>
        isNetworkError(error) || (error.response !== undefined && RETRY_STATUSES.includes(error.response.status)),
      retryDelay: (retryCount, error) => Math.max(baseDelayMs * 2 ** (retryCount - 1), retryAfter(error))
    })
    return {
      run: (work) => runPromises(work, (url) => client.get(url).then((response) => response.data)),
      close: async () => agent.destroy()
    }
  }
}
