/**
 * A module of a user's project that emits declarations (a composite build, a library in a monorepo): every value
 * here is exported with its inferred type, so `tsc` must name each type through the packages' public entry points.
 * A type declared only in an unexported module (`dist/internal/*`) fails this with TS2742.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import {
  CircuitBreaker,
  Hedging,
  HttpRetry,
  HttpStatusError,
  RetryBudget,
  RetryPolicy,
  TestHttpClient
} from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { RedisCircuitBreaker, RedisRetryBudget } from "@http-retry/redis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const getItems = HttpRetry.request(HttpClientRequest.get("https://api.internal.test/items")).pipe(
  Effect.catchTag("HttpStatusError", (error) => Effect.succeed(error.status)),
  Effect.provide(NodeHttpRetry.layer())
)
export const client = HttpRetry.client
export const policy = RetryPolicy.validate({ maxAttempts: 3 })
export const budgetLayer = RetryBudget.layer({ maxTokens: 10 })
export const budget = RetryBudget.make()
export const breaker = CircuitBreaker.make({ consecutiveFailures: 3 })
export const breakerLayer = CircuitBreaker.layer()
export const hedging = Hedging.layer({ delay: "50 millis" })
export const isOpen = (u: unknown) => (CircuitBreaker.isCircuitOpenError(u) ? u : undefined)
export const isStatus = (u: unknown) => (HttpStatusError.isHttpStatusError(u) ? u : undefined)
export const isOptionsError = (u: unknown) => (u instanceof NodeHttpRetry.NodeHttpRetryOptionsError ? u : undefined)
export const isPolicyError = (u: unknown) => (u instanceof RetryPolicy.RetryPolicyError ? u : undefined)
export const redisBudget = RedisRetryBudget.layer({ redis: "redis://127.0.0.1:6379" })
export const redisBreaker = RedisCircuitBreaker.validate({})
export const testClient = TestHttpClient.layer([TestHttpClient.ok("fine")])
export const budgetGiven = Layer.succeed(RetryBudget.RetryBudget, RetryBudget.unsafeMake())
export const policyError = new RetryPolicy.RetryPolicyError({ field: "maxAttempts", value: 0, reason: "at least 1" })
