/**
 * The metrics half of docs/tracing-and-metrics.md, run: the code between the
 * region markers is the guide's, character for character (`pnpm docs`
 * checks that), and the test asserts what the OpenTelemetry SDK exports.
 */
// #region metrics
import { HttpRetry, HttpStatusError } from "@http-retry/core"
import { Effect, Metric } from "effect"

const retries = Metric.counter("http_client_retries", {
  description: "retries made, by where the wait came from",
  incremental: true
})
const giveUps = Metric.counter("http_client_give_ups", {
  description: "requests that ended in HttpStatusError, by reason",
  incremental: true
})

// Counts every retry made through this layer's client, tagged "backoff" or "Retry-After".
const CountingRetryLive = HttpRetry.layer(undefined, {
  onRetry: (info) => Metric.increment(Metric.tagged(retries, "source", info.source))
})

const countGiveUps = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tapError(effect, (error) =>
    HttpStatusError.isHttpStatusError(error) ?
      Metric.increment(Metric.tagged(giveUps, "reason", error.reason)) :
      Effect.void)
// #endregion metrics

// #region export
import { NodeSdk } from "@effect/opentelemetry"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"

// In production: an OTLP metric exporter, read every 10 to 60 seconds.
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 })

const MetricsLive = NodeSdk.layer(() => ({
  resource: { serviceName: "orders" },
  metricReader: reader
}))
// #endregion export

import { HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { TestHttpClient } from "@http-retry/core"
import { Either, Fiber, Layer, TestClock } from "effect"

const { respond } = TestHttpClient

describe("metrics guide", () => {
  it.effect("exports retry and give-up counters through the OpenTelemetry SDK", () =>
    Effect.gen(function*() {
      const script = [respond(429, { headers: { "retry-after": "2" } }), respond(503), respond(404)]
      const program = countGiveUps(HttpRetry.request(HttpClientRequest.get("https://api.internal.test/items"))).pipe(
        Effect.either,
        Effect.zipLeft(Effect.promise(() => reader.forceFlush())),
        Effect.provide(MetricsLive),
        Effect.provide(CountingRetryLive.pipe(Layer.provide(TestHttpClient.layer(script))))
      )
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result))

      const metrics = metricExporter.getMetrics().flatMap((resource) =>
        resource.scopeMetrics.flatMap((scope) => scope.metrics)
      )
      const points = (name: string) =>
        Object.fromEntries(
          (metrics.find((metric) => metric.descriptor.name === name)?.dataPoints ?? []).map((point) => [
            Object.values(point.attributes).join(","),
            point.value
          ])
        )
      assert.deepStrictEqual(points("http_client_retries"), { "Retry-After": 1, backoff: 1 })
      assert.deepStrictEqual(points("http_client_give_ups"), { NotRetryable: 1 })
    }))
})
