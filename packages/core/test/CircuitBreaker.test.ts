import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import type * as Tracer from "effect/Tracer"
import { captureLogs, failure, noJitter, requestError, statusError, success } from "./utils.js"

// Each test has its own origin: the metrics are process-wide, tagged by origin.
let hosts = 0
const freshOrigin = () => `http://breaker-${++hosts}.test`

const oneAttempt = noJitter({ maxAttempts: 1 })

/** A retrying client over a scripted one, under `breaker`, and the time the test started. */
const setup = (
  script: TestHttpClient.Script,
  options: CircuitBreaker.Options = {},
  policy: RetryPolicy.RetryPolicy = oneAttempt
) =>
  Effect.gen(function*() {
    const test = yield* TestHttpClient.make(script)
    const breaker = yield* CircuitBreaker.make(options)
    const client = HttpRetry.withRetry(test.client, policy, { breaker })
    const origin = freshOrigin()
    const start = yield* Clock.currentTimeMillis
    const sent = Effect.map(test.requests, (requests) => requests.length)
    const call = (path = "/items") => Effect.either(client.get(`${origin}${path}`))
    /** Lets forked calls run until the scripted client has received `n` requests. */
    const untilSent = (n: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < 1000 && (yield* sent) < n; i++) yield* Effect.yieldNow()
        assert.strictEqual(yield* sent, n)
      })
    return { breaker, call, client, origin, sent, start, test, untilSent }
  })

const openError = (result: Either.Either<unknown, unknown>): CircuitBreaker.CircuitOpenError => {
  const error = failure(result)
  if (!CircuitBreaker.isCircuitOpenError(error)) assert.fail(`expected a CircuitOpenError, got ${String(error)}`)
  return error
}

const stateOf = (origin: string) => Metric.value(Metric.tagged(CircuitBreaker.metrics.state, "origin", origin))
const rejectedOf = (origin: string) => Metric.value(Metric.tagged(CircuitBreaker.metrics.rejected, "origin", origin))
const transitionsOf = (origin: string, from: CircuitBreaker.State, to: CircuitBreaker.State) =>
  Metric.value(
    CircuitBreaker.metrics.transitions.pipe(
      Metric.tagged("origin", origin),
      Metric.tagged("from", from),
      Metric.tagged("to", to)
    )
  )

const repeat = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>) =>
  Effect.forEach(Array.from({ length: n }), () => effect)

describe("CircuitBreaker", () => {
  describe("closed -> open", () => {
    it.effect("its metrics carry the fiber's own metric labels (Effect.tagMetrics) after the origin", () =>
      Effect.gen(function*() {
        const { call, origin } = yield* setup(() => TestHttpClient.respond(503))
        const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
          metric.pipe(Metric.tagged("origin", origin), Metric.tagged("service", "checkout"))
        for (let i = 0; i < 6; i++) {
          yield* TestClock.adjust("100 millis")
          yield* call().pipe(Effect.tagMetrics("service", "checkout"))
        }
        assert.strictEqual((yield* Metric.value(labelled(CircuitBreaker.metrics.state))).value, 2)
        assert.strictEqual((yield* Metric.value(labelled(CircuitBreaker.metrics.rejected))).count, 1)
        const opened = CircuitBreaker.metrics.transitions.pipe(
          Metric.tagged("origin", origin),
          Metric.tagged("from", "Closed"),
          Metric.tagged("to", "Open"),
          Metric.tagged("service", "checkout")
        )
        assert.strictEqual((yield* Metric.value(opened)).count, 1)
        assert.strictEqual((yield* rejectedOf(origin)).count, 0)
      }))

    it.effect("after consecutiveFailures failures in a row; then calls fail at once and send nothing", () =>
      Effect.gen(function*() {
        const { call, origin, sent, start } = yield* setup(() => TestHttpClient.respond(503))
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust("100 millis")
          assert.strictEqual(statusError(yield* call()).reason, "AttemptsExhausted")
        }
        assert.strictEqual(yield* sent, 5)
        yield* TestClock.adjust("1500 millis")
        const error = openError(yield* call())
        assert.strictEqual(yield* sent, 5)
        assert.deepStrictEqual(
          {
            origin: error.origin,
            method: error.method,
            url: error.url,
            state: error.state,
            openedAt: error.openedAt - start,
            openUntil: error.openUntil - start,
            retryIn: Duration.toMillis(error.retryIn),
            openedBy: error.openedBy
          },
          {
            origin,
            method: "GET",
            url: `${origin}/items`,
            state: "Open",
            openedAt: 500,
            openUntil: 5500,
            retryIn: 3500,
            openedBy: { _tag: "Status", status: 503 }
          }
        )
        assert.strictEqual(error._tag, "CircuitOpenError")
        assert.strictEqual(
          error.message,
          `Circuit open for ${origin} (opened by HTTP 503; probe in 3.5s): GET ${origin}/items not sent`
        )
      }))

    it.effect("a success resets the count of failures in a row", () =>
      Effect.gen(function*() {
        const script = [...Array(4).fill(503), 200, ...Array(4).fill(503), 200]
        const { call, sent } = yield* setup((_, i) => TestHttpClient.respond(script[i - 1]), { failureRatio: false })
        yield* repeat(10, call())
        assert.strictEqual(yield* sent, 10)
      }))

    it.effect("by failureRatio over the window, once minimumCalls were made in it", () =>
      Effect.gen(function*() {
        const script = [200, 503, 200, 503]
        const { call, sent } = yield* setup(
          (_, i) => TestHttpClient.respond(script[i - 1] ?? 200),
          { consecutiveFailures: false, failureRatio: 0.5, minimumCalls: 4 }
        )
        // 200, 503, 200: 1 of 3, under minimumCalls; the fourth makes 2 of 4 = 0.5: open.
        yield* repeat(4, call())
        assert.strictEqual(yield* sent, 4)
        openError(yield* call())
        assert.strictEqual(yield* sent, 4)
      }))

    it.effect("the window slides in tenths of itself: a failure 9 tenths old counts, one 10 tenths old does not", () =>
      Effect.gen(function*() {
        const options: CircuitBreaker.Options = {
          consecutiveFailures: false,
          failureRatio: 1,
          minimumCalls: 3,
          window: "10 seconds"
        }
        const counted = yield* setup(() => TestHttpClient.respond(503), options)
        yield* repeat(2, counted.call())
        yield* TestClock.adjust("9 seconds")
        yield* counted.call()
        openError(yield* counted.call())
        assert.strictEqual(yield* counted.sent, 3)

        const dropped = yield* setup(() => TestHttpClient.respond(503), options)
        yield* repeat(2, dropped.call())
        yield* TestClock.adjust("10 seconds")
        yield* dropped.call()
        statusError(yield* dropped.call())
        assert.strictEqual(yield* dropped.sent, 4)
      }))

    it.effect("a status the policy does not retry (404) counts as neither failure nor success", () =>
      Effect.gen(function*() {
        const script = [503, 503, 404, 404, 404, 503]
        const { breaker, call, origin, sent } = yield* setup(
          (_, i) => TestHttpClient.respond(script[i - 1]),
          { consecutiveFailures: 3 }
        )
        yield* repeat(5, call())
        assert.deepStrictEqual(breaker.status(origin, yield* Clock.currentTimeMillis), { _tag: "Closed" })
        // Two failures, three neither: the sixth call's failure is the third in a row.
        yield* call()
        assert.strictEqual(breaker.status(origin, yield* Clock.currentTimeMillis)._tag, "Open")
        assert.strictEqual(yield* sent, 6)
      }))

    it.effect("transport failures that can heal and attempt timeouts count; a DNS not-found does not", () =>
      Effect.gen(function*() {
        const refused = yield* setup(() => TestHttpClient.fail("ECONNREFUSED"), { consecutiveFailures: 2 })
        yield* repeat(2, refused.call())
        const error = openError(yield* refused.call())
        assert.deepStrictEqual(error.openedBy, { _tag: "Transport", kind: "ConnectionRefused" })
        assert.strictEqual(
          error.message,
          `Circuit open for ${refused.origin} (opened by ConnectionRefused; probe in 5s): GET ${refused.origin}/items not sent`
        )

        const hung = yield* setup(
          () => TestHttpClient.hang,
          { consecutiveFailures: 2 },
          noJitter({ maxAttempts: 1, attemptTimeout: "1 second" })
        )
        for (let i = 0; i < 2; i++) {
          const fiber = yield* Effect.fork(hung.call())
          yield* TestClock.adjust("1 second")
          yield* Fiber.join(fiber)
        }
        assert.deepStrictEqual(openError(yield* hung.call()).openedBy, { _tag: "Timeout" })

        const dns = yield* setup(() => TestHttpClient.fail("ENOTFOUND"), { consecutiveFailures: 2 })
        yield* repeat(3, dns.call())
        requestError(failure(yield* dns.call()))
        assert.strictEqual(yield* dns.sent, 4)
      }))

    it.effect("failures follow the policy's retryOn: without 503 in it, 503s never open the breaker", () =>
      Effect.gen(function*() {
        const { call, sent } = yield* setup(
          () => TestHttpClient.respond(503),
          { consecutiveFailures: 2 },
          noJitter({ maxAttempts: 1, retryOn: { statuses: [500] } })
        )
        yield* repeat(4, call())
        assert.strictEqual(yield* sent, 4)
      }))

    it.effect("each origin has its own breaker", () =>
      Effect.gen(function*() {
        const { call, client, sent } = yield* setup(() => TestHttpClient.respond(503), { consecutiveFailures: 2 })
        yield* repeat(2, call())
        openError(yield* call())
        const other = freshOrigin()
        statusError(yield* Effect.either(client.get(`${other}/items`)))
        assert.strictEqual(yield* sent, 3)
      }))
  })

  describe("open -> half-open -> closed or open", () => {
    const opened = (options: CircuitBreaker.Options = {}, probe: TestHttpClient.Step = TestHttpClient.ok()) =>
      Effect.gen(function*() {
        const s = yield* setup((_, i) => i <= 2 ? TestHttpClient.respond(503) : probe, {
          consecutiveFailures: 2,
          ...options
        })
        yield* repeat(2, s.call())
        return s
      })

    it.effect("a probe goes at exactly openFor, not a millisecond before", () =>
      Effect.gen(function*() {
        const { call, sent } = yield* opened()
        yield* TestClock.adjust("4999 millis")
        const error = openError(yield* call())
        assert.strictEqual(Duration.toMillis(error.retryIn), 1)
        assert.strictEqual(yield* sent, 2)
        yield* TestClock.adjust("1 millis")
        success(yield* call())
        assert.strictEqual(yield* sent, 3)
      }))

    it.effect("the probe's success closes it: every call goes again", () =>
      Effect.gen(function*() {
        const { breaker, call, origin, sent } = yield* opened()
        yield* TestClock.adjust("5 seconds")
        success(yield* call())
        assert.deepStrictEqual(breaker.status(origin, yield* Clock.currentTimeMillis), { _tag: "Closed" })
        yield* repeat(3, call())
        assert.strictEqual(yield* sent, 6)
        assert.strictEqual((yield* stateOf(origin)).value, 0)
      }))

    it.effect("the probe's failure opens it again for openFor from the failure", () =>
      Effect.gen(function*() {
        const { call, origin, sent, start } = yield* opened(
          {},
          TestHttpClient.delayed("300 millis", TestHttpClient.respond(502))
        )
        yield* TestClock.adjust("5 seconds")
        const probe = yield* Effect.fork(call())
        yield* TestClock.adjust("300 millis")
        statusError(yield* Fiber.join(probe))
        const error = openError(yield* call())
        assert.deepStrictEqual(
          [error.openedAt - start, error.openUntil - start, error.openedBy],
          [5300, 10300, { _tag: "Status", status: 502 }]
        )
        assert.strictEqual(yield* sent, 3)
        assert.strictEqual((yield* stateOf(origin)).value, 2)
      }))

    it.effect("at most halfOpenProbes probes in flight; the others are rejected as half-open", () =>
      Effect.gen(function*() {
        const { call, origin, sent, untilSent } = yield* opened(
          { halfOpenProbes: 2 },
          TestHttpClient.delayed("1 second", TestHttpClient.ok())
        )
        yield* TestClock.adjust("5 seconds")
        const probes = yield* Effect.forkAll([call(), call()])
        yield* untilSent(4)
        const error = openError(yield* call())
        assert.strictEqual(error.state, "HalfOpen")
        assert.strictEqual(Duration.toMillis(error.retryIn), 0)
        assert.strictEqual(
          error.message,
          `Circuit open for ${origin} (opened by HTTP 503; half-open, probe in flight): GET ${origin}/items not sent`
        )
        assert.strictEqual(yield* sent, 4)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(probes)
        // Closed by the probes: the next call goes as any other.
        const next = yield* Effect.fork(call())
        yield* TestClock.adjust("1 second")
        success(yield* Fiber.join(next))
        assert.strictEqual(yield* sent, 5)
      }))

    it.effect("an interrupted probe gives its place back", () =>
      Effect.gen(function*() {
        const { call, test, untilSent } = yield* opened({}, TestHttpClient.hang)
        yield* TestClock.adjust("5 seconds")
        const probe = yield* Effect.fork(call())
        yield* untilSent(3)
        assert.strictEqual(openError(yield* call()).state, "HalfOpen")
        yield* Fiber.interrupt(probe)
        // The place is free: the next call is a probe, and goes.
        const next = yield* Effect.fork(call())
        yield* untilSent(4)
        yield* Fiber.interrupt(next)
        assert.strictEqual((yield* test.requests).length, 4)
      }))

    it.effect("a probe of an earlier half-open round neither frees a place nor decides anything in the next", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, halfOpenProbes: 2, openFor: "5 seconds" })
        const origin = freshOrigin()
        const failed: CircuitBreaker.Outcome = {
          _tag: "Failure",
          failure: { _tag: "Status", status: 503 },
          retryAfterMillis: undefined
        }
        const pass = breaker.admit(origin, 0)
        assert.strictEqual(breaker.record(origin, pass, failed, 0)?.to, "Open")
        // Round 1: A and B probe; A fails and opens it again.
        const a = breaker.admit(origin, 5_000)
        const b = breaker.admit(origin, 5_000)
        assert.deepStrictEqual([a._tag, b._tag], ["Probe", "Probe"])
        assert.strictEqual(breaker.record(origin, a, failed, 5_000)?.to, "Open")
        // Round 2: C probes. B, from round 1, is interrupted: its place was in round 1, so round 2 has one left.
        const c = breaker.admit(origin, 10_000)
        assert.strictEqual(c._tag, "Probe")
        breaker.release(origin, b)
        assert.deepStrictEqual(
          [breaker.admit(origin, 10_000)._tag, breaker.admit(origin, 10_000)._tag],
          ["Probe", "Reject"]
        )
        // And B's late success does not close round 2: only its own probes decide.
        assert.strictEqual(breaker.record(origin, b, { _tag: "Success" }, 10_000), undefined)
        assert.strictEqual(breaker.status(origin, 10_000)._tag, "HalfOpen")
        assert.strictEqual(breaker.record(origin, c, { _tag: "Success" }, 10_000)?.to, "Closed")
      }))

    it.effect("a probe answered 404 decides nothing and gives its place back", () =>
      Effect.gen(function*() {
        const { breaker, call, origin, sent } = yield* opened({}, TestHttpClient.respond(404))
        yield* TestClock.adjust("5 seconds")
        statusError(yield* call())
        const now = yield* Clock.currentTimeMillis
        assert.deepStrictEqual(breaker.status(origin, now)._tag, "HalfOpen")
        statusError(yield* call())
        assert.strictEqual(yield* sent, 4)
      }))
  })

  describe("Retry-After", () => {
    it.effect("on the 503 that opens it keeps it open that long", () =>
      Effect.gen(function*() {
        const { call, start } = yield* setup(
          (_, i) => TestHttpClient.respond(503, i === 2 ? { headers: { "retry-after": "30" } } : {}),
          { consecutiveFailures: 2 }
        )
        yield* repeat(2, call())
        const error = openError(yield* call())
        assert.strictEqual(error.openUntil - start, 30_000)
        yield* TestClock.adjust("29999 millis")
        openError(yield* call())
        yield* TestClock.adjust("1 millis")
        statusError(yield* call())
      }))

    it.effect("capped at the policy's maxRetryAfter; a 429 too; not when the policy ignores Retry-After", () =>
      Effect.gen(function*() {
        const capped = yield* setup(
          () => TestHttpClient.respond(429, { headers: { "retry-after": "120" } }),
          { consecutiveFailures: 1 },
          noJitter({ maxAttempts: 1, maxRetryAfter: "40 seconds" })
        )
        yield* capped.call()
        assert.strictEqual(openError(yield* capped.call()).openUntil - capped.start, 40_000)

        const ignored = yield* setup(
          () => TestHttpClient.respond(429, { headers: { "retry-after": "120" } }),
          { consecutiveFailures: 1 },
          noJitter({ maxAttempts: 1, retryAfter: false })
        )
        yield* ignored.call()
        assert.strictEqual(openError(yield* ignored.call()).openUntil - ignored.start, 5_000)
      }))

    it.effect("a call sent before it opened, failing later with a Retry-After, extends the open time", () =>
      Effect.gen(function*() {
        const { call, start, untilSent } = yield* setup(
          (_, i) =>
            i === 1 ?
              TestHttpClient.delayed("1 second", TestHttpClient.respond(503, { headers: { "retry-after": "20" } })) :
              TestHttpClient.respond(503),
          { consecutiveFailures: 2 }
        )
        const slow = yield* Effect.fork(call())
        yield* untilSent(1)
        yield* repeat(2, call())
        assert.strictEqual(openError(yield* call()).openUntil - start, 5_000)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(slow)
        assert.strictEqual(openError(yield* call()).openUntil - start, 21_000)
      }))
  })

  describe("in the retry loop", () => {
    it.effect("a retry the breaker would refuse is not made: the call ends at once with its last failure", () =>
      Effect.gen(function*() {
        const { call, origin, sent, start } = yield* setup(
          () => TestHttpClient.respond(503),
          { consecutiveFailures: 2 },
          noJitter({ baseDelay: "1 second" })
        )
        const fiber = yield* Effect.fork(
          captureLogs(call().pipe(Effect.zip(Clock.currentTimeMillis), HttpRetry.withPolicy({ log: "Info" })))
        )
        yield* TestClock.adjust("1 second")
        const [[either, end], logs] = yield* Fiber.join(fiber)
        const error = statusError(either)
        assert.deepStrictEqual([error.status, error.attempts, error.reason, end - start], [503, 2, "CircuitOpen", 1000])
        assert.strictEqual(error.message, `HTTP 503 for GET ${origin}/items after 2 attempts (circuit open)`)
        assert.strictEqual(yield* sent, 2)
        assert.deepStrictEqual(logs.map((l) => l.message), [
          `GET ${origin}/items: attempt 1/4 -> HTTP 503; retrying in 1s (backoff)`,
          `GET ${origin}/items: attempt 2/4 -> HTTP 503; giving up: CircuitOpen`
        ])
        assert.strictEqual((yield* rejectedOf(origin)).count, 1)
      }))

    it.effect("a retry whose breaker opened during its wait is not sent: the call ends with its last failure", () =>
      Effect.gen(function*() {
        const { client, origin, sent, start, untilSent } = yield* setup(
          () => TestHttpClient.respond(503),
          { consecutiveFailures: 2 },
          noJitter({ baseDelay: "1 second" })
        )
        const timed = (path: string) =>
          Effect.either(client.get(`${origin}${path}`)).pipe(Effect.zip(Clock.currentTimeMillis))
        // The first to fail waits 1 s; the second failure in a row opens the breaker, and its own retry is refused
        // at once; the first one's retry, due at 1 s, is not sent either.
        const calls = yield* Effect.forkAll([timed("/a"), timed("/b")])
        yield* untilSent(2)
        yield* TestClock.adjust("1 second")
        const ended = (yield* Fiber.join(calls)).map(([result, end]) => {
          const error = statusError(result)
          return [end - start, error.attempts, error.reason]
        }).sort((x, y) => (x[0] as number) - (y[0] as number))
        assert.deepStrictEqual(ended, [[0, 1, "CircuitOpen"], [1000, 1, "CircuitOpen"]])
        assert.strictEqual(yield* sent, 2)
        assert.strictEqual((yield* rejectedOf(origin)).count, 2)
      }))

    it.effect("a transport failure refused a retry ends as the RequestError it was", () =>
      Effect.gen(function*() {
        const { call, sent } = yield* setup(
          () => TestHttpClient.fail("ECONNRESET"),
          { consecutiveFailures: 1 },
          noJitter({ baseDelay: "1 second" })
        )
        const error = requestError(failure(yield* call()))
        assert.strictEqual(error.reason, "Transport")
        assert.strictEqual(yield* sent, 1)
      }))

    it.effect("a retry that falls after openFor waits and goes as the probe", () =>
      Effect.gen(function*() {
        const { call, sent, start } = yield* setup(
          (_, i) => i === 1 ? TestHttpClient.respond(503, { headers: { "retry-after": "6" } }) : TestHttpClient.ok(),
          { consecutiveFailures: 1 },
          noJitter({ baseDelay: "1 second" })
        )
        // Opened by the first 503 until 5 s; Retry-After 6 s says wait 6 s: the retry is the probe, and closes it.
        const fiber = yield* Effect.fork(call().pipe(Effect.zip(Clock.currentTimeMillis)))
        yield* TestClock.adjust("6 seconds")
        const [result, end] = yield* Fiber.join(fiber)
        success(result)
        assert.strictEqual(end - start, 6000)
        assert.strictEqual(yield* sent, 2)
      }))

    it.effect("a rejected first attempt is logged with the policy's logging", () =>
      Effect.gen(function*() {
        const { call, origin } = yield* setup(() => TestHttpClient.respond(503), { consecutiveFailures: 1 })
        yield* call()
        const [, logs] = yield* captureLogs(call().pipe(HttpRetry.withPolicy({ log: "Warning" })))
        assert.deepStrictEqual(logs, [{
          level: "WARN",
          message: `GET ${origin}/items: not sent, circuit open for ${origin} (opened by HTTP 503; probe in 5s)`
        }])
      }))

    it.effect("a URL's secrets stay out of the error", () =>
      Effect.gen(function*() {
        const { client, origin } = yield* setup(() => TestHttpClient.respond(503), { consecutiveFailures: 1 })
        const secretUrl = origin.replace("http://", "http://user:hunter2@") + "/items?token=s3cret&page=2"
        yield* Effect.either(client.get(secretUrl))
        const error = openError(yield* Effect.either(client.get(secretUrl)))
        assert.strictEqual(error.origin, origin)
        assert.strictEqual(
          error.url,
          `${origin.replace("http://", "http://<redacted>@")}/items?token=<redacted>&page=2`
        )
        for (const text of [error.message, JSON.stringify(error), String(error)]) {
          assert.notInclude(text, "hunter2")
          assert.notInclude(text, "s3cret")
        }
      }))
  })

  describe("metrics and span events", () => {
    it.effect("state gauge (0 closed, 1 half-open, 2 open), transitions by from and to, rejected calls", () =>
      Effect.gen(function*() {
        const { call, origin, untilSent } = yield* setup(
          (_, i) =>
            i === 3
              ? TestHttpClient.delayed("1 second", TestHttpClient.respond(500))
              : TestHttpClient.respond(i <= 2 ? 503 : 200),
          { consecutiveFailures: 2 }
        )
        assert.strictEqual((yield* stateOf(origin)).value, 0)
        yield* repeat(2, call())
        assert.strictEqual((yield* stateOf(origin)).value, 2)
        yield* repeat(3, call())
        assert.strictEqual((yield* rejectedOf(origin)).count, 3)
        yield* TestClock.adjust("5 seconds")
        const probe = yield* Effect.fork(call())
        yield* untilSent(3)
        assert.strictEqual((yield* stateOf(origin)).value, 1)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(probe)
        assert.strictEqual((yield* stateOf(origin)).value, 2)
        yield* TestClock.adjust("5 seconds")
        success(yield* call())
        assert.strictEqual((yield* stateOf(origin)).value, 0)
        const counts = yield* Effect.all([
          transitionsOf(origin, "Closed", "Open"),
          transitionsOf(origin, "Open", "HalfOpen"),
          transitionsOf(origin, "HalfOpen", "Open"),
          transitionsOf(origin, "HalfOpen", "Closed")
        ])
        assert.deepStrictEqual(counts.map((c) => c.count), [1, 2, 1, 1])
        assert.strictEqual((yield* rejectedOf(origin)).count, 3)
      }))

    it.effect("a span event on each transition and on a rejected call, on the caller's span", () =>
      Effect.gen(function*() {
        const { call, origin } = yield* setup(() => TestHttpClient.respond(503), { consecutiveFailures: 1 })
        const span = yield* Effect.makeSpan("caller")
        yield* call().pipe(Effect.withParentSpan(span))
        yield* call().pipe(Effect.withParentSpan(span))
        const events = (span as Tracer.Span & { events: Array<[string, bigint, Record<string, unknown>]> }).events
        assert.deepStrictEqual(events.map(([name, , attributes]) => [name, attributes]), [
          ["http_retry.breaker.transition", {
            "http_retry.breaker.origin": origin,
            "http_retry.breaker.from": "Closed",
            "http_retry.breaker.to": "Open",
            "http_retry.breaker.opened_by": "HTTP 503",
            "http_retry.breaker.open_until_ms": 5000 + (yield* Clock.currentTimeMillis)
          }],
          ["http_retry.breaker.rejected", {
            "http_retry.breaker.origin": origin,
            "http_retry.breaker.state": "Open",
            "http_retry.attempt": 1
          }]
        ])
      }))
  })

  describe("many origins", () => {
    const FAILED: CircuitBreaker.Outcome = {
      _tag: "Failure",
      failure: { _tag: "Status", status: 503 },
      retryAfterMillis: undefined
    }
    const fail = (breaker: CircuitBreaker.Service, origin: string, now: number) =>
      breaker.record(origin, breaker.admit(origin, now), FAILED, now)

    it.effect("quiet origins are let go when new ones come: closed ones, and open ones whose open time has ended", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          consecutiveFailures: 1,
          openFor: "5 seconds",
          window: "10 seconds"
        })
        assert.strictEqual(fail(breaker, "http://ended.test", 0)?.to, "Open")
        // Still open at the sweep (opened later, open for 5 s from 59 s): kept.
        assert.strictEqual(fail(breaker, "http://still-open.test", 59_000)?.to, "Open")
        // Half-open, its probe out: kept.
        assert.strictEqual(fail(breaker, "http://probing.test", 0)?.to, "Open")
        assert.strictEqual(breaker.admit("http://probing.test", 6_000)._tag, "Probe")
        for (let i = 0; i < 1100; i++) fail(breaker, `http://new-${i}.test`, 60_000)
        // Forgotten: a call to it goes as to a new origin (closed), not as a half-open probe.
        assert.strictEqual(breaker.status("http://ended.test", 60_000)._tag, "Closed")
        assert.strictEqual(breaker.status("http://still-open.test", 60_000)._tag, "Open")
        assert.strictEqual(breaker.status("http://probing.test", 60_000)._tag, "HalfOpen")
      }))
  })

  describe("layers", () => {
    const request = (origin: string) => HttpClientRequest.get(`${origin}/items`)

    it.effect("HttpRetry.layer with breaker: true makes its own breaker, shared by every call through it", () =>
      Effect.gen(function*() {
        const origin = freshOrigin()
        const program = Effect.gen(function*() {
          const client = yield* HttpRetry.client
          const results = yield* repeat(6, Effect.either(client.execute(request(origin))))
          const test = yield* TestHttpClient.TestHttpClient
          return { results, sent: (yield* test.requests).length }
        })
        const { results, sent } = yield* program.pipe(
          Effect.provide(
            HttpRetry.layer(oneAttempt, { breaker: true }).pipe(
              Layer.provideMerge(TestHttpClient.layer(() => TestHttpClient.respond(503)))
            )
          )
        )
        assert.strictEqual(sent, 5)
        openError(results[5])
      }))

    it.effect("the CircuitBreaker in context wins over the layer's options, and is shared between layers", () =>
      Effect.gen(function*() {
        const origin = freshOrigin()
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
        const scripted = TestHttpClient.layer(() => TestHttpClient.respond(503))
        const layerA = HttpRetry.layer(oneAttempt, { breaker: { consecutiveFailures: 100 } }).pipe(
          Layer.provide(scripted)
        )
        const layerB = HttpRetry.layer(oneAttempt, { breaker: true }).pipe(Layer.provide(scripted))
        const send = (layer: Layer.Layer<HttpClient.HttpClient>) =>
          Effect.either(HttpRetry.request(request(origin))).pipe(
            Effect.provide(layer),
            Effect.provideService(CircuitBreaker.CircuitBreaker, breaker)
          )
        statusError(yield* send(layerA))
        statusError(yield* send(layerB))
        openError(yield* send(layerA))
        assert.strictEqual(breaker.status(origin, yield* Clock.currentTimeMillis)._tag, "Open")
      }))

    it.effect("CircuitBreaker.layer provides a breaker kept in this process", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.CircuitBreaker.pipe(
          Effect.provide(CircuitBreaker.layer({ openFor: "2 seconds" }))
        )
        assert.strictEqual(Duration.toMillis(breaker.settings.openFor), 2000)
        assert.deepStrictEqual(breaker.status("http://x.test", 0), { _tag: "Closed" })
      }))

    it.effect("the breaker belongs to the client: HttpRetry.request with a policy of its own still goes through it", () =>
      Effect.gen(function*() {
        const origin = freshOrigin()
        const program = Effect.gen(function*() {
          const own = RetryPolicy.make({ maxAttempts: 1 })
          const results = yield* repeat(6, Effect.either(HttpRetry.request(request(origin), own)))
          const test = yield* TestHttpClient.TestHttpClient
          return { results, sent: (yield* test.requests).length }
        })
        const { results, sent } = yield* program.pipe(
          Effect.provide(
            HttpRetry.layer(oneAttempt, { breaker: true }).pipe(
              Layer.provideMerge(TestHttpClient.layer(() => TestHttpClient.respond(503)))
            )
          )
        )
        assert.strictEqual(sent, 5)
        openError(results[5])
      }))

    it("a layer with a bad breaker option throws where it is written", () => {
      assert.throws(
        () => HttpRetry.layer(undefined, { breaker: { openFor: "soon" as "1s" } }),
        /breaker\.openFor = "soon"/
      )
    })
  })

  describe("options", () => {
    it("defaults: 5 in a row, or half of at least 20 calls in 10 s; open 5 s; 1 probe", () => {
      const s = CircuitBreaker.settings()
      assert.deepStrictEqual(
        [
          s.consecutiveFailures,
          s.failureRatio,
          Duration.toMillis(s.window),
          s.minimumCalls,
          Duration.toMillis(s.openFor),
          s.halfOpenProbes
        ],
        [5, 0.5, 10_000, 20, 5_000, 1]
      )
    })

    const invalid: ReadonlyArray<[CircuitBreaker.Options, string, unknown]> = [
      [{ openFor: -1 }, "breaker.openFor", -1],
      [{ openFor: 0 }, "breaker.openFor", 0],
      [{ window: "forever" as "1s" }, "breaker.window", "forever"],
      [{ consecutiveFailures: 0 }, "breaker.consecutiveFailures", 0],
      [{ consecutiveFailures: 2.5 }, "breaker.consecutiveFailures", 2.5],
      [{ failureRatio: 0 }, "breaker.failureRatio", 0],
      [{ failureRatio: 1.5 }, "breaker.failureRatio", 1.5],
      [{ minimumCalls: 0 }, "breaker.minimumCalls", 0],
      [{ halfOpenProbes: -1 }, "breaker.halfOpenProbes", -1],
      [{ consecutiveFailures: false, failureRatio: false }, "breaker.consecutiveFailures", false],
      [{ probes: 2 } as CircuitBreaker.Options, "breaker.probes", 2]
    ]
    for (const [options, field, value] of invalid) {
      it(`rejects ${JSON.stringify(options)}, naming ${field}`, () => {
        const result = CircuitBreaker.validate(options)
        if (Either.isRight(result)) assert.fail("expected a RetryPolicyError")
        assert.instanceOf(result.left, RetryPolicy.RetryPolicyError)
        assert.strictEqual(result.left.field, field)
        assert.deepStrictEqual(result.left.value, value)
        assert.include(result.left.message, field)
        assert.throws(() => CircuitBreaker.make(options), RetryPolicy.RetryPolicyError)
      })
    }

    it("either rule may be turned off", () => {
      assert.strictEqual(CircuitBreaker.settings({ consecutiveFailures: false }).consecutiveFailures, false)
      assert.strictEqual(CircuitBreaker.settings({ failureRatio: false }).failureRatio, false)
    })
  })

  describe("config", () => {
    const read = (env: Record<string, string>) =>
      Effect.either(
        Effect.withConfigProvider(CircuitBreaker.config(), ConfigProvider.fromMap(new Map(Object.entries(env))))
      )

    it.effect("off unless set; HTTP_RETRY_BREAKER=true is the defaults; tuning variables turn it on", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* read({}), Either.right(false))
        assert.deepStrictEqual(yield* read({ HTTP_RETRY_BREAKER: "true" }), Either.right({}))
        assert.deepStrictEqual(
          yield* read({ HTTP_RETRY_BREAKER: "false", HTTP_RETRY_BREAKER_OPEN_FOR: "2s" }),
          Either.right(false)
        )
        const options = success(
          yield* read({
            HTTP_RETRY_BREAKER_CONSECUTIVE_FAILURES: "off",
            HTTP_RETRY_BREAKER_FAILURE_RATIO: "0.25",
            HTTP_RETRY_BREAKER_WINDOW: "30s",
            HTTP_RETRY_BREAKER_MINIMUM_CALLS: "50",
            HTTP_RETRY_BREAKER_OPEN_FOR: "2s",
            HTTP_RETRY_BREAKER_HALF_OPEN_PROBES: "3"
          })
        ) as CircuitBreaker.Options
        const s = CircuitBreaker.settings(options)
        assert.deepStrictEqual(
          [
            s.consecutiveFailures,
            s.failureRatio,
            Duration.toMillis(s.window),
            s.minimumCalls,
            Duration.toMillis(s.openFor),
            s.halfOpenProbes
          ],
          [false, 0.25, 30_000, 50, 2_000, 3]
        )
      }))

    it.effect("a bad value names the variable", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<[Record<string, string>, string]> = [
          [{ HTTP_RETRY_BREAKER_OPEN_FOR: "5" }, "HTTP_RETRY_BREAKER_OPEN_FOR=\"5\": a duration needs a unit"],
          [
            { HTTP_RETRY_BREAKER_FAILURE_RATIO: "2" },
            "HTTP_RETRY_BREAKER_FAILURE_RATIO=\"2\": Invalid retry policy: breaker.failureRatio = 2"
          ],
          [
            { HTTP_RETRY_BREAKER_HALF_OPEN_PROBES: "0" },
            "HTTP_RETRY_BREAKER_HALF_OPEN_PROBES=\"0\": Invalid retry policy: breaker.halfOpenProbes = 0"
          ],
          [{ HTTP_RETRY_BREAKER: "maybe" }, "HTTP_RETRY_BREAKER=\"maybe\": expected true or false"]
        ]
        for (const [env, expected] of cases) {
          const result = yield* read(env)
          if (Either.isRight(result)) assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`)
          assert.include(String(result.left), expected)
        }
      }))
  })

  it("originOf: scheme, host and port as URL.origin, no userinfo", () => {
    const origin = (url: string) => CircuitBreaker.originOf(HttpClientRequest.get(url))
    assert.strictEqual(origin("https://user:pw@API.example.test:443/x?token=1"), "https://api.example.test")
    assert.strictEqual(origin("http://api.example.test:8080"), "http://api.example.test:8080")
    assert.strictEqual(origin("http://api.example.test:80/a"), "http://api.example.test")
    assert.strictEqual(origin("http://[::1]:3000/a"), "http://[::1]:3000")
  })
})
