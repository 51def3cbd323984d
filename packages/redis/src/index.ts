/**
 * The fleet form of `@http-retry/core`'s retry budget and circuit breaker:
 * their state per origin in Redis, shared by every process of a service.
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

/**
 * The fleet form of `@http-retry/core`'s circuit breaker: one breaker per
 * origin for every process of a service, its open state shared through
 * Redis. When one process's breaker opens for an origin, the others stop
 * calling it within a sync or two; when a probe closes it, they close too.
 *
 * The checks stay in the process: counting (failures in a row, the failure
 * ratio) is the core's breaker, per process, and `admit` and `record` make no
 * I/O. Transitions are shared: an opening is written to Redis (its end, its
 * start and what opened it, in one atomic Lua script), and a background
 * fiber reads the openings of every origin this process calls, in one round
 * trip each `syncInterval`. While an origin is open anywhere, a first attempt
 * to it fails here with the core's `CircuitOpenError` carrying the shared
 * `openedAt`, `openUntil` and `openedBy`.
 *
 * Half-open, the fleet sends at most `halfOpenProbes` probes at once (one by
 * default): a process probes only on a slot claimed in Redis (`SET NX PX`,
 * renewed while its probe is out, so a process that dies with it frees it
 * within `probeLease`). A probe's success deletes the opening, and every
 * process closes; its failure writes a new opening.
 *
 * When Redis is unreachable or slow, each process's breaker goes on alone
 * (it opens, probes and closes on its own counts), one warning is logged, and
 * one info line when Redis answers again: a call never fails because the
 * store is down.
 *
 * @since 0.2.0
 */
export * as RedisCircuitBreaker from "./RedisCircuitBreaker.js"
