/**
 * The tracing half of docs/tracing-and-metrics.md, run: the code
 * between the region markers is the guide's, character for character
 * (`pnpm docs` checks that), and these tests assert what it exports.
 */
// #region tracing
import { NodeSdk } from "@effect/opentelemetry"
import { HttpClientRequest } from "@effect/platform"
import { HttpRetry } from "@http-retry/core"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"

// In production this is an OTLP exporter behind a BatchSpanProcessor.
const exporter = new InMemorySpanExporter()

const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "orders" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))

const loadItems = HttpRetry.request(
  HttpClientRequest.get("https://robot:hunter2@api.internal.test/items?page=2&access_token=s3cr3t")
).pipe(
  Effect.flatMap((response) => response.text),
  Effect.withSpan("load-items")
)
// #endregion tracing

import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy, TestHttpClient } from "@http-retry/core"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Fiber, Layer, TestClock } from "effect"

const { fail, ok, respond } = TestHttpClient

// The guide's exporter is one per process, and a TracerProvider's shutdown stops it: one run per file.
const runTraced = (script: ReadonlyArray<TestHttpClient.Step>) =>
  Effect.gen(function*() {
    const program = Effect.zipRight(Effect.exit(loadItems), Effect.sync(() => exporter.getFinishedSpans())).pipe(
      Effect.provide(TracingLive),
      Effect.provide(
        HttpRetry.layer(RetryPolicy.make({ jitter: "none" })).pipe(Layer.provide(TestHttpClient.layer(script)))
      )
    )
    const fiber = yield* Effect.fork(program)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const millis = (span: ReadableSpan): number => span.startTime[0] * 1000 + Math.round(span.startTime[1] / 1e6)

describe("tracing guide", () => {
  it.effect("exports one client span per attempt, resend_count on retries, the URL redacted", () =>
    Effect.gen(function*() {
      const spans = yield* runTraced([respond(503), fail("ECONNRESET"), ok("[]")])

      const parent = spans.find((span) => span.name === "load-items")
      assert.isDefined(parent)
      const attempts = spans.filter((span) => span.name === "http.client GET")
      assert.strictEqual(attempts.length, 3)
      for (const span of attempts) {
        assert.strictEqual(span.parentSpanContext?.spanId, parent.spanContext().spanId)
        assert.strictEqual(span.kind, 2) // SpanKind.CLIENT
        assert.strictEqual(
          span.attributes["url.full"],
          "https://<redacted>@api.internal.test/items?page=2&access_token=<redacted>"
        )
        // The span is the platform's own (HttpClient.make's), which names the origin here.
        assert.strictEqual(span.attributes["server.address"], "https://api.internal.test")
        assert.strictEqual(span.attributes["http.request.method"], "GET")
      }
      assert.deepStrictEqual(attempts.map((span) => span.attributes["http.request.resend_count"]), [undefined, 1, 2])
      assert.deepStrictEqual(attempts.map((span) => span.attributes["http.response.status_code"]), [
        503,
        undefined,
        200
      ])
      // Effect ends a span OK when its effect succeeds: the 503 is an answer, so its span is OK and carries the status
      // code; the connection reset fails its attempt, so that span is ERROR.
      assert.deepStrictEqual(attempts.map((span) => span.status.code), [1, 2, 1]) // SpanStatusCode.OK, ERROR, OK
      // The waits are the gaps between attempt spans: 1 s, then 2 s (jitter off).
      assert.deepStrictEqual(attempts.map(millis), [0, 1000, 3000])
      // One trace: every attempt in the caller's.
      assert.strictEqual(new Set(attempts.map((span) => span.spanContext().traceId)).size, 1)
      const attributes = JSON.stringify(spans.map((span) => span.attributes))
      assert.notInclude(attributes, "hunter2")
      assert.notInclude(attributes, "s3cr3t")

      // The failed attempt's span ends with the redacted error: its status message and exception event, which
      // Effect fills from the error's message, carry no secret either.
      assert.include(attempts[1].status.message ?? "", "<redacted>@")
      assert.notInclude(attempts[1].status.message ?? "", "hunter2")
      assert.notInclude(JSON.stringify(attempts[1].events), "hunter2")
      assert.notInclude(JSON.stringify(attempts[1].events), "s3cr3t")
    }))
})
