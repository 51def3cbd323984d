/**
 * The Node layer's contract at the type level: self-contained layers that provide `HttpClient.HttpClient`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { type CircuitBreaker, HttpRetry, type HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import type * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { describe, expectTypeOf, it } from "vitest"

describe("NodeHttpRetry", () => {
  it("layer and layerClient: Layer<HttpClient.HttpClient>, no error, no requirement", () => {
    expectTypeOf(NodeHttpRetry.layer()).toEqualTypeOf<Layer.Layer<HttpClient.HttpClient>>()
    expectTypeOf(NodeHttpRetry.layer({ policy: RetryPolicy.make({ maxAttempts: 3 }), proxy: "env" }))
      .toEqualTypeOf<Layer.Layer<HttpClient.HttpClient>>()
    expectTypeOf(NodeHttpRetry.layerClient()).toEqualTypeOf<Layer.Layer<HttpClient.HttpClient>>()
    expectTypeOf(NodeHttpRetry.layer({ breaker: true })).toEqualTypeOf<Layer.Layer<HttpClient.HttpClient>>()
    expectTypeOf(NodeHttpRetry.layer({ breaker: { consecutiveFailures: 3, openFor: "2s" } }))
      .toEqualTypeOf<Layer.Layer<HttpClient.HttpClient>>()
  })

  it("layerClient's options have no retry fields", () => {
    expectTypeOf<keyof NodeHttpRetry.ClientOptions>().toEqualTypeOf<
      "tls" | "proxy" | "connections" | "keepAliveTimeout" | "connectTimeout" | "transport"
    >()
    // @ts-expect-error: a policy is the retry's, not the client's
    NodeHttpRetry.layerClient({ policy: RetryPolicy.defaults })
    // @ts-expect-error: so is tracing
    NodeHttpRetry.layerClient({ tracing: false })
    // @ts-expect-error: and the circuit breaker, which counts what the policy retries
    NodeHttpRetry.layerClient({ breaker: true })
  })

  it("layerConfig can fail only with a ConfigError", () => {
    expectTypeOf(NodeHttpRetry.layerConfig).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError>
    >()
  })

  it("provided to HttpRetry.request, leaves nothing required and the retry errors typed", () => {
    const program = HttpRetry.request(HttpClientRequest.get("https://api.internal.test/items")).pipe(
      Effect.provide(NodeHttpRetry.layer())
    )
    expectTypeOf(program).toEqualTypeOf<
      Effect.Effect<
        HttpClientResponse.HttpClientResponse,
        | HttpStatusError.HttpStatusError
        | Cause.TimeoutException
        | CircuitBreaker.CircuitOpenError
        | HttpClientError.HttpClientError
      >
    >()
  })

  it("rejects unknown options at compile time", () => {
    // @ts-expect-error: proxi is not an option
    NodeHttpRetry.layer({ proxi: "env" })
    // @ts-expect-error: unknown key inside tls
    NodeHttpRetry.layer({ tls: { verify: false } })
    // @ts-expect-error: a RetryPolicy, not its options
    NodeHttpRetry.layer({ policy: { maxAttempts: 3 } })
  })
})
