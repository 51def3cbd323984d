/**
 * The fleet form end to end: `NodeHttpRetry.layer({ budget: true })` over `RedisRetryBudget.layer` (the guides'
 * wiring, fixtures/httpLive.ts), on a real redis-server and a real HTTP server that answers 503 to everything. Two
 * layers built apart, both up at once, stand for two processes of a service: each has its own connection to Redis
 * and its own view of the budget, and the one key per origin in Redis is all they share.
 */
import type { HttpClient } from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpLive } from "./fixtures/httpLive.js"
import { backendServer } from "./processes.js"
import { available, redisServer } from "./redisServer.js"

// Waits of 1, 2 and 4 ms: the test is about attempts, not waits.
const policy = RetryPolicy.make({ baseDelay: "1 millis", jitter: "none" })
// Patient with Redis: a busy machine must not send a process to its local view (where B would retry) mid-test.
const patient = { timeout: "10 seconds", connectTimeout: "10 seconds" } as const

/** A backend that is down: 503 to every request, counted by `?from=`. */
const downBackend = Effect.gen(function*() {
  const seen = new Map<string, number>()
  const origin = yield* backendServer((request, response) => {
    const from = new URL(request.url ?? "/", "http://backend").searchParams.get("from") ?? "?"
    seen.set(from, (seen.get(from) ?? 0) + 1)
    response.writeHead(503, { "content-type": "text/plain" }).end("down")
  })
  return { origin, seen: (from: string) => seen.get(from) ?? 0 }
})

/** A layer built in the test's scope, as a process builds its own: the retrying client it provides. */
const processOf = <E>(layer: Layer.Layer<HttpClient, E>) =>
  Effect.flatMap(Layer.build(layer), (context) => Effect.provide(HttpRetry.client, context))

describe.skipIf(!available)("NodeHttpRetry.layer({ budget: true }) over RedisRetryBudget.layer", () => {
  it.scopedLive(
    "two processes share one budget in Redis: the second is refused retries the first drained",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const backend = yield* downBackend
        const key = `checkout:budget:${backend.origin}`
        const a = yield* processOf(HttpLive({ redis: server.url, ...patient }, policy))
        const b = yield* processOf(HttpLive({ redis: server.url, ...patient }, policy))
        const fail = (client: Effect.Effect.Success<typeof HttpRetry.client>, from: string) =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(client.get(`${backend.origin}/items?from=${from}`))
            if (!HttpStatusError.isHttpStatusError(error)) return assert.fail(`expected an HttpStatusError: ${error}`)
            assert.strictEqual(error.status, 503)
            return { reason: error.reason, attempts: error.attempts }
          })

        // Process A alone drains the shared 100 tokens. Each failure takes 1; a retry goes while more than 50 are left
        // after it. Calls 1 to 12 make their 4 attempts (the 12th leaves 52); the 13th fails at 51 (retried) and 50
        // (refused).
        for (let call = 1; call <= 12; call++) {
          assert.deepStrictEqual(yield* fail(a, "a"), { reason: "AttemptsExhausted", attempts: 4 }, `call ${call}`)
        }
        assert.deepStrictEqual(yield* fail(a, "a"), { reason: "BudgetExhausted", attempts: 2 })
        assert.strictEqual(backend.seen("a"), 50)
        assert.strictEqual(yield* Effect.promise(() => server.admin.get(key)), "50000", "A's 50 failures, in Redis")

        // Process B has made no call yet: its own view is a full bucket, but the bucket is Redis's. Its first failure
        // leaves 49 there, and the retry is refused: one attempt, the call ends with its 503 at once.
        assert.deepStrictEqual(yield* fail(b, "b"), { reason: "BudgetExhausted", attempts: 1 })
        assert.strictEqual(backend.seen("b"), 1)
        assert.strictEqual(yield* Effect.promise(() => server.admin.get(key)), "49000")
        // And A sees B's failure: 48 left after its next one.
        assert.deepStrictEqual(yield* fail(a, "a"), { reason: "BudgetExhausted", attempts: 1 })
        assert.strictEqual(yield* Effect.promise(() => server.admin.get(key)), "48000")

        // The control: the same layer without the Redis budget keeps one in the process, full, and retries as before.
        const alone = yield* processOf(NodeHttpRetry.layer({ budget: true, policy }))
        assert.deepStrictEqual(yield* fail(alone, "alone"), { reason: "AttemptsExhausted", attempts: 4 })
        assert.strictEqual(backend.seen("alone"), 4)
        assert.strictEqual(yield* Effect.promise(() => server.admin.get(key)), "48000", "nothing of it in Redis")
        assert.deepStrictEqual([backend.seen("a"), backend.seen("b")], [51, 1])
      }),
    { timeout: 60_000 }
  )
})
