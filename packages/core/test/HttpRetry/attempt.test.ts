import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, TestHttpClient } from "@http-retry/core"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as util from "node:util"
import { failure, noJitter, requestWith, runScript, success, timeoutError, times, url } from "../utils.js"

const { delayed, hang, ok, respond } = TestHttpClient

describe.concurrent("HttpRetry.withRetry: one attempt", () => {
  describe("attemptTimeout", () => {
    it.effect("a hanging GET times out and is retried like a transport failure", () =>
      Effect.gen(function*() {
        const out = yield* runScript([hang, hang, ok("late")], noJitter({ attemptTimeout: "2 seconds" }))
        // 0: hang, cut at 2000; wait 1s; 3000: hang, cut at 5000; wait 2s; 7000: ok.
        assert.deepStrictEqual(out.at, [0, 3000, 7000])
        assert.strictEqual(yield* success(out.result).text, "late")
      }))

    it.effect("after the attempts run out the caller gets the TimeoutException", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, hang), noJitter({ attemptTimeout: "2 seconds" }))
        assert.deepStrictEqual(out.at, [0, 3000, 7000, 13000])
        const error = timeoutError(failure(out.result))
        assert.strictEqual(error._tag, "TimeoutException")
        assert.include(error.message, "attempt 4 of 4")
        assert.strictEqual(out.end, 15000)
      }))

    it.effect("a hanging POST times out and is not retried", () =>
      Effect.gen(function*() {
        const out = yield* runScript([hang], noJitter({ attemptTimeout: "2 seconds" }), requestWith("POST"))
        assert.strictEqual(out.attempts, 1)
        timeoutError(failure(out.result))
        assert.strictEqual(out.end, 2000)
      }))

    it.effect("an answer within the timeout is not cut", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [delayed("1999 millis", ok("just in time"))],
          noJitter({ attemptTimeout: "2 seconds" })
        )
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(yield* success(out.result).text, "just in time")
        assert.strictEqual(out.end, 1999)
      }))

    it.effect("an answer slower than the timeout is cut and retried", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [delayed("2001 millis", ok("too late")), ok("second")],
          noJitter({ attemptTimeout: "2 seconds" })
        )
        assert.deepStrictEqual(out.at, [0, 3000])
        assert.strictEqual(yield* success(out.result).text, "second")
      }))
  })

  describe("AttemptTimeout", () => {
    /** A client that reads the attempt's timeout from its context, as a transport with its own timers does. */
    const reading = (
      inner: HttpClient.HttpClient,
      seen: Array<number | undefined>,
      timesOut: (attempt: number) => boolean = () => false
    ): HttpClient.HttpClient.With<HttpClientError.HttpClientError | Cause.TimeoutException> =>
      HttpClient.makeWith(
        (request) =>
          Effect.flatMap(request, (request) =>
            Effect.flatMap(Effect.serviceOption(HttpRetry.AttemptTimeout), (
              timeout
            ): Effect.Effect<
              HttpClientResponse.HttpClientResponse,
              HttpClientError.HttpClientError | Cause.TimeoutException
            > => {
              seen.push(Option.isSome(timeout) ? timeout.value.millis : undefined)
              return Option.isSome(timeout) && timesOut(seen.length) ?
                Effect.fail(timeout.value.onTimeout()) :
                inner.execute(request)
            })),
        Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
      )

    it.effect("a client marked readsAttemptTimeout gets each attempt's timeout in its context, and no timer fiber", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([ok("second")])
        const seen: Array<number | undefined> = []
        // Stands in for a transport timer that fired: attempt 1 fails with the timeout, never reaching the client.
        const client = HttpRetry.readsAttemptTimeout(reading(test.client, seen, (n) => n === 1)).pipe(
          HttpRetry.withRetry(noJitter({ attemptTimeout: "2 seconds", maxElapsed: "3 seconds" }))
        )
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("10 seconds")
        const response = yield* Fiber.join(fiber)
        assert.strictEqual(yield* response.text, "second")
        // Attempt 1 had the full 2 s; attempt 2 starts after a 1 s wait, with 2 s left before the deadline.
        assert.deepStrictEqual(seen, [2000, 2000])
        assert.strictEqual((yield* test.requests).length, 1)
        // Only for the send: the caller's context is as it was.
        assert.isTrue(Option.isNone(yield* Effect.serviceOption(HttpRetry.AttemptTimeout)))
      }))

    it.effect("an interrupted call's own finalizers see neither the attempt's timeout nor its tracer switch", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([hang])
        const seen: Array<number | undefined> = []
        const client = HttpRetry.readsAttemptTimeout(reading(test.client, seen)).pipe(
          HttpRetry.withRetry(noJitter(), { tracing: false })
        )
        const before = yield* FiberRef.get(HttpClient.currentTracerDisabledWhen)
        let inFinalizer: [boolean, boolean] | undefined
        const fiber = yield* Effect.fork(
          client.get(url).pipe(
            Effect.onInterrupt(() =>
              Effect.gen(function*() {
                const timeout = yield* Effect.serviceOption(HttpRetry.AttemptTimeout)
                const disabledWhen = yield* FiberRef.get(HttpClient.currentTracerDisabledWhen)
                inFinalizer = [Option.isNone(timeout), disabledWhen === before]
              })
            )
          )
        )
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(seen, [10000])
        assert.deepStrictEqual(inFinalizer, [true, true])
      }))

    it.effect("the timeout shrinks to the time left before the deadline", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([respond(503), ok("second")])
        const seen: Array<number | undefined> = []
        const client = HttpRetry.readsAttemptTimeout(reading(test.client, seen)).pipe(
          HttpRetry.withRetry(noJitter({ attemptTimeout: "10 seconds", maxElapsed: "2500 millis" }))
        )
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("10 seconds")
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(seen, [2500, 1500])
      }))

    it.effect("a client without the mark never sees it, and is bounded by the retry's own timer", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([TestHttpClient.hang, ok("second")])
        const seen: Array<number | undefined> = []
        const client = reading(test.client, seen).pipe(
          HttpRetry.withRetry(noJitter({ attemptTimeout: "2 seconds" }))
        )
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* (yield* Fiber.join(fiber)).text, "second")
        assert.deepStrictEqual(seen, [undefined, undefined])
        assert.deepStrictEqual((yield* test.requests).map((r) => r.at), [0, 3000])
      }))
  })

  describe("tracing", () => {
    interface Recorded {
      readonly name: string
      readonly kind: Tracer.SpanKind
      readonly attributes: Map<string, unknown>
      /** The parent's name, when the parent is a span. */
      readonly parent: string | undefined
      ended: boolean
    }
    const recordingTracer = (spans: Array<Recorded>): Tracer.Tracer =>
      Tracer.make({
        span(name, parent, context, links, startTime, kind) {
          const recorded: Recorded = {
            name,
            kind,
            attributes: new Map(),
            parent: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined,
            ended: false
          }
          spans.push(recorded)
          const span: Tracer.Span = {
            _tag: "Span",
            name,
            spanId: `span${spans.length}`.padStart(16, "0"),
            traceId: "0".repeat(31) + "1",
            parent,
            context,
            status: { _tag: "Started", startTime },
            attributes: recorded.attributes,
            links: Array.from(links),
            sampled: true,
            kind,
            end() {
              recorded.ended = true
            },
            attribute(key, value) {
              recorded.attributes.set(key, value)
            },
            event() {},
            addLinks() {}
          }
          return span
        },
        context: (f) => f()
      })

    it.effect("one client span per attempt, resends counted, URL redacted, trace context sent", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const test = yield* TestHttpClient.make([respond(503), ok("done")])
        const client = HttpRetry.withRetry(test.client, noJitter())
        const fiber = yield* Effect.fork(
          client.get("http://user:hunter2@api.test/items?token=s3cret&page=2").pipe(
            Effect.withTracer(recordingTracer(spans))
          )
        )
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(spans.map((s) => [s.name, s.kind, s.ended]), [
          ["http.client GET", "client", true],
          ["http.client GET", "client", true]
        ])
        const [first, second] = spans
        assert.strictEqual(first.attributes.get("http.response.status_code"), 503)
        assert.strictEqual(second.attributes.get("http.response.status_code"), 200)
        assert.isFalse(first.attributes.has("http.request.resend_count"))
        assert.strictEqual(second.attributes.get("http.request.resend_count"), 1)
        // The platform's own span (TestHttpClient is made with HttpClient.make), with its attributes.
        assert.strictEqual(first.attributes.get("server.address"), "http://api.test")
        assert.strictEqual(first.attributes.get("url.path"), "/items")
        const full = String(first.attributes.get("url.full"))
        assert.include(full, "page=2")
        for (const span of spans) {
          for (const value of span.attributes.values()) {
            assert.notInclude(String(value), "hunter2")
            assert.notInclude(String(value), "s3cret")
          }
        }
        const sent = yield* test.requests
        assert.strictEqual(sent.length, 2)
        for (const r of sent) assert.match(r.request.headers["traceparent"] ?? "", /^00-0{31}1-/)
      }))

    it.effect("spans keep no secret of a fragment, a ';' parameter or a nested URL, nor of a redirect's hop", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const test = yield* TestHttpClient.make((request) =>
          request.url.includes("/moved") ?
            respond(302, {
              headers: {
                location: "https://files.test/f?X-Amz-Signature=sig-s3cret",
                link: "<https://api.test/next?token=link-s3cret>; rel=next",
                "x-next": "/next?a&b=1",
                // What is hidden without a marker (a fragment), or in a header's text (a parameter after "&").
                "content-location": "/cb#access_token=frag2-s3cret",
                "x-params": "a=1&token=amp-s3cret"
              }
            }) :
            ok("done")
        )
        const client = HttpRetry.withRetry(test.client, noJitter()).pipe(HttpRetry.followRedirects())
        const urls = [
          "http://api.test/a#access_token=frag-s3cret",
          "http://api.test/a?page=1;token=semi-s3cret",
          "http://api.test/a?next=https%3A%2F%2Fu%3Anest-s3cret%40h.test%2F",
          "http://api.test/moved",
          // A secret in the request too: the attempt's redaction and the hop's, applied once.
          "http://api.test/moved?token=req-s3cret"
        ]
        for (const url of urls) {
          yield* client.get(url).pipe(Effect.withTracer(recordingTracer(spans)))
        }
        assert.strictEqual(spans.length, 7)
        // A header with no secret is recorded as it was written.
        assert.strictEqual(spans[3].attributes.get("http.response.header.x-next"), "/next?a&b=1")
        assert.strictEqual(
          spans[5].attributes.get("http.response.header.link"),
          "<https://api.test/next?token=<redacted>>; rel=next"
        )
        const hop = spans[4]
        assert.strictEqual(hop.attributes.get("server.address"), "https://files.test")
        assert.include(String(hop.attributes.get("url.full")), "X-Amz-Signature=<redacted>")
        assert.include(String(spans[3].attributes.get("http.response.header.location")), "https://files.test/f?")
        for (const span of spans) {
          for (const [key, value] of span.attributes) {
            assert.notMatch(String(value), /s3cret/, `${span.name} ${key}`)
          }
        }
      }))

    it.effect("the span the retry records for a client without its own ends with the redacted error", () =>
      Effect.gen(function*() {
        const exits: Array<string> = []
        const native = yield* Effect.tracerWith(Effect.succeed)
        const ending = Tracer.make({
          span(...args) {
            const span = native.span(...args)
            const end = span.end.bind(span)
            span.end = (endTime, exit) => {
              exits.push(`${util.inspect(exit, { depth: 8 })} ${String(exit)}`)
              end(endTime, exit)
            }
            return span
          },
          context: (f, fiber) => native.context(f, fiber)
        })
        const test = yield* TestHttpClient.make([TestHttpClient.fail("ECONNREFUSED")])
        const quiet = HttpRetry.withNoSpans(test.client.pipe(HttpClient.withTracerDisabledWhen(() => true)))
        yield* Effect.either(
          HttpRetry.withRetry(quiet, noJitter({ maxAttempts: 1 })).get("http://u:pw-s3cret@api.test/x?token=tok-s3cret")
            .pipe(
              Effect.withTracer(ending)
            )
        )
        assert.strictEqual(exits.length, 1)
        assert.include(exits[0], "api.test")
        assert.notMatch(exits[0], /s3cret/)
        // A client whose own filterStatusOk fails the answer: the platform's ResponseError quotes the raw URL.
        exits.length = 0
        const statusTest = yield* TestHttpClient.make([respond(400)])
        const filtered = HttpRetry.withNoSpans(
          statusTest.client.pipe(HttpClient.filterStatusOk, HttpClient.withTracerDisabledWhen(() => true))
        )
        const status = yield* Effect.either(
          HttpRetry.withRetry(filtered, noJitter({ maxAttempts: 1 })).get(
            "http://u:pw-s3cret@api.test/x?token=tok-s3cret"
          )
            .pipe(Effect.withTracer(ending))
        )
        assert.strictEqual(exits.length, 1)
        assert.include(exits[0], "ResponseError")
        assert.include(exits[0], "api.test")
        assert.notMatch(exits[0], /s3cret/)
        // The caller gets the answer it carries as the status error, as without the filter.
        assert.isTrue(Either.isLeft(status) && status.left._tag === "HttpStatusError")
      }))

    it.effect("one trace per call: with no parent span, the later attempts are children of the first", () =>
      Effect.gen(function*() {
        const spans: Array<Tracer.Span> = []
        // The native tracer: a span without a parent starts a trace of its own.
        const native = yield* Effect.tracerWith(Effect.succeed)
        const keeping = Tracer.make({
          span(...args) {
            const span = native.span(...args)
            spans.push(span)
            return span
          },
          context: (f, fiber) => native.context(f, fiber)
        })
        for (const quiet of [false, true]) {
          spans.length = 0
          const test = yield* TestHttpClient.make([respond(503), TestHttpClient.fail("ECONNRESET"), ok("done")])
          // A client that records no span of its own, so the retry records the attempts' spans itself.
          const inner = quiet ?
            HttpRetry.withNoSpans(test.client.pipe(HttpClient.withTracerDisabledWhen(() => true))) :
            test.client
          const fiber = yield* Effect.fork(
            HttpRetry.withRetry(inner, noJitter()).get(url).pipe(Effect.withTracer(keeping))
          )
          yield* TestClock.adjust("1 minute")
          yield* Fiber.join(fiber)
          const [first, ...later] = spans
          assert.strictEqual(spans.length, 3)
          assert.isTrue(Option.isNone(first.parent))
          for (const span of later) {
            assert.strictEqual(span.traceId, first.traceId)
            assert.strictEqual(Option.getOrThrow(span.parent).spanId, first.spanId)
          }
          assert.deepStrictEqual(spans.map((s) => s.attributes.get("http.request.resend_count")), [undefined, 1, 2])
          const sent = yield* test.requests
          assert.deepStrictEqual(
            sent.map((r) => r.request.headers["traceparent"]?.split("-")[1]),
            [first.traceId, first.traceId, first.traceId]
          )
        }
      }))

    it.effect("under a caller's span every attempt is the caller's child, and the caller's trace", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const test = yield* TestHttpClient.make([respond(503), ok("done")])
        const fiber = yield* Effect.fork(
          HttpRetry.withRetry(test.client, noJitter()).get(url).pipe(
            Effect.withSpan("caller"),
            Effect.withTracer(recordingTracer(spans))
          )
        )
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(spans.map((s) => [s.name, s.parent]), [
          ["caller", undefined],
          ["http.client GET", "caller"],
          ["http.client GET", "caller"]
        ])
      }))

    it.effect("tracing: false makes no span, sends no trace headers, and keeps the inner client's span off", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const test = yield* TestHttpClient.make([respond(503), ok("done")])
        const client = HttpRetry.withRetry(test.client, noJitter(), { tracing: false })
        const fiber = yield* Effect.fork(client.get(url).pipe(Effect.withTracer(recordingTracer(spans))))
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(fiber)
        const sent = yield* test.requests
        assert.strictEqual(sent.length, 2)
        assert.strictEqual(spans.length, 0)
        for (const r of sent) assert.isUndefined(r.request.headers["traceparent"])
      }))

    // A client made by the platform's `HttpClient.make` records a span of its own, with the URL as written.
    const platformClient = (answers: Array<number>) =>
      HttpClient.make((request) =>
        Effect.sync(() => HttpClientResponse.fromWeb(request, new Response(null, { status: answers.shift() ?? 200 })))
      )
    const customDisabled = (request: HttpClientRequest.HttpClientRequest) => request.url.includes("skip-me")

    it.effect("the wrapped client's own span is off during every attempt, and the fiber's setting is put back", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const client = HttpRetry.withRetry(platformClient([503, 200]), noJitter())
        const fiber = yield* Effect.fork(
          client.get("http://user:hunter2@api.test/items").pipe(
            Effect.zipRight(FiberRef.get(HttpClient.currentTracerDisabledWhen)),
            Effect.withTracer(recordingTracer(spans)),
            Effect.locally(HttpClient.currentTracerDisabledWhen, customDisabled)
          )
        )
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Fiber.join(fiber), customDisabled)
        // The retry's two attempt spans, and not the platform's (which would show the password).
        assert.strictEqual(spans.length, 2)
        for (const span of spans) assert.notInclude(String(span.attributes.get("url.full")), "hunter2")
        // A failing attempt puts it back too.
        const failing = HttpRetry.withRetry(platformClient([404]), noJitter())
        const after = yield* failing.get(url).pipe(
          Effect.flip,
          Effect.zipRight(FiberRef.get(HttpClient.currentTracerDisabledWhen)),
          Effect.locally(HttpClient.currentTracerDisabledWhen, customDisabled)
        )
        assert.strictEqual(after, customDisabled)
      }))

    it.effect("the tracer setting is left alone unless tracing is false for a client that records spans", () =>
      Effect.gen(function*() {
        const seen: Array<(request: HttpClientRequest.HttpClientRequest) => boolean> = []
        const quiet = HttpClient.makeWith(
          (request) =>
            Effect.flatMap(
              request,
              (request) =>
                Effect.map(FiberRef.get(HttpClient.currentTracerDisabledWhen), (disabledWhen) => {
                  seen.push(disabledWhen)
                  return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
                })
            ),
          Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
        )
        const run = (client: HttpClient.HttpClient.With<unknown>) =>
          client.get(url).pipe(Effect.locally(HttpClient.currentTracerDisabledWhen, customDisabled))
        yield* run(HttpRetry.withRetry(HttpRetry.withNoSpans(quiet)))
        yield* run(HttpRetry.withRetry(HttpRetry.followRedirects(HttpRetry.withNoSpans(quiet))))
        yield* run(HttpRetry.withRetry(quiet))
        yield* run(HttpRetry.withRetry(HttpRetry.withNoSpans(quiet), undefined, { tracing: false }))
        yield* run(HttpRetry.withRetry(quiet, undefined, { tracing: false }))
        assert.strictEqual(seen[0], customDisabled)
        assert.strictEqual(seen[1], customDisabled)
        // A client that may record its own span keeps it: the span is the attempt's.
        assert.strictEqual(seen[2], customDisabled)
        assert.strictEqual(seen[3], customDisabled)
        // tracing: false turns it off, for that client only.
        assert.notStrictEqual(seen[4], customDisabled)
        assert.isTrue(seen[4](HttpClientRequest.get(url)))
      }))

    it.effect("withNoSpans: the retry records the attempt's span, and one made while sending is its child", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const inner = HttpRetry.withNoSpans(HttpClient.makeWith(
          (request) =>
            Effect.flatMap(request, (request) =>
              Effect.withSpan(
                Effect.sync(() => HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))),
                "inner work"
              )),
          Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
        ))
        yield* HttpRetry.withRetry(inner).get(url).pipe(
          Effect.withSpan("caller"),
          Effect.withTracer(recordingTracer(spans))
        )
        assert.deepStrictEqual(spans.map((s) => [s.name, s.parent]), [
          ["caller", undefined],
          ["http.client GET", "caller"],
          ["inner work", "http.client GET"]
        ])
      }))

    it.effect("no span when the tracer is disabled for the request", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const test = yield* TestHttpClient.make([ok("done")])
        const client = HttpRetry.withRetry(test.client, noJitter()).pipe(HttpClient.withTracerDisabledWhen(() => true))
        yield* client.get(url).pipe(Effect.withTracer(recordingTracer(spans)))
        assert.strictEqual(spans.length, 0)
        assert.isUndefined((yield* test.requests)[0].request.headers["traceparent"])
      }))
  })
})
