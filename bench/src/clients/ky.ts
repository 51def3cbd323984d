import ky from "ky"
import { runPromises } from "./promise-driver.js"
import type { Adapter } from "./types.js"
import { BASE_DELAY_MS, RETRY_LIMIT, RETRY_STATUSES } from "./types.js"

/**
 * ky 1.14 (ky 2 needs Node 22), on Node's global `fetch` (the undici bundled in Node, not the one
 * @effect/platform-node uses). Retry-After is read for `afterStatusCodes` and replaces the backoff. Network errors
 * (fetch's TypeError) are always retried. No jitter unless `jitter` is set. The 10 s default timeout is turned off,
 * as no other client has one. Connections per origin are those of Node's global dispatcher (unlimited).
 */
export const adapter: Adapter = {
  make: async ({ baseDelayMs = BASE_DELAY_MS }) => {
    const client = ky.create({
      timeout: false,
      retry: {
        limit: RETRY_LIMIT,
        methods: ["get"],
        statusCodes: [...RETRY_STATUSES],
        afterStatusCodes: [...RETRY_STATUSES],
        delay: (attemptCount) => baseDelayMs * 2 ** (attemptCount - 1)
      }
    })
    return {
      run: (work) => runPromises(work, (url) => client.get(url).json()),
      close: async () => {}
    }
  }
}
