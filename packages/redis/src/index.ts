/**
 * The fleet form of `@http-retry/core`'s retry budget: per-origin token
 * buckets in Redis, shared by every process of a service.
 *
 * @module @http-retry/redis
 * @since 0.2.0
 */

/**
 * The fleet form of the retry budget: `@http-retry/core`'s `RetryBudget`
 * (gRPC `retryThrottling` per origin) with its buckets in Redis, so that every
 * process of a service draws from one budget per origin and a backend that is
 * down sees about one attempt per call from the whole fleet.
 *
 * The success path makes no round trip: `record` only counts in this process,
 * and a background fiber sends the counts of every origin in one atomic Lua
 * script each `flushInterval`. `acquire`, before a retry, sends its origin's
 * counts and reads the shared tokens in one round trip, waiting at most
 * `timeout`. When Redis is unreachable or slow, decisions are made on this
 * process's view (the tokens Redis last gave plus what was counted here since),
 * one warning is logged, and one info line when Redis answers again: a call
 * never fails because the store is down.
 *
 * @since 0.2.0
 */
export * as RedisRetryBudget from "./RedisRetryBudget.js"
