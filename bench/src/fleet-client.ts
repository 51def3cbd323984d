/**
 * One client process of the fleet rows (fleet.ts), on the real layer as a service would run it:
 *
 * - "plain": `NodeHttpRetry.layer({ policy })`, no budget, no breaker;
 * - "budget": `NodeHttpRetry.layer({ budget: true, policy })` with `RedisRetryBudget.layer` provided;
 * - "guarded": `NodeHttpRetry.layer({ budget: true, breaker: true, policy })` with `RedisRetryBudget.layer` provided.
 *
 * `calls` GET calls, `inFlight` worker fibers at a time, each a request id of its own (`?id=<tag>-<i>`), after
 * `warmup` calls on /warmup<path>. A call that fails ends with the layer's error: an `HttpStatusError` says how many
 * attempts it made and why it gave up (`BudgetExhausted` when the budget refused its retry). Prints "ready" once the
 * layer is built, starts on a line from stdin, prints one JSON line of results, and ends.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { RedisRetryBudget } from "@http-retry/redis"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as readline from "node:readline"
import { ownCpuList } from "./placement.js"

export type ClientKind = "plain" | "budget" | "guarded"

export interface ClientConfig {
  readonly kind: ClientKind
  readonly redis: string
  readonly keyPrefix: string
  /** The backend's origin; the calls go to `${origin}${path}?id=${tag}-${i}`. */
  readonly origin: string
  readonly path: string
  readonly tag: string
  readonly calls: number
  readonly warmup: number
  readonly inFlight: number
  /** "fast": 4 attempts, 1 ms base, factor 2, no jitter (the storm's); "default": `RetryPolicy.defaults`. */
  readonly policy: "fast" | "default"
}

export interface ClientResult {
  /** Per call: its start (ms since the epoch) and the attempts it made (1 for a success). */
  readonly calls: ReadonlyArray<readonly [start: number, attempts: number]>
  /** Calls that failed, and the first failure, one line. */
  readonly failures: number
  readonly firstError: string | undefined
  /** Calls that ended with reason BudgetExhausted, and when the first of them ended (ms since the epoch). */
  readonly refused: number
  readonly firstRefusal: number | undefined
  readonly elapsedMs: number
  /** CPU time (user + system) this process spent on the measured calls, in microseconds. */
  readonly cpuMicros: number
  /** The CPUs this process was allowed to run on. */
  readonly cpus: string | undefined
}

const config = JSON.parse(process.argv[2]) as ClientConfig

const policy = config.policy === "fast" ? RetryPolicy.make({ baseDelay: "1 millis", jitter: "none" }) : undefined
const budget = RedisRetryBudget.layer({
  redis: config.redis,
  keyPrefix: config.keyPrefix,
  connectTimeout: "30 seconds"
})
const layer: Layer.Layer<HttpClient.HttpClient, RedisRetryBudget.RedisRetryBudgetError> = config.kind === "plain" ?
  NodeHttpRetry.layer({ policy }) :
  NodeHttpRetry.layer({ budget: true, breaker: config.kind === "guarded", policy }).pipe(Layer.provide(budget))

const go = new Promise<void>((resolve) => {
  const lines = readline.createInterface({ input: process.stdin })
  lines.once("line", () => {
    lines.close()
    resolve()
  })
})

const runtime = ManagedRuntime.make(layer)

const program = Effect.gen(function*() {
  const client = yield* HttpRetry.client
  const run = (path: string, count: number) =>
    Effect.suspend(() => {
      const calls = new Array<readonly [number, number]>(count)
      let failures = 0
      let firstError: string | undefined
      let refused = 0
      let firstRefusal: number | undefined
      const one = (i: number) =>
        Effect.suspend(() => {
          const start = Date.now()
          return client.get(`${config.origin}${path}?id=${config.tag}-${i}`).pipe(
            Effect.flatMap((response) => response.arrayBuffer),
            Effect.matchCause({
              onSuccess: () => {
                calls[i] = [start, 1]
              },
              onFailure: (cause) => {
                failures++
                const error = Cause.failureOption(cause)
                if (error._tag === "Some" && HttpStatusError.isHttpStatusError(error.value)) {
                  calls[i] = [start, error.value.attempts]
                  if (error.value.reason === "BudgetExhausted") {
                    refused++
                    firstRefusal ??= Date.now()
                  }
                } else {
                  calls[i] = [start, 0]
                }
                firstError ??= Cause.pretty(cause).split("\n")[0].slice(0, 300)
              }
            })
          )
        })
      let next = 0
      const worker = Effect.whileLoop({ while: () => next < count, body: () => one(next++), step: () => {} })
      return Effect.all(Array.from({ length: Math.min(config.inFlight, count) }, () => worker), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.zipRight(Effect.sync(() => ({ calls, failures, firstError, refused, firstRefusal }))))
    })
  if (config.warmup > 0) yield* run(`/warmup${config.path}`, config.warmup)
  process.stdout.write("ready\n")
  yield* Effect.promise(() => go)
  const started = performance.now()
  const cpu = process.cpuUsage()
  const outcome = yield* run(config.path, config.calls)
  const used = process.cpuUsage(cpu)
  const result: ClientResult = {
    ...outcome,
    elapsedMs: performance.now() - started,
    cpuMicros: used.user + used.system,
    cpus: ownCpuList()
  }
  process.stdout.write(JSON.stringify(result) + "\n")
})

runtime.runPromise(program).then(
  () => runtime.dispose(),
  (error) => {
    console.error(error)
    process.exitCode = 1
    return runtime.dispose()
  }
)
