import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, HttpRetry, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { closedPort, fast, serve } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

const oneAttempt = fast({ maxAttempts: 1 })

/** Runs `n` calls to `url` through one client from `layer`, in order, and returns how each ended. */
const calls = (layer: Layer.Layer<HttpClient.HttpClient, unknown>, url: string, n: number) =>
  Effect.gen(function*() {
    const client = yield* HttpRetry.client
    return yield* Effect.forEach(
      Array.from({ length: n }),
      () => Effect.either(Effect.flatMap(client.execute(HttpClientRequest.get(url)), (response) => response.text))
    )
  }).pipe(Effect.provide(layer))

const openError = (result: Either.Either<unknown, unknown> | undefined): CircuitBreaker.CircuitOpenError => {
  if (result === undefined || result._tag === "Right") return assert.fail("expected a failure")
  const error = result.left
  if (!CircuitBreaker.isCircuitOpenError(error)) assert.fail(`expected a CircuitOpenError, got ${String(error)}`)
  return error
}

describe("NodeHttpRetry with the circuit breaker, against a real server", () => {
  for (const transport of ["direct", "platform"] as const) {
    it.scopedLive(`${transport}: once open, a call fails with CircuitOpenError and the server sees no request`, () =>
      Effect.gen(function*() {
        const server = yield* serve(() => TestServer.respond(503, { body: "down" }))
        const layer = NodeHttpRetry.layer({ policy: oneAttempt, transport, breaker: { consecutiveFailures: 3 } })
        const results = yield* calls(layer, `${server.url}/items?token=s3cret`, 5)
        assert.deepStrictEqual(results.map((r) => r._tag === "Left" ? r.left._tag : "ok"), [
          "HttpStatusError",
          "HttpStatusError",
          "HttpStatusError",
          "CircuitOpenError",
          "CircuitOpenError"
        ])
        assert.strictEqual(server.requests.length, 3)
        const error = openError(results[3])
        assert.deepStrictEqual(
          {
            origin: error.origin,
            url: error.url,
            state: error.state,
            openFor: error.openUntil - error.openedAt,
            openedBy: error.openedBy
          },
          {
            origin: server.url,
            url: `${server.url}/items?token=<redacted>`,
            state: "Open",
            openFor: 5000,
            openedBy: { _tag: "Status", status: 503 }
          }
        )
        assert.notInclude(error.message, "s3cret")
      }))
  }

  it.scopedLive("refused connections open it too, described by their kind", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const layer = NodeHttpRetry.layer({ policy: oneAttempt, breaker: { consecutiveFailures: 2 } })
      const results = yield* calls(layer, `http://127.0.0.1:${port}/`, 3)
      assert.deepStrictEqual(openError(results[2]).openedBy, { _tag: "Transport", kind: "ConnectionRefused" })
    }))

  it.scopedLive("off by default: every call reaches the server", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const results = yield* calls(NodeHttpRetry.layer({ policy: oneAttempt }), server.url, 8)
      assert.isTrue(results.every((r) => r._tag === "Left" && r.left._tag === "HttpStatusError"))
      assert.strictEqual(server.requests.length, 8)
    }))

  it.scopedLive("a CircuitBreaker provided to two layers is shared: one layer's failures open the other's", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const shared = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const provided = (layer: Layer.Layer<HttpClient.HttpClient>) =>
        layer.pipe(Layer.provide(Layer.succeed(CircuitBreaker.CircuitBreaker, shared)))
      yield* calls(provided(NodeHttpRetry.layer({ policy: oneAttempt, breaker: true })), server.url, 2)
      const other = yield* calls(
        provided(NodeHttpRetry.layer({ policy: oneAttempt, breaker: true, transport: "platform" })),
        server.url,
        1
      )
      openError(other[0])
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("layerConfig: HTTP_RETRY_BREAKER=true turns it on with the defaults (5 failures in a row)", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const env = { HTTP_RETRY_MAX_ATTEMPTS: "1", HTTP_RETRY_BREAKER: "true" }
      const layer = NodeHttpRetry.layerConfig.pipe(
        Layer.provide(
          Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))
        )
      )
      const results = yield* calls(layer, server.url, 6)
      openError(results[5])
      assert.strictEqual(server.requests.length, 5)
    }))
})

describe("the breaker option", () => {
  it.effect("NodeHttpRetry.config reads it", () =>
    Effect.gen(function*() {
      const env = { HTTP_RETRY_BREAKER_OPEN_FOR: "30s", HTTP_RETRY_BREAKER_FAILURE_RATIO: "off" }
      const options = yield* NodeHttpRetry.config().pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))
      )
      const breaker = options.breaker as CircuitBreaker.Options
      assert.strictEqual(Duration.toMillis(breaker.openFor as Duration.Duration), 30_000)
      assert.strictEqual(breaker.failureRatio, false)
    }))

  it("a bad value throws a RetryPolicyError naming breaker.<field> when the layer is made", () => {
    try {
      NodeHttpRetry.layer({ breaker: { halfOpenProbes: 0 } })
      assert.fail("expected a RetryPolicyError")
    } catch (error) {
      assert.instanceOf(error, RetryPolicy.RetryPolicyError)
      assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "breaker.halfOpenProbes")
    }
  })

  it("layerClient has no retry, so no breaker: the option is refused, naming it", () => {
    try {
      NodeHttpRetry.layerClient({ breaker: true } as NodeHttpRetry.ClientOptions)
      assert.fail("expected a NodeHttpRetryOptionsError")
    } catch (error) {
      assert.instanceOf(error, NodeHttpRetry.NodeHttpRetryOptionsError)
      assert.strictEqual((error as NodeHttpRetry.NodeHttpRetryOptionsError).field, "breaker")
    }
  })
})
