/**
 * The contract of a retried request, pinned at the type level (run by vitest's typecheck, and by `tsc -b`).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { CircuitBreaker, HttpRetry, type HttpStatusError, RetryBudget, RetryPolicy } from "@http-retry/core"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { describe, expectTypeOf, it } from "vitest"

/** What every retried request can fail with over the platform's client. */
type Retried =
  | HttpStatusError.HttpStatusError
  | Cause.TimeoutException
  | CircuitBreaker.CircuitOpenError
  | HttpClientError.HttpClientError

class Upstream extends Context.Tag("test/Upstream")<Upstream, { readonly token: string }>() {}
class UpstreamError extends Data.TaggedError("UpstreamError")<{ readonly cause: unknown }> {}
class Metrics extends Context.Tag("test/Metrics")<Metrics, { readonly retried: Effect.Effect<void> }>() {}

declare const platform: HttpClient.HttpClient
/** A client with an error and a requirement of its own. */
declare const custom: HttpClient.HttpClient.With<UpstreamError, Upstream>

const policy = RetryPolicy.make({ maxAttempts: 3 })
const request = HttpClientRequest.get("https://api.internal.test/items")
const onRetry = () => Effect.flatMap(Metrics, (metrics) => metrics.retried)

describe("the error channel of a retried request", () => {
  it("HttpRetry.request: exactly HttpStatusError | TimeoutException | HttpClientError, needing an HttpClient", () => {
    const effect = HttpRetry.request(request)
    expectTypeOf(effect).toEqualTypeOf<
      Effect.Effect<HttpClientResponse.HttpClientResponse, Retried, HttpClient.HttpClient>
    >()
    expectTypeOf<Effect.Effect.Error<typeof effect>>().not.toBeUnknown()
    expectTypeOf<Effect.Effect.Error<typeof effect>>().not.toBeAny()
    expectTypeOf<Effect.Effect.Error<typeof effect>>().not.toBeNever()
    expectTypeOf(HttpRetry.request(request, { maxAttempts: 2 })).toEqualTypeOf(effect)
    expectTypeOf(HttpRetry.request(request, policy)).toEqualTypeOf(effect)
  })

  it("HttpRetry.client: a client whose requests fail with exactly the same union", () => {
    expectTypeOf(HttpRetry.client).toEqualTypeOf<
      Effect.Effect<HttpClient.HttpClient.With<Retried>, never, HttpClient.HttpClient>
    >()
    expectTypeOf(Effect.flatMap(HttpRetry.client, (client) => client.get("https://api.internal.test/items")))
      .toEqualTypeOf<Effect.Effect<HttpClientResponse.HttpClientResponse, Retried, HttpClient.HttpClient>>()
  })

  it("withRetry over HttpClient.HttpClient: the same union, data-first and data-last", () => {
    expectTypeOf(HttpRetry.withRetry(platform)).toEqualTypeOf<HttpClient.HttpClient.With<Retried>>()
    expectTypeOf(HttpRetry.withRetry(platform, policy)).toEqualTypeOf<HttpClient.HttpClient.With<Retried>>()
    expectTypeOf(platform.pipe(HttpRetry.withRetry())).toEqualTypeOf<HttpClient.HttpClient.With<Retried>>()
    expectTypeOf(platform.pipe(HttpRetry.withRetry(policy))).toEqualTypeOf<HttpClient.HttpClient.With<Retried>>()
    const get = HttpRetry.withRetry(platform, policy).get("https://api.internal.test/items")
    expectTypeOf(get).toEqualTypeOf<Effect.Effect<HttpClientResponse.HttpClientResponse, Retried>>()
  })

  it("HttpRetry.layer decorates the HttpClient in context and needs one", () => {
    expectTypeOf(HttpRetry.layer(policy)).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient>
    >()
  })

  it("the breaker adds nothing to the layer's requirements: a CircuitBreaker in context is optional", () => {
    expectTypeOf(HttpRetry.layer(policy, { breaker: true })).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient>
    >()
    expectTypeOf(HttpRetry.layer(policy, { breaker: { openFor: "10 seconds" } })).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient>
    >()
    expectTypeOf(CircuitBreaker.layer()).toEqualTypeOf<Layer.Layer<CircuitBreaker.CircuitBreaker>>()
    // @ts-expect-error: withRetry takes a breaker service, not options
    HttpRetry.withRetry(platform, policy, { breaker: true })
  })
})

describe("catchTag", () => {
  it("narrows: after catchTag(\"HttpStatusError\") the error channel no longer has it", () => {
    const recovered = HttpRetry.request(request).pipe(
      Effect.catchTag("HttpStatusError", (error) => {
        expectTypeOf(error).toEqualTypeOf<HttpStatusError.HttpStatusError>()
        expectTypeOf(error.reason).toEqualTypeOf<HttpStatusError.GiveUpReason>()
        return Effect.succeed(null)
      })
    )
    expectTypeOf(recovered).toEqualTypeOf<
      Effect.Effect<
        HttpClientResponse.HttpClientResponse | null,
        Cause.TimeoutException | CircuitBreaker.CircuitOpenError | HttpClientError.HttpClientError,
        HttpClient.HttpClient
      >
    >()
  })

  it("catches the timeout and the platform's errors by tag too, down to never", () => {
    const recovered = HttpRetry.request(request).pipe(
      Effect.catchTags({
        HttpStatusError: () => Effect.succeed(null),
        TimeoutException: () => Effect.succeed(null),
        CircuitOpenError: () => Effect.succeed(null),
        RequestError: () => Effect.succeed(null),
        ResponseError: () => Effect.succeed(null)
      })
    )
    expectTypeOf(recovered).toEqualTypeOf<
      Effect.Effect<HttpClientResponse.HttpClientResponse | null, never, HttpClient.HttpClient>
    >()
  })

  it("catches CircuitOpenError by tag, with its fields typed", () => {
    const recovered = HttpRetry.request(request).pipe(
      Effect.catchTag("CircuitOpenError", (error) => {
        expectTypeOf(error).toEqualTypeOf<CircuitBreaker.CircuitOpenError>()
        expectTypeOf(error.origin).toEqualTypeOf<string>()
        expectTypeOf(error.openUntil).toEqualTypeOf<number>()
        expectTypeOf(error.openedBy).toEqualTypeOf<CircuitBreaker.Failure>()
        return Effect.succeed(null)
      })
    )
    expectTypeOf(recovered).toEqualTypeOf<
      Effect.Effect<
        HttpClientResponse.HttpClientResponse | null,
        HttpStatusError.HttpStatusError | Cause.TimeoutException | HttpClientError.HttpClientError,
        HttpClient.HttpClient
      >
    >()
  })

  it("rejects a tag the error channel does not have", () => {
    // @ts-expect-error: no such error in the channel
    HttpRetry.request(request).pipe(Effect.catchTag("NoSuchError", () => Effect.succeed(null)))
  })
})

describe("withRetry keeps the client's own E and R", () => {
  type Expected = HttpClient.HttpClient.With<
    UpstreamError | HttpStatusError.HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError,
    Upstream
  >

  it("data-first", () => {
    expectTypeOf(HttpRetry.withRetry(custom)).toEqualTypeOf<Expected>()
    expectTypeOf(HttpRetry.withRetry(custom, policy)).toEqualTypeOf<Expected>()
  })

  it("data-last", () => {
    expectTypeOf(custom.pipe(HttpRetry.withRetry())).toEqualTypeOf<Expected>()
    expectTypeOf(custom.pipe(HttpRetry.withRetry(policy))).toEqualTypeOf<Expected>()
  })

  it("adds what onRetry needs to R, data-first and data-last", () => {
    type WithMetrics = HttpClient.HttpClient.With<
      UpstreamError | HttpStatusError.HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError,
      Upstream | Metrics
    >
    expectTypeOf(HttpRetry.withRetry(custom, policy, { onRetry })).toEqualTypeOf<WithMetrics>()
    expectTypeOf(custom.pipe(HttpRetry.withRetry(policy, { onRetry }))).toEqualTypeOf<WithMetrics>()
  })

  it("onRetry sees the client's errors data-first", () => {
    HttpRetry.withRetry(custom, policy, {
      onRetry: (info) => {
        if (info.failure._tag === "Error") {
          expectTypeOf(info.failure.error).toEqualTypeOf<UpstreamError | Cause.TimeoutException>()
        }
        return Effect.void
      }
    })
  })

  it("a request through the retried client carries both", () => {
    expectTypeOf(HttpRetry.withRetry(custom).get("https://api.internal.test/items")).toEqualTypeOf<
      Effect.Effect<
        HttpClientResponse.HttpClientResponse,
        UpstreamError | HttpStatusError.HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError,
        Upstream
      >
    >()
  })
})

describe("the retry budget", () => {
  const budget = RetryBudget.unsafeMake()

  it("withRetry takes a budget and keeps E and R; onGiveUp adds what it needs to R and sees the client's errors", () => {
    expectTypeOf(HttpRetry.withRetry(custom, policy, { budget })).toEqualTypeOf<
      HttpClient.HttpClient.With<
        UpstreamError | HttpStatusError.HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError,
        Upstream
      >
    >()
    const client = HttpRetry.withRetry(custom, policy, {
      budget,
      onGiveUp: (info) => {
        expectTypeOf(info.reason).toEqualTypeOf<HttpStatusError.GiveUpReason>()
        if (info.failure._tag === "Error") {
          expectTypeOf(info.failure.error).toEqualTypeOf<UpstreamError | Cause.TimeoutException>()
        }
        return Effect.flatMap(Metrics, (metrics) => metrics.retried)
      }
    })
    expectTypeOf(client).toEqualTypeOf<
      HttpClient.HttpClient.With<
        UpstreamError | HttpStatusError.HttpStatusError | Cause.TimeoutException | CircuitBreaker.CircuitOpenError,
        Upstream | Metrics
      >
    >()
  })

  it("withRetry takes a budget service, not the layer's options", () => {
    // @ts-expect-error: withRetry needs a budget made with RetryBudget.make
    HttpRetry.withRetry(custom, policy, { budget: true })
  })

  it("layer takes true or the budget's options, and needs no RetryBudget", () => {
    expectTypeOf(HttpRetry.layer(policy, { budget: true })).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient>
    >()
    expectTypeOf(HttpRetry.layer(policy, { budget: { maxTokens: 10 } })).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient>
    >()
    expectTypeOf(RetryBudget.layer()).toEqualTypeOf<
      Layer.Layer<RetryBudget.RetryBudget, RetryPolicy.RetryPolicyError>
    >()
    expectTypeOf(RetryBudget.make()).toEqualTypeOf<
      Effect.Effect<RetryBudget.Service, RetryPolicy.RetryPolicyError>
    >()
  })
})
