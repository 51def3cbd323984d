/**
 * Type-checked in the scratch project against the installed declarations, under strict NodeNext (and Bundler)
 * settings with `skipLibCheck` off, so the emitted `.d.ts` files themselves are checked too. The assertions are
 * compile-time: this file is never run.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { CircuitBreaker, HttpStatusError } from "@http-retry/core"
import { HttpRetry, RetryPolicy } from "@http-retry/core"
import type { RetryBudget } from "@http-retry/core"
import type * as HttpRetryModule from "@http-retry/core/HttpRetry"
import { NodeHttpRetry } from "@http-retry/node"
import { RedisRetryBudget } from "@http-retry/redis"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const equal = <A, B>(_: Equals<A, B>): void => {}
type ErrorOf<T> = T extends Effect.Effect<infer _A, infer E, infer _R> ? E : never

type Expected =
  | HttpStatusError.HttpStatusError
  | Cause.TimeoutException
  | CircuitBreaker.CircuitOpenError
  | HttpClientError.HttpClientError

const policy = RetryPolicy.make({ maxAttempts: 3, baseDelay: "250ms" })

const items = Effect.gen(function*() {
  const client = (yield* HttpClient.HttpClient).pipe(HttpRetry.withRetry(policy))
  const response = yield* client.get("https://api.internal.test/items")
  return yield* response.json
})
equal<ErrorOf<typeof items>, Expected>(true)

const handled = items.pipe(
  Effect.catchTag("HttpStatusError", (error) => Effect.succeed({ gaveUp: error.reason, attempts: error.attempts }))
)
equal<
  ErrorOf<typeof handled>,
  Cause.TimeoutException | CircuitBreaker.CircuitOpenError | HttpClientError.HttpClientError
>(true)

export const health = HttpRetry.request(HttpClientRequest.get("https://api.internal.test/health"))
equal<ErrorOf<typeof health>, Expected>(true)

const layer = NodeHttpRetry.layer({ policy, tls: { rejectUnauthorized: true }, proxy: "none" })
equal<typeof layer, Layer.Layer<HttpClient.HttpClient>>(true)

export const main: Effect.Effect<
  unknown,
  Cause.TimeoutException | CircuitBreaker.CircuitOpenError | HttpClientError.HttpClientError
> = handled.pipe(
  Effect.provide(layer)
)

export const budget = RedisRetryBudget.layer({ redis: "redis://127.0.0.1:6379", flushInterval: "100 millis" })
equal<typeof budget, Layer.Layer<RetryBudget.RetryBudget, RedisRetryBudget.RedisRetryBudgetError>>(true)

// The subpath and the root name the same module.
equal<typeof HttpRetryModule.withRetry, typeof HttpRetry.withRetry>(true)

// @ts-expect-error: an unknown policy field is rejected
RetryPolicy.make({ maxAttempt: 3 })
