/**
 * One client process of the fleet bench (fleet.ts): `calls` calls, `inFlight` at a time, each retried up to
 * `maxAttempts` with a 1 ms wait, under the Redis budget (`budget: "redis"`), or none (`"off"`). The retry loop asks
 * the `RetryBudget` service directly (record every attempt, acquire before a retry), as the retrying clients do with
 * their budget on. Waits for a line on stdin to start, prints one JSON line of results.
 */
import * as RetryBudget from "@http-retry/core/RetryBudget"
import { RedisRetryBudget } from "@http-retry/redis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as readline from "node:readline"
import { Agent, request } from "undici"

export interface ClientConfig {
  readonly redis: string
  readonly keyPrefix: string
  readonly backend: string
  readonly calls: number
  readonly inFlight: number
  readonly maxAttempts: number
  readonly budget: "redis" | "off"
}

export interface ClientResult {
  /** Per call: its start (ms since the epoch) and the attempts it made. */
  readonly calls: ReadonlyArray<readonly [start: number, attempts: number]>
  /** When this process first saw a retry refused (ms since the epoch). */
  readonly firstRefusal: number | undefined
  readonly elapsedMs: number
  /** CPU time (user + system) this process spent on the calls, in microseconds: steadier than req/s on a busy host. */
  readonly cpuMicros: number
}

const config = JSON.parse(process.argv[2]) as ClientConfig
const origin = new URL(config.backend).origin
const dispatcher = new Agent({ connections: config.inFlight })

const noBudget: RetryBudget.Service = {
  record: () => {},
  acquire: () => Effect.succeed(true),
  tokens: () => 100,
  options: { maxTokens: 100, tokenRatio: 0.1 }
}
const budgetLayer = config.budget === "redis" ?
  RedisRetryBudget.layer({ redis: config.redis, keyPrefix: config.keyPrefix, connectTimeout: "30 seconds" }) :
  Layer.succeed(RetryBudget.RetryBudget, noBudget)

const go = new Promise<void>((resolve) => {
  const lines = readline.createInterface({ input: process.stdin })
  lines.once("line", () => {
    lines.close()
    resolve()
  })
})

const program = Effect.gen(function*() {
  const budget = yield* RetryBudget.RetryBudget
  process.stdout.write("ready\n")
  yield* Effect.promise(() => go)
  let firstRefusal: number | undefined
  const call = Effect.gen(function*() {
    const start = Date.now()
    for (let attempt = 1;; attempt++) {
      const response = yield* Effect.promise(() => request(config.backend, { dispatcher }))
      yield* Effect.promise(() => response.body.dump())
      if (response.statusCode < 500) {
        budget.record(origin, "success")
        return [start, attempt] as const
      }
      budget.record(origin, "failure")
      if (attempt >= config.maxAttempts) return [start, attempt] as const
      if (!(yield* budget.acquire(origin))) {
        firstRefusal ??= Date.now()
        return [start, attempt] as const
      }
      yield* Effect.sleep("1 millis")
    }
  })
  const started = performance.now()
  const cpu = process.cpuUsage()
  const calls = yield* Effect.forEach(Array.from({ length: config.calls }), () => call, {
    concurrency: config.inFlight
  })
  const used = process.cpuUsage(cpu)
  const result: ClientResult = {
    calls,
    firstRefusal,
    elapsedMs: performance.now() - started,
    cpuMicros: used.user + used.system
  }
  process.stdout.write(JSON.stringify(result) + "\n")
}).pipe(Effect.provide(budgetLayer))

Effect.runPromise(program).then(
  () => dispatcher.close(),
  (error) => {
    console.error(error)
    process.exitCode = 1
    return dispatcher.close()
  }
)
