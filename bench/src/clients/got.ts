import got from "got"
import * as Http from "node:http"
import { runPromises } from "./promise-driver.js"
import type { Adapter } from "./types.js"
import { BASE_DELAY_MS, RETRY_LIMIT, RETRY_STATUSES } from "./types.js"

/**
 * got 14 (got 15+ needs Node 22). Its own delay is 1000 ms * 2^(n-1) plus up to 100 ms noise; `calculateDelay`
 * replaces it and `enforceRetryRules` keeps got's limit, method, status and error-code checks in force. A
 * Retry-After value replaces the backoff. Network errors: got's default `errorCodes` (ECONNRESET among them).
 */
export const adapter: Adapter = {
  make: async ({ baseDelayMs = BASE_DELAY_MS, connections }) => {
    const agent = new Http.Agent({ keepAlive: true, maxSockets: connections ?? Infinity })
    const client = got.extend({
      agent: { http: agent },
      retry: {
        limit: RETRY_LIMIT,
        methods: ["GET"],
        statusCodes: [...RETRY_STATUSES],
        noise: 0,
        enforceRetryRules: true,
        calculateDelay: ({ attemptCount, retryAfter }) => retryAfter ?? baseDelayMs * 2 ** (attemptCount - 1)
      }
    })
    return {
      run: (work) => runPromises(work, (url) => client.get(url).json()),
      close: async () => agent.destroy()
    }
  }
}
