import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as util from "node:util"
import {
  captureLogs,
  failure,
  millis,
  noJitter,
  observe,
  type Outcome,
  runScript,
  statusError,
  success,
  url,
  waits
} from "./utils.js"

const { delayed, fail, hang, ok, respond } = TestHttpClient

const times = <A>(n: number, a: A): Array<A> => Array.from({ length: n }, () => a)

const requestWith = (method: string, target: string = url): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.make(method as HttpMethod.HttpMethod)(target)

const requestError = (error: unknown): HttpClientError.RequestError => {
  if (!(error instanceof HttpClientError.RequestError)) assert.fail(`expected a RequestError, got ${String(error)}`)
  return error
}

const timeoutError = (error: unknown): Cause.TimeoutException => {
  if (!Cause.isTimeoutException(error)) assert.fail(`expected a TimeoutException, got ${String(error)}`)
  return error
}

const causeCode = (error: HttpClientError.RequestError): unknown => (error.cause as { readonly code?: unknown }).code

describe.concurrent("HttpRetry.withRetry", () => {
  describe("statuses", () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      it.effect(`retries ${status} until the attempts run out`, () =>
        Effect.gen(function*() {
          const out = yield* runScript(times(4, respond(status)))
          assert.strictEqual(out.attempts, 4)
          assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
          const error = statusError(out.result)
          assert.strictEqual(error._tag, "HttpStatusError")
          assert.strictEqual(error.status, status)
          assert.strictEqual(error.attempts, 4)
          assert.strictEqual(error.reason, "AttemptsExhausted")
        }))
    }

    for (const status of [400, 401, 403, 404, 409, 422, 501, 505]) {
      it.effect(`gives up on ${status} at once`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(status)])
          assert.strictEqual(out.attempts, 1)
          const error = statusError(out.result)
          assert.strictEqual(error.status, status)
          assert.strictEqual(error.attempts, 1)
          assert.strictEqual(error.reason, "NotRetryable")
          assert.strictEqual(out.end, 0)
        }))
    }

    it.effect("succeeds on the first 2xx after failures", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503), respond(502), ok("done")])
        assert.strictEqual(out.attempts, 3)
        assert.deepStrictEqual(out.at, [0, 1000, 3000])
        const response = success(out.result)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(yield* response.text, "done")
      }))

    it.effect("treats every 2xx as success", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(204)])
        assert.strictEqual(success(out.result).status, 204)
        assert.strictEqual(out.attempts, 1)
      }))

    describe("seed one-liner: RetryPolicy.make({ retryOn: RetryPolicy.seedRetryOn })", () => {
      const seed = RetryPolicy.make({ retryOn: RetryPolicy.seedRetryOn })

      for (const status of [500, 501, 505, 599]) {
        it.effect(`retries ${status}`, () =>
          Effect.gen(function*() {
            const out = yield* runScript(times(4, respond(status)), seed)
            assert.strictEqual(out.attempts, 4)
            assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
          }))
      }

      for (const status of [400, 404, 408, 429]) {
        it.effect(`gives up on ${status} at once`, () =>
          Effect.gen(function*() {
            const out = yield* runScript([respond(status)], seed)
            assert.strictEqual(out.attempts, 1)
            const error = statusError(out.result)
            assert.strictEqual(error.reason, "NotRetryable")
            assert.strictEqual(error.attempts, 1)
          }))
      }
    })

    it.effect("an explicit status list replaces the defaults", () =>
      Effect.gen(function*() {
        const policy = noJitter({ retryOn: { statuses: [404] } })
        const retried = yield* runScript([respond(404), ok()], policy)
        assert.strictEqual(retried.attempts, 2)
        success(retried.result)
        const notRetried = yield* runScript([respond(503)], policy)
        assert.strictEqual(notRetried.attempts, 1)
        assert.strictEqual(statusError(notRetried.result).reason, "NotRetryable")
      }))
  })

  describe("methods", () => {
    for (const method of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]) {
      it.effect(`retries ${method} by default`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(503), respond(503), respond(200)], noJitter(), requestWith(method))
          assert.strictEqual(out.attempts, 3)
          assert.deepStrictEqual(out.requests.map((r) => r.request.method), [method, method, method])
          assert.strictEqual(success(out.result).status, 200)
        }))
    }

    for (const method of ["POST", "PATCH"]) {
      it.effect(`does not retry ${method} by default`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(503)], noJitter(), requestWith(method))
          assert.strictEqual(out.attempts, 1)
          const error = statusError(out.result)
          assert.strictEqual(error.reason, "MethodNotRetried")
          assert.strictEqual(error.attempts, 1)
          assert.strictEqual(error.method, method)
        }))

      it.effect(`does not retry a ${method} transport failure by default`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([fail("ECONNRESET")], noJitter(), requestWith(method))
          assert.strictEqual(out.attempts, 1)
          assert.strictEqual(causeCode(requestError(failure(out.result))), "ECONNRESET")
        }))

      it.effect(`retries ${method} when listed in methods`, () =>
        Effect.gen(function*() {
          const out = yield* runScript(
            [respond(503), respond(503), ok()],
            noJitter({ methods: ["GET", method] }),
            requestWith(method)
          )
          assert.strictEqual(out.attempts, 3)
          assert.deepStrictEqual(out.at, [0, 1000, 3000])
          success(out.result)
        }))

      it.effect(`retries ${method} with an Idempotency-Key, sending the same key every time`, () =>
        Effect.gen(function*() {
          const request = requestWith(method).pipe(
            HttpClientRequest.setHeader("Idempotency-Key", "k-7f3a"),
            HttpClientRequest.bodyText("{\"amount\":5}", "application/json")
          )
          const out = yield* runScript(times(4, respond(503)), noJitter(), request)
          assert.strictEqual(out.attempts, 4)
          assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
          assert.deepStrictEqual(out.requests.map((r) => r.request.headers["idempotency-key"]), times(4, "k-7f3a"))
          assert.deepStrictEqual(out.requests.map((r) => r.request.method), times(4, method))
        }))
    }

    it.effect("a methods list replaces the default list", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503)], noJitter({ methods: ["POST"] }), requestWith("GET"))
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(statusError(out.result).reason, "MethodNotRetried")
      }))
  })

  describe("transport failures", () => {
    for (const code of ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN"]) {
      it.effect(`retries ${code}`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([fail(code), fail(code), ok("up")])
          assert.strictEqual(out.attempts, 3)
          assert.deepStrictEqual(out.at, [0, 1000, 3000])
          assert.strictEqual(yield* success(out.result).text, "up")
        }))
    }

    it.effect("fails with the platform RequestError, cause and code kept, after the attempts run out", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, fail("ECONNRESET", "socket hang up")))
        assert.strictEqual(out.attempts, 4)
        assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
        const error = requestError(failure(out.result))
        assert.strictEqual(error._tag, "RequestError")
        assert.strictEqual(error.reason, "Transport")
        assert.isTrue(HttpClientError.isHttpClientError(error))
        assert.instanceOf(error.cause, Error)
        assert.strictEqual(causeCode(error), "ECONNRESET")
        assert.strictEqual((error.cause as Error).message, "socket hang up")
        assert.strictEqual(error.request.url, url)
      }))

    it.effect("Effect.catchTag(\"RequestError\") works after retries", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(4, fail("ECONNREFUSED")))
        const client = HttpRetry.withRetry(test.client, noJitter())
        const out = yield* observe(
          test,
          client.get(url).pipe(Effect.catchTag("RequestError", (e) => Effect.succeed(e.reason)))
        )
        assert.strictEqual(success(out.result), "Transport")
        assert.strictEqual(out.attempts, 4)
      }))

    for (
      const code of ["ENOTFOUND", "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID"]
    ) {
      it.effect(`does not retry ${code}`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([fail(code)])
          assert.strictEqual(out.attempts, 1)
          const error = requestError(failure(out.result))
          assert.strictEqual(error.reason, "Transport")
          assert.strictEqual(causeCode(error), code)
          assert.strictEqual(out.end, 0)
        }))
    }

    it.effect("retryOn.transport false retries no transport failure, and keeps the status list", () =>
      Effect.gen(function*() {
        const policy = noJitter({ retryOn: { transport: false } })
        assert.deepStrictEqual(policy.retryOn.statuses, RetryPolicy.defaults.retryOn.statuses)
        for (const code of ["ECONNRESET", "ECONNREFUSED"]) {
          const out = yield* runScript([fail(code)], policy)
          assert.strictEqual(out.attempts, 1)
          assert.strictEqual(causeCode(requestError(failure(out.result))), code)
        }
        const timedOut = yield* runScript(
          [hang],
          noJitter({ retryOn: { transport: false }, attemptTimeout: "2 seconds" })
        )
        assert.strictEqual(timedOut.attempts, 1)
        timeoutError(failure(timedOut.result))
        const status = yield* runScript([respond(503), ok()], policy)
        assert.strictEqual(status.attempts, 2)
      }))

    it.effect("status and transport failures share one attempt counter", () =>
      Effect.gen(function*() {
        const out = yield* runScript([fail("ECONNRESET"), respond(503), fail("ECONNREFUSED"), respond(502)])
        assert.strictEqual(out.attempts, 4)
        assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
        const error = statusError(out.result)
        assert.strictEqual(error.status, 502)
        assert.strictEqual(error.attempts, 4)
        assert.strictEqual(error.reason, "AttemptsExhausted")
      }))
  })

  describe("backoff", () => {
    it.effect("defaults with jitter none wait 1s, 2s, 4s, then give up after 4 attempts", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), RetryPolicy.make({ jitter: "none" }))
        assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
        assert.strictEqual(out.end, 7000)
        const error = statusError(out.result)
        assert.strictEqual(error.attempts, 4)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        assert.strictEqual(error.status, 503)
      }))

    it.effect("the same error type whether or not a retry happened", () =>
      Effect.gen(function*() {
        const cases = [[[respond(404)], 404, 1], [times(4, respond(503)), 503, 4]] as const
        for (const [script, status, attempts] of cases) {
          const test = yield* TestHttpClient.make(script)
          const client = HttpRetry.withRetry(test.client, noJitter())
          const out = yield* observe(
            test,
            client.get(url).pipe(
              Effect.catchTag("HttpStatusError", (e) =>
                Effect.succeed({
                  status: e.status,
                  attempts: e.attempts,
                  instance: e instanceof HttpStatusError.HttpStatusError
                }))
            )
          )
          assert.deepStrictEqual(success(out.result), { status, attempts, instance: true })
        }
      }))

    it.effect("the final error keeps the last response, body unread", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503, { body: "first" }), respond(500, { body: "last" })],
          noJitter({ maxAttempts: 2 })
        )
        const error = statusError(out.result)
        assert.strictEqual(error.status, 500)
        assert.strictEqual(yield* error.response.text, "last")
      }))

    it.effect("maxDelay caps every wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(6, respond(503)), noJitter({ maxAttempts: 6, maxDelay: "3 seconds" }))
        assert.deepStrictEqual(waits(out.at), [1000, 2000, 3000, 3000, 3000])
        assert.strictEqual(statusError(out.result).attempts, 6)
      }))

    it.effect("factor multiplies each wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ factor: 3 }))
        assert.deepStrictEqual(waits(out.at), [1000, 3000, 9000])
      }))

    it.effect("factor 1 waits the same every time", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ factor: 1, baseDelay: "300 millis" }))
        assert.deepStrictEqual(waits(out.at), [300, 300, 300])
      }))

    it.effect("baseDelay is the first wait", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ baseDelay: "250 millis" }))
        assert.deepStrictEqual(waits(out.at), [250, 500, 1000])
      }))

    it.effect("maxAttempts 1 never retries", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503)], noJitter({ maxAttempts: 1 }))
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
      }))

    it.effect("jitter full waits a seeded random time in [0, delay], different from the unjittered delay", () =>
      Effect.gen(function*() {
        const run = (seed: number) =>
          runScript(times(6, respond(503)), RetryPolicy.make({ maxAttempts: 6, maxDelay: "5 seconds" })).pipe(
            Effect.withRandom(Random.make(seed))
          )
        const out = yield* run(42)
        assert.strictEqual(out.attempts, 6)
        const jittered = waits(out.at)
        const unjittered = [1000, 2000, 4000, 5000, 5000]
        assert.strictEqual(jittered.length, unjittered.length)
        jittered.forEach((wait, i) => {
          assert.isAtLeast(wait, 0)
          assert.isAtMost(wait, unjittered[i])
          assert.notStrictEqual(wait, unjittered[i])
        })
        // The clock now stands at a fractional millisecond: compare to the microsecond.
        const micros = (out: Outcome) => waits(out.at).map((ms) => Math.round(ms * 1000))
        assert.deepStrictEqual(micros(yield* run(42)), micros(out), "the same seed gives the same waits")
        assert.notDeepEqual(micros(yield* run(7)), micros(out), "another seed gives other waits")
      }))
  })

  describe("deadline (maxElapsed)", () => {
    it.effect("makes no attempt whose wait would end past the deadline", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ maxElapsed: "2500 millis" }))
        assert.strictEqual(out.attempts, 2)
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(out.end, 1000, "gives up at once rather than waiting")
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "DeadlineExceeded")
        assert.strictEqual(error.attempts, 2)
      }))

    it.effect("a wait ending exactly at the deadline is not made either", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(503)), noJitter({ maxElapsed: "3 seconds" }))
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(statusError(out.result).reason, "DeadlineExceeded")
      }))

    it.effect("the attempt timeout shrinks to the time left", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), hang],
          noJitter({ maxElapsed: "5 seconds", attemptTimeout: "10 seconds" })
        )
        assert.deepStrictEqual(out.at, [0, 1000])
        timeoutError(failure(out.result))
        assert.strictEqual(out.end, 5000, "cut at the deadline, not after the 10s attempt timeout")
      }))

    it.effect("the first attempt's timeout is the smaller of attemptTimeout and maxElapsed", () =>
      Effect.gen(function*() {
        const short = yield* runScript([hang], noJitter({ maxElapsed: "3 seconds", attemptTimeout: "10 seconds" }))
        assert.strictEqual(short.attempts, 1)
        timeoutError(failure(short.result))
        assert.strictEqual(short.end, 3000)
      }))

    it.effect("the last attempt gets only the milliseconds left", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), respond(503), hang],
          noJitter({ maxElapsed: "3001 millis", attemptTimeout: "10 seconds" })
        )
        assert.deepStrictEqual(out.at, [0, 1000, 3000])
        timeoutError(failure(out.result))
        assert.strictEqual(out.end, 3001)
      }))
  })

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
    ) =>
      HttpClient.makeWith(
        (request) =>
          Effect.flatMap(request, (request) =>
            Effect.flatMap(Effect.serviceOption(HttpRetry.AttemptTimeout), (timeout) => {
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

  describe("Retry-After", () => {
    for (const status of [429, 503]) {
      it.effect(`${status} with delta-seconds waits exactly that long, unjittered`, () =>
        Effect.gen(function*() {
          const out = yield* runScript(
            [respond(status, { headers: { "Retry-After": "3" } }), ok()],
            RetryPolicy.make({ jitter: "full" })
          ).pipe(Effect.withRandom(Random.make(1)))
          assert.deepStrictEqual(out.at, [0, 3000])
          success(out.result)
        }))
    }

    it.effect("an HTTP-date is read against the TestClock", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript([
          respond(503, { headers: { "retry-after": "Thu, 15 Jan 2026 12:00:05 GMT" } }),
          ok()
        ])
        assert.deepStrictEqual(waits(out.at), [5000])
        assert.strictEqual(out.requests[1].at, Date.UTC(2026, 0, 15, 12, 0, 5))
      }))

    it.effect("an HTTP-date is honoured with jitter full too", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript(
          [respond(429, { headers: { "retry-after": "Thu, 15 Jan 2026 12:00:07 GMT" } }), ok()],
          RetryPolicy.make()
        ).pipe(Effect.withRandom(Random.make(3)))
        assert.deepStrictEqual(waits(out.at), [7000])
      }))

    it.effect("an HTTP-date in the past falls back to the backoff delay", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 0, 15, 12, 0, 0))
        const out = yield* runScript([
          respond(503, { headers: { "retry-after": "Thu, 15 Jan 2026 11:59:00 GMT" } }),
          ok()
        ])
        assert.deepStrictEqual(waits(out.at), [1000])
      }))

    for (const value of ["soon", "-5", "1.5", "Sun, 31 Feb 2026 00:00:00 GMT"]) {
      it.effect(`an invalid value (${value}) falls back to the backoff delay`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(429, { headers: { "retry-after": value } }), respond(503), ok()])
          assert.deepStrictEqual(waits(out.at), [1000, 2000])
        }))
    }

    it.effect("a value longer than maxRetryAfter (60s) gives up at once with the hint", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503, { headers: { "retry-after": "61" } })])
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(out.end, 0)
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(error.attempts, 1)
        assert.isTrue(Option.isSome(error.retryAfter))
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 61_000)
      }))

    it.effect("a custom maxRetryAfter is the limit", () =>
      Effect.gen(function*() {
        const policy = noJitter({ maxRetryAfter: "5 seconds" })
        const tooLong = yield* runScript([respond(429, { headers: { "retry-after": "6" } })], policy)
        assert.strictEqual(tooLong.attempts, 1)
        assert.strictEqual(statusError(tooLong.result).reason, "RetryAfterTooLong")
        const fits = yield* runScript([respond(429, { headers: { "retry-after": "5" } }), ok()], policy)
        assert.deepStrictEqual(fits.at, [0, 5000])
      }))

    it.effect("a value longer than the time left before the deadline gives up at once with the hint", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          [respond(503), respond(503, { headers: { "retry-after": "9" } })],
          noJitter({ maxElapsed: "10 seconds" })
        )
        // The second answer comes at 1000; 1000 + 9000 reaches the deadline.
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(out.end, 1000)
        const error = statusError(out.result)
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 9000)
      }))

    it.effect("retryAfter: false ignores the header", () =>
      Effect.gen(function*() {
        const policy = noJitter({ retryAfter: false })
        const short = yield* runScript([respond(503, { headers: { "retry-after": "3" } }), ok()], policy)
        assert.deepStrictEqual(short.at, [0, 1000])
        const long = yield* runScript([respond(429, { headers: { "retry-after": "3600" } }), ok()], policy)
        assert.deepStrictEqual(long.at, [0, 1000], "not given up: the header is not consulted")
      }))

    for (const status of [500, 502, 504, 408]) {
      it.effect(`Retry-After on ${status} is ignored`, () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(status, { headers: { "retry-after": "30" } }), ok()])
          assert.deepStrictEqual(out.at, [0, 1000])
          success(out.result)
        }))
    }

    it.effect("the error carries the final response's Retry-After", () =>
      Effect.gen(function*() {
        const out = yield* runScript([respond(503, { headers: { "retry-after": "2" } })], noJitter({ maxAttempts: 1 }))
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        assert.strictEqual(millis(Option.getOrThrow(error.retryAfter)), 2000)
        assert.include(error.message, "Retry-After 2s")
      }))

    it.effect("Retry-After waits count against the attempts", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, respond(429, { headers: { "retry-after": "2" } })))
        assert.deepStrictEqual(out.at, [0, 2000, 4000, 6000])
        assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
      }))
  })

  describe("interruption", () => {
    it.effect("interrupting during a wait makes no further attempt", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([respond(503), ok()])
        const client = HttpRetry.withRetry(test.client, noJitter())
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("500 millis")
        assert.strictEqual((yield* test.requests).length, 1)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* test.requests).length, 1)
      }))

    it.effect("without the interruption the attempt would have been made", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([respond(503), ok()])
        const client = HttpRetry.withRetry(test.client, noJitter())
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("500 millis")
        assert.strictEqual((yield* test.requests).length, 1)
        yield* TestClock.adjust("500 millis")
        assert.strictEqual((yield* test.requests).length, 2)
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      }))
  })

  describe("failed attempt's body", () => {
    const encoder = new TextEncoder()

    it.effect("is read to the end before the next attempt", () =>
      Effect.gen(function*() {
        let pulls = 0
        let closed = false
        const closedAtAttempt: Array<boolean> = []
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            pulls++
            if (pulls <= 3) {
              controller.enqueue(encoder.encode(`error page part ${pulls}`))
            } else {
              closed = true
              controller.close()
            }
          }
        }, { highWaterMark: 0 })
        const client = HttpClient.make((request) =>
          Effect.sync(() => {
            closedAtAttempt.push(closed)
            return closedAtAttempt.length === 1 ?
              HttpClientResponse.fromWeb(request, new Response(body, { status: 503 })) :
              HttpClientResponse.fromWeb(request, new Response("ok", { status: 200 }))
          })
        )
        const fiber = yield* Effect.fork(HttpRetry.withRetry(client, noJitter()).get(url))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
        assert.deepStrictEqual(closedAtAttempt, [false, true], "the body was read to its end before attempt 2")
        assert.strictEqual(pulls, 4)
      }))

    // When each attempt starts, for a 503 whose small body takes `drainMillis` of Clock time to arrive, then a 200.
    const startsAfterSlowBody = (drainMillis: number) =>
      Effect.gen(function*() {
        const at: Array<number> = []
        const client = HttpClient.make((request) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            at.push(now)
            if (at.length > 1) return HttpClientResponse.fromWeb(request, new Response("ok", { status: 200 }))
            const response = HttpClientResponse.fromWeb(
              request,
              new Response("x", { status: 503, headers: { "content-length": "1" } })
            )
            return Object.defineProperty(Object.create(response), "arrayBuffer", {
              get: () => Effect.as(Effect.sleep(Duration.millis(drainMillis)), new ArrayBuffer(1))
            })
          })
        )
        const fiber = yield* Effect.fork(HttpRetry.withRetry(client, noJitter()).get(url))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
        return at
      })

    it.effect("the wait counts from the failure: a body read to the end takes its time out of the wait", () =>
      Effect.map(startsAfterSlowBody(400), (at) => assert.deepStrictEqual(at, [0, 1000])))

    it.effect("a body cut off at the drain timeout (1 s) is followed by the full wait", () =>
      Effect.map(startsAfterSlowBody(5_000), (at) => assert.deepStrictEqual(at, [0, 2000])))

    it.effect("a huge body is cut off, not read to the end, and the retry still happens", () =>
      Effect.gen(function*() {
        const chunk = new Uint8Array(16 * 1024)
        let bytes = 0
        let cancelled = false
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            bytes += chunk.length
            controller.enqueue(chunk)
          },
          cancel() {
            cancelled = true
          }
        }, { highWaterMark: 0 })
        let attempts = 0
        const client = HttpClient.make((request) =>
          Effect.sync(() => {
            attempts++
            return attempts === 1 ?
              HttpClientResponse.fromWeb(request, new Response(body, { status: 503 })) :
              HttpClientResponse.fromWeb(request, new Response("ok", { status: 200 }))
          })
        )
        const fiber = yield* Effect.fork(HttpRetry.withRetry(client, noJitter()).get(url))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
        assert.strictEqual(attempts, 2)
        assert.isTrue(cancelled)
        assert.isAtLeast(bytes, 64 * 1024)
        assert.isAtMost(bytes, 128 * 1024)
      }))
  })

  describe("request body", () => {
    it.effect("a one-shot stream body is not retried", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("once")))
        )
        const out = yield* runScript([respond(503)], noJitter(), request)
        assert.strictEqual(out.attempts, 1)
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "BodyNotReplayable")
        assert.strictEqual(error.attempts, 1)
      }))

    it.effect("a text body is replayed on every attempt", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT").pipe(HttpClientRequest.bodyText("again"))
        const out = yield* runScript([respond(503), respond(503), ok()], noJitter(), request)
        assert.strictEqual(out.attempts, 3)
        for (const recorded of out.requests) {
          const body = recorded.request.body
          assert.strictEqual(body._tag, "Uint8Array")
          if (body._tag === "Uint8Array") assert.strictEqual(new TextDecoder().decode(body.body), "again")
        }
      }))
  })

  describe("onRetry", () => {
    it.effect("runs once per retry with the attempt, the delay and its source", () =>
      Effect.gen(function*() {
        const calls: Array<HttpRetry.RetryInfo<unknown>> = []
        const out = yield* runScript(
          [respond(503), respond(429, { headers: { "retry-after": "3" } }), fail("ECONNRESET"), ok()],
          noJitter(),
          HttpClientRequest.get(url),
          { onRetry: (info) => Effect.sync(() => calls.push(info)) }
        )
        assert.deepStrictEqual(out.at, [0, 1000, 4000, 8000])
        assert.deepStrictEqual(
          calls.map((c) => [c.attempt, c.maxAttempts, millis(c.delay), c.source, c.failure._tag]),
          [
            [1, 4, 1000, "backoff", "Status"],
            [2, 4, 3000, "Retry-After", "Status"],
            [3, 4, 4000, "backoff", "Error"]
          ]
        )
        const [first, second, third] = calls
        assert.strictEqual(first.failure._tag === "Status" && first.failure.response.status, 503)
        assert.strictEqual(second.failure._tag === "Status" && second.failure.response.status, 429)
        assert.strictEqual(
          third.failure._tag === "Error" && causeCode(requestError(third.failure.error)),
          "ECONNRESET"
        )
        assert.strictEqual(first.request.url, url)
      }))

    it.effect("is not called when nothing is retried", () =>
      Effect.gen(function*() {
        let calls = 0
        const out = yield* runScript([respond(404)], noJitter(), HttpClientRequest.get(url), {
          onRetry: () => Effect.sync(() => calls++)
        })
        assert.strictEqual(out.attempts, 1)
        assert.strictEqual(calls, 0)
      }))

    it.effect("sees the jittered delay actually waited", () =>
      Effect.gen(function*() {
        const delays: Array<number> = []
        const out = yield* runScript(times(4, respond(503)), RetryPolicy.make(), HttpClientRequest.get(url), {
          onRetry: (info) => Effect.sync(() => delays.push(millis(info.delay)))
        }).pipe(Effect.withRandom(Random.make(11)))
        assert.deepStrictEqual(delays, waits(out.at))
      }))
  })

  describe("withPolicy", () => {
    it.effect("overrides attempts for requests inside it only, keeping the client's other fields", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(6, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter({ baseDelay: "500 millis" }))
        const inside = yield* observe(test, HttpRetry.withPolicy(client.get(url), { maxAttempts: 2 }))
        assert.strictEqual(inside.attempts, 2)
        assert.deepStrictEqual(inside.at, [0, 500], "baseDelay and jitter none come from the client's policy")
        assert.strictEqual(statusError(inside.result).attempts, 2)

        const test2 = yield* TestHttpClient.make(times(4, respond(503)))
        const client2 = HttpRetry.withRetry(test2.client, noJitter({ baseDelay: "500 millis" }))
        const outside = yield* observe(test2, client2.get(url))
        assert.strictEqual(outside.attempts, 4)
      }))

    it.effect("applies to one part of a program", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(5, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter())
        const program = Effect.gen(function*() {
          const a = yield* Effect.flip(HttpRetry.withPolicy(client.get(url), { maxAttempts: 1 }))
          const b = yield* Effect.flip(client.get(url))
          return [a, b] as const
        })
        const out = yield* observe(test, program)
        const [a, b] = success(out.result)
        assert.strictEqual(HttpStatusError.isHttpStatusError(a) && a.attempts, 1)
        assert.strictEqual(HttpStatusError.isHttpStatusError(b) && b.attempts, 4)
        assert.strictEqual(out.attempts, 5)
      }))

    it.effect("nested overrides merge field by field, the inner one winning", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(4, respond(503)))
        const client = HttpRetry.withRetry(test.client, noJitter())
        const program = client.get(url).pipe(
          HttpRetry.withPolicy({ maxAttempts: 2 }),
          HttpRetry.withPolicy({ maxAttempts: 3, baseDelay: "200 millis" })
        )
        const out = yield* observe(test, program)
        assert.deepStrictEqual(out.at, [0, 200])
        assert.strictEqual(statusError(out.result).attempts, 2)
      }))

    it.effect("merges nested records such as retryOn field by field", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([fail("ECONNRESET"), respond(404), ok()])
        const client = HttpRetry.withRetry(test.client, noJitter())
        const out = yield* observe(test, HttpRetry.withPolicy(client.get(url), { retryOn: { statuses: [404] } }))
        assert.strictEqual(out.attempts, 3, "transport failures still retried, 404 added by the override")
        success(out.result)
      }))

    it.effect("rejects a bad override where it is written", () =>
      Effect.sync(() => {
        try {
          HttpRetry.withPolicy(Effect.void, { maxAttempts: 0 })
          assert.fail("expected a RetryPolicyError")
        } catch (error) {
          assert.strictEqual((error as RetryPolicy.RetryPolicyError)._tag, "RetryPolicyError")
          assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "maxAttempts")
        }
      }))
  })

  describe("layer and request", () => {
    const layered = (policy: RetryPolicy.RetryPolicy, script: TestHttpClient.Script) =>
      HttpRetry.layer(policy).pipe(Layer.provideMerge(TestHttpClient.layer(script)))

    it.effect("HttpRetry.client: the layer's client, typed so catchTag(\"HttpStatusError\") compiles", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const fiber = yield* Effect.fork(
          client.get(url).pipe(
            Effect.as("answered"),
            Effect.catchTag("HttpStatusError", (e) => Effect.succeed(`${e.status} after ${e.attempts}: ${e.reason}`))
          )
        )
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Fiber.join(fiber), "503 after 2: AttemptsExhausted")
        // The layer's own policy: no second retry loop around it.
        assert.strictEqual((yield* test.requests).length, 2)
      }).pipe(Effect.provide(layered(noJitter({ maxAttempts: 2 }), times(10, respond(503))))))

    it.effect("HttpRetry.client over a plain client retries under the defaults", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const fiber = yield* Effect.fork(Effect.either(client.get(url)))
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(fiber)
        assert.strictEqual((yield* test.requests).length, 4)
      }).pipe(Effect.provide(TestHttpClient.layer(times(10, respond(503))))))

    it.effect("HttpRetry.layer decorates the client in context", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpClient.HttpClient
        const out = yield* observe(test, client.get(url))
        assert.strictEqual(out.attempts, 2)
        assert.deepStrictEqual(out.at, [0, 1000])
        assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
      }).pipe(Effect.provide(layered(noJitter({ maxAttempts: 2 }), times(10, respond(503))))))

    it.effect("HttpRetry.request with a plain client retries under the defaults", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const out = yield* observe(test, HttpRetry.request(HttpClientRequest.get(url)))
        assert.strictEqual(out.attempts, 4)
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        // Default jitter is full: each wait lies in [0, 1s], [0, 2s], [0, 4s].
        waits(out.at).forEach((wait, i) => {
          assert.isAtLeast(wait, 0)
          assert.isAtMost(wait, [1000, 2000, 4000][i])
        })
        assert.notDeepEqual(waits(out.at), [1000, 2000, 4000])
      }).pipe(Effect.provide(TestHttpClient.layer(times(10, respond(503)))), Effect.withRandom(Random.make(5))))

    it.effect("HttpRetry.request with a layered retrying client uses the layer's policy, without a second loop", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const out = yield* observe(test, HttpRetry.request(HttpClientRequest.get(url)))
        assert.strictEqual(out.attempts, 3)
        assert.deepStrictEqual(out.at, [0, 1000, 3000])
        assert.strictEqual(statusError(out.result).attempts, 3)
      }).pipe(Effect.provide(layered(noJitter({ maxAttempts: 3 }), times(20, respond(503))))))

    it.effect("HttpRetry.request options merge over the layer's policy", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const out = yield* observe(test, HttpRetry.request(HttpClientRequest.get(url), { maxAttempts: 2 }))
        assert.deepStrictEqual(out.at, [0, 250], "baseDelay and jitter from the layer")
      }).pipe(Effect.provide(layered(noJitter({ baseDelay: "250 millis" }), times(20, respond(503))))))

    it.effect("HttpRetry.request with a full policy replaces the layer's", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const out = yield* observe(
          test,
          HttpRetry.request(HttpClientRequest.get(url), noJitter({ maxAttempts: 2, baseDelay: "3 seconds" }))
        )
        assert.deepStrictEqual(out.at, [0, 3000])
      }).pipe(Effect.provide(layered(noJitter({ maxAttempts: 5 }), times(20, respond(503))))))

    it.effect("withRetry over a retrying client replaces its policy instead of nesting", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(20, respond(503)))
        const inner = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 4 }))
        const outer = inner.pipe(HttpRetry.withRetry(noJitter({ maxAttempts: 2 })))
        const out = yield* observe(test, outer.get(url))
        assert.strictEqual(out.attempts, 2)
      }))
  })

  describe("logging", () => {
    it.effect("is off by default", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(runScript([respond(503), fail("ECONNRESET"), respond(404)]))
        assert.strictEqual(out.attempts, 3)
        assert.deepStrictEqual(lines, [])
      }))

    it.effect("log: \"Debug\" writes one line per attempt at Debug, the last one giving up", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(
          runScript(
            [respond(503), respond(429, { headers: { "retry-after": "3" } }), fail("ECONNRESET"), respond(502)],
            noJitter({ log: "Debug" })
          )
        )
        assert.strictEqual(out.attempts, 4)
        assert.deepStrictEqual(lines, [
          { level: "DEBUG", message: `GET ${url}: attempt 1/4 -> HTTP 503; retrying in 1s (backoff)` },
          { level: "DEBUG", message: `GET ${url}: attempt 2/4 -> HTTP 429; retrying in 3s (Retry-After)` },
          {
            level: "DEBUG",
            message: `GET ${url}: attempt 3/4 -> ConnectionReset (ECONNRESET); retrying in 4s (backoff)`
          },
          { level: "DEBUG", message: `GET ${url}: attempt 4/4 -> HTTP 502; giving up: AttemptsExhausted` }
        ])
      }))

    it.effect("logs the successful attempt and a give-up for a status not retried", () =>
      Effect.gen(function*() {
        const [, success] = yield* captureLogs(runScript([respond(500), ok()], noJitter({ log: "Warning" })))
        assert.deepStrictEqual(success.map((l) => [l.level, l.message]), [
          ["WARN", `GET ${url}: attempt 1/4 -> HTTP 500; retrying in 1s (backoff)`],
          ["WARN", `GET ${url}: attempt 2/4 -> 200`]
        ])
        const [, giveUp] = yield* captureLogs(runScript([respond(404)], noJitter({ log: "Debug" })))
        assert.deepStrictEqual(giveUp.map((l) => l.message), [
          `GET ${url}: attempt 1/4 -> HTTP 404; giving up: NotRetryable`
        ])
      }))

    it.effect("log: true logs at Info", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(runScript([respond(503), ok()], noJitter({ log: true })))
        assert.deepStrictEqual(lines.map((l) => l.level), ["INFO", "INFO"])
      }))

    it.effect("query parameters and body appear only when asked", () =>
      Effect.gen(function*() {
        const request = requestWith("PUT", "http://api.test/x?page=2").pipe(HttpClientRequest.bodyText("payload-7"))
        const [, plain] = yield* captureLogs(runScript([respond(503), ok()], noJitter({ log: "Debug" }), request))
        assert.strictEqual(plain[0].message, "PUT http://api.test/x: attempt 1/4 -> HTTP 503; retrying in 1s (backoff)")
        const [, asked] = yield* captureLogs(
          runScript([respond(503), ok()], noJitter({ log: { level: "Debug", query: true, body: true } }), request)
        )
        assert.strictEqual(
          asked[0].message,
          "PUT http://api.test/x?page=2: attempt 1/4 -> HTTP 503; retrying in 1s (backoff) body=\"payload-7\""
        )
      }))

    it.effect("a timed-out attempt is logged as such", () =>
      Effect.gen(function*() {
        const [, lines] = yield* captureLogs(
          runScript([hang, ok()], noJitter({ log: "Debug", attemptTimeout: "2 seconds" }))
        )
        assert.strictEqual(lines[0].message, `GET ${url}: attempt 1/4 -> timed out; retrying in 1s (backoff)`)
      }))
  })

  describe("redaction", () => {
    const secrets = [
      "u-alice",
      "pw-hunter2",
      "tok-abc",
      "auth-s3cr3t",
      "cookie-s3cr3t",
      "apikey-s3cr3t",
      "tenant-s3cr3t",
      "session-s3cr3t"
    ]
    const secretRequest = HttpClientRequest.get("http://u-alice:pw-hunter2@api.test/x?token=tok-abc&page=2").pipe(
      HttpClientRequest.setUrlParam("session", "session-s3cr3t"),
      HttpClientRequest.setHeaders({
        Authorization: "Bearer auth-s3cr3t",
        Cookie: "sid=cookie-s3cr3t",
        "X-Api-Key": "apikey-s3cr3t",
        "X-Tenant-Secret": "tenant-s3cr3t",
        Accept: "application/json"
      })
    )
    const policy = noJitter({
      redact: { headers: ["x-tenant-secret"], query: ["session"] },
      log: { level: "Debug", query: true },
      attemptTimeout: "2 seconds"
    })

    const assertNoSecret = (text: string, where: string) => {
      for (const secret of secrets) assert.notInclude(text, secret, `${where} leaks ${secret}`)
    }

    const renderings = (error: unknown): Record<string, string> => ({
      message: (error as Error).message,
      "JSON.stringify": JSON.stringify(error),
      "util.inspect": util.inspect(error, { depth: 10 }),
      String: String(error)
    })

    it.effect("keeps secrets out of log lines, even with query logging", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(runScript(times(4, respond(503)), policy, secretRequest))
        assert.strictEqual(out.attempts, 4)
        assert.strictEqual(lines.length, 4)
        for (const line of lines) {
          assertNoSecret(line.message, "log line")
          assert.include(line.message, "api.test/x")
          assert.include(line.message, "page=2")
        }
        assert.include(lines[0].message, "token=<redacted>")
      }))

    it.effect("keeps secrets out of HttpStatusError message, JSON and inspection", () =>
      Effect.gen(function*() {
        for (const script of [times(4, respond(503)), [respond(400)]]) {
          const out = yield* runScript(script, policy, secretRequest)
          const error = statusError(out.result)
          for (const [where, text] of Object.entries(renderings(error))) {
            assertNoSecret(text, where)
            assert.include(text, "api.test/x", where)
            assert.include(text, "page=2", where)
          }
          assertNoSecret(error.url, "url")
          const json = JSON.parse(JSON.stringify(error))
          assert.strictEqual(json.requestHeaders.authorization, "<redacted>")
          assert.strictEqual(json.requestHeaders["x-tenant-secret"], "<redacted>")
          assert.strictEqual(json.requestHeaders.accept, "application/json")
          // The raw request stays available to code that asks for it.
          assert.strictEqual(error.request.headers.authorization, "Bearer auth-s3cr3t")
        }
      }))

    it.effect("keeps secrets out of a transport RequestError after withRetry", () =>
      Effect.gen(function*() {
        for (const script of [times(4, fail("ECONNRESET")), [fail("ENOTFOUND")]]) {
          const out = yield* runScript(script, policy, secretRequest)
          const error = requestError(failure(out.result))
          for (const [where, text] of Object.entries(renderings(error))) {
            assertNoSecret(text, where)
            assert.include(text, "api.test/x", where)
          }
          assert.strictEqual(error.reason, "Transport")
        }
      }))

    it.effect("keeps secrets out of a TimeoutException", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, hang), policy, secretRequest)
        const error = timeoutError(failure(out.result))
        for (const [where, text] of Object.entries(renderings(error))) assertNoSecret(text, where)
        assert.include(error.message, "api.test/x")
      }))

    it.effect("redactedHeaders and redactedUrl show what a policy hides", () =>
      Effect.sync(() => {
        assert.deepStrictEqual(HttpRetry.redactedHeaders(secretRequest.headers, policy), {
          authorization: "<redacted>",
          cookie: "<redacted>",
          "x-api-key": "<redacted>",
          "x-tenant-secret": "<redacted>",
          accept: "application/json"
        })
        assert.strictEqual(
          HttpRetry.redactedUrl(secretRequest, policy),
          "http://<redacted>@api.test/x?token=<redacted>&page=2&session=<redacted>"
        )
        // Without the caller's names only the built-in ones are hidden.
        assert.strictEqual(HttpRetry.redactedHeaders(secretRequest.headers)["x-tenant-secret"], "tenant-s3cr3t")
        assert.strictEqual(
          HttpRetry.redactedUrl(secretRequest),
          "http://<redacted>@api.test/x?token=<redacted>&page=2&session=session-s3cr3t"
        )
      }))
  })
})
