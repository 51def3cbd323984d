import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import type { RetryPolicy } from "@http-retry/core"
import { Hedging, HttpRetry, RetryBudget, TestHttpClient } from "@http-retry/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import * as Hedge from "../src/internal/hedge.js"
import { captureLogs, failure, noJitter, observe, type Outcome, statusError, success, timeoutError } from "./utils.js"

const { delayed, fail, hang, ok, respond } = TestHttpClient

let origins = 0
/** A fresh origin per test, so the metrics (tagged by origin) count that test's hedges only. */
const freshUrl = () => `http://hedge-${++origins}.test/items`

/** The fiber's tracer, keeping every span it starts. */
const recording = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { spans, tracer }
})

const counter = (metric: Metric.Metric.Counter<number>, origin: string, budget?: string) =>
  Effect.map(
    Metric.value(
      budget === undefined ?
        Metric.tagged(metric, "origin", origin) :
        Metric.tagged(Metric.tagged(metric, "origin", origin), "budget", budget)
    ),
    (state) => state.count
  )

interface Hedged extends Outcome {
  /** When each interrupted attempt was interrupted, relative to the start, with its attempt's arrival index. */
  readonly interrupted: ReadonlyArray<{ readonly index: number; readonly at: number }>
  readonly url: string
}

/**
 * One request through `withRetry(policy)` and `withHedging(options)` over a
 * scripted client that notes which attempts were interrupted.
 */
const runHedged = (
  script: TestHttpClient.Script,
  options: Hedging.Options,
  policy: RetryPolicy.RetryPolicy = noJitter(),
  method = "GET",
  headers: Record<string, string> = {}
): Effect.Effect<Hedged> =>
  Effect.gen(function*() {
    const url = freshUrl()
    const test = yield* TestHttpClient.make(script)
    const interrupted: Array<{ index: number; at: number }> = []
    const start = yield* Clock.currentTimeMillis
    let index = 0
    const noting = HttpClient.make((request) => {
      const mine = ++index
      return Effect.onInterrupt(
        test.client.execute(request),
        () => Effect.map(Clock.currentTimeMillis, (now) => void interrupted.push({ index: mine, at: now - start }))
      )
    })
    const client = noting.pipe(HttpRetry.withRetry(policy), HttpRetry.withHedging(options))
    const request = HttpClientRequest.make(method as "GET")(url).pipe(HttpClientRequest.setHeaders(headers))
    const out = yield* observe(test, client.execute(request))
    return { ...out, interrupted, url }
  })

const origin = (url: string) => new URL(url).origin

describe("HttpRetry.withHedging", () => {
  describe("which attempt wins", () => {
    it.effect("a slow first attempt: the hedge sent after the delay answers first and the first is interrupted", () =>
      Effect.gen(function*() {
        const out = yield* runHedged([delayed("500 millis", ok("slow")), delayed("50 millis", ok("hedge"))], {
          delay: "100 millis"
        })
        assert.deepStrictEqual(out.at, [0, 100])
        assert.strictEqual(yield* success(out.result).text, "hedge")
        assert.strictEqual(out.end, 150)
        assert.deepStrictEqual(out.interrupted, [{ index: 1, at: 150 }])
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(out.url)), 1)
        assert.strictEqual(yield* counter(Hedging.hedgesWon, origin(out.url)), 1)
      }))

    it.effect("the first attempt answering after the hedge was sent still wins, and the hedge is interrupted", () =>
      Effect.gen(function*() {
        const out = yield* runHedged([delayed("130 millis", ok("first")), delayed("100 millis", ok("hedge"))], {
          delay: "100 millis"
        })
        assert.deepStrictEqual(out.at, [0, 100])
        assert.strictEqual(yield* success(out.result).text, "first")
        assert.strictEqual(out.end, 130)
        assert.deepStrictEqual(out.interrupted, [{ index: 2, at: 130 }])
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(out.url)), 1)
        assert.strictEqual(yield* counter(Hedging.hedgesWon, origin(out.url)), 0)
      }))

    it.effect("no hedge with minTimeLeft or less left before the deadline, as no retry would start", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [delayed("1002 millis", ok("first")), ok("hedge")],
          { delay: "1 second" },
          noJitter({ maxElapsed: "1005 millis", minTimeLeft: "200 millis" })
        )
        assert.deepStrictEqual(out.at, [0])
        assert.strictEqual(yield* success(out.result).text, "first")
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(out.url)), 0)
      }))

    it.effect("a Retry-After on an answer dropped while the hedge ran still sets the round's retry", () =>
      Effect.gen(function*() {
        // Attempt 1 answers 503 asking for 30 s at 1.5 s, while its hedge (sent at 1 s) runs; the hedge answers a
        // plain 503 at 2.2 s. The retry waits for the 30 s from 1.5 s, not the backoff.
        const out = yield* runHedged(
          [
            delayed("1500 millis", respond(503, { headers: { "retry-after": "30" } })),
            delayed("1200 millis", respond(503)),
            ok("third")
          ],
          { delay: "1 second" },
          noJitter({ baseDelay: "100 millis", maxRetryAfter: "1 minute" })
        )
        assert.deepStrictEqual(out.at, [0, 1000, 31500])
        assert.strictEqual(yield* success(out.result).text, "third")
      }))

    it.effect("a held Retry-After longer than maxRetryAfter gives up with it as the error's hint", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [
            delayed("1500 millis", respond(503, { headers: { "retry-after": "120" } })),
            delayed("1200 millis", respond(503))
          ],
          { delay: "1 second" },
          noJitter({ baseDelay: "100 millis", maxRetryAfter: "1 minute" })
        )
        const error = statusError(out.result)
        assert.strictEqual(error.reason, "RetryAfterTooLong")
        // Asked at 1.5 s for 120 s; given up at 2.2 s: 119.3 s left.
        assert.deepStrictEqual(Option.map(error.retryAfter, Duration.toMillis), Option.some(119_300))
      }))

    it.effect("... whatever the round's last failure is (a 500, a reset)", () =>
      Effect.gen(function*() {
        for (const last of [respond(500), fail("ECONNRESET")]) {
          const out = yield* runHedged(
            [
              delayed("1500 millis", respond(503, { headers: { "retry-after": "30" } })),
              delayed("1200 millis", last),
              ok("third")
            ],
            { delay: "1 second" },
            noJitter({ baseDelay: "100 millis", maxRetryAfter: "1 minute" })
          )
          assert.deepStrictEqual(out.at, [0, 1000, 31500])
        }
      }))

    it.effect("a round interrupted while onHedge runs counts no hedge sent, and sends none", () =>
      Effect.gen(function*() {
        const url = freshUrl()
        const test = yield* TestHttpClient.make([hang, ok("hedge")])
        const client = test.client.pipe(
          HttpRetry.withRetry(noJitter()),
          HttpRetry.withHedging({ delay: "100 millis", onHedge: () => Effect.sleep("1 second") })
        )
        const fiber = yield* Effect.fork(client.get(url))
        yield* TestClock.adjust("500 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual((yield* test.requests).length, 1)
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(url)), 0)
      }))

    it.effect("an answer within the delay: no hedge", () =>
      Effect.gen(function*() {
        const out = yield* runHedged([delayed("99 millis", ok("first"))], { delay: "100 millis" })
        assert.deepStrictEqual(out.at, [0])
        assert.strictEqual(yield* success(out.result).text, "first")
        assert.deepStrictEqual(out.interrupted, [])
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(out.url)), 0)
      }))

    it.effect("maxHedges: 2 sends a second hedge one delay after the first", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [hang, hang, delayed("10 millis", ok("third"))],
          { delay: "100 millis", maxHedges: 2, budget: { minimum: 2 } }
        )
        assert.deepStrictEqual(out.at, [0, 100, 200])
        assert.strictEqual(yield* success(out.result).text, "third")
        assert.deepStrictEqual(out.interrupted, [{ index: 1, at: 210 }, { index: 2, at: 210 }])
      }))
  })

  describe("failed attempts", () => {
    it.effect("a hedge that fails does not end the call while the first attempt runs", () =>
      Effect.gen(function*() {
        const out = yield* runHedged([delayed("300 millis", ok("first")), fail("ECONNRESET")], { delay: "100 millis" })
        assert.deepStrictEqual(out.at, [0, 100])
        assert.strictEqual(yield* success(out.result).text, "first")
        assert.strictEqual(out.end, 300)
        assert.deepStrictEqual(out.interrupted, [])
      }))

    it.effect("a first attempt that fails with a retried status after the hedge was sent: the hedge wins", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [delayed("150 millis", respond(503)), delayed("200 millis", ok("hedge"))],
          { delay: "100 millis" }
        )
        assert.deepStrictEqual(out.at, [0, 100])
        assert.strictEqual(yield* success(out.result).text, "hedge")
        assert.strictEqual(out.end, 300)
        assert.strictEqual(yield* counter(Hedging.hedgesWon, origin(out.url)), 1)
      }))

    it.effect("an answer the policy does not retry ends the call at once, and the other attempt is interrupted", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [delayed("300 millis", ok("first")), delayed("10 millis", respond(404))],
          { delay: "100 millis" }
        )
        const error = statusError(out.result)
        assert.strictEqual(error.status, 404)
        assert.strictEqual(error.reason, "NotRetryable")
        assert.strictEqual(error.attempts, 2)
        assert.strictEqual(out.end, 110)
        assert.deepStrictEqual(out.interrupted, [{ index: 1, at: 110 }])
      }))

    it.effect("when every attempt has failed, the retry goes on after the backoff, numbered after the hedge", () =>
      Effect.gen(function*() {
        const logged = yield* captureLogs(runHedged(
          [delayed("150 millis", respond(503)), delayed("100 millis", respond(502)), ok("third")],
          { delay: "100 millis" },
          noJitter({ baseDelay: "1 second", factor: 2, log: { level: "Info" } })
        ))
        const [out, lines] = logged
        // 150: attempt 1 fails while attempt 2 runs; 200: attempt 2 fails, the last running: the backoff after
        // attempt 2 (1 s * 2) is waited, then attempt 3.
        assert.deepStrictEqual(out.at, [0, 100, 2200])
        assert.strictEqual(yield* success(out.result).text, "third")
        const url = out.url
        assert.deepStrictEqual(lines.map((line) => line.message), [
          `GET ${url}: attempt 1/4 no answer after 100ms; hedging with attempt 2`,
          `GET ${url}: attempt 1/4 -> HTTP 503; attempt 2 still running`,
          `GET ${url}: attempt 2/4 -> HTTP 502; retrying in 2s (backoff)`,
          `GET ${url}: attempt 3/4 -> 200`
        ])
      }))

    it.effect("the log names the attempt that answered, not the last one started", () =>
      Effect.gen(function*() {
        // The hedge fails first; attempt 1's 503 comes later, the last running: the retry goes on after it.
        const [retried, retriedLines] = yield* captureLogs(runHedged(
          [delayed("400 millis", respond(503)), delayed("100 millis", respond(503)), ok("third")],
          { delay: "100 millis" },
          noJitter({ baseDelay: "1 second", factor: 2, log: { level: "Info" } })
        ))
        assert.deepStrictEqual(retried.at, [0, 100, 2400])
        assert.deepStrictEqual(retriedLines.map((line) => line.message), [
          `GET ${retried.url}: attempt 1/4 no answer after 100ms; hedging with attempt 2`,
          `GET ${retried.url}: attempt 2/4 -> HTTP 503; attempt 1 still running`,
          `GET ${retried.url}: attempt 1/4 -> HTTP 503; retrying in 2s (backoff)`,
          `GET ${retried.url}: attempt 3/4 -> 200`
        ])
        // Attempt 1 answers 404 while its hedge still runs: the call ends with it, as attempt 1's.
        const [ended, endedLines] = yield* captureLogs(runHedged(
          [delayed("300 millis", respond(404)), hang],
          { delay: "100 millis" },
          noJitter({ log: { level: "Info" } })
        ))
        assert.strictEqual(statusError(ended.result).attempts, 2)
        assert.deepStrictEqual(endedLines.map((line) => line.message), [
          `GET ${ended.url}: attempt 1/4 no answer after 100ms; hedging with attempt 2`,
          `GET ${ended.url}: attempt 1/4 -> HTTP 404; giving up: NotRetryable`
        ])
      }))
  })

  describe("limits", () => {
    it.effect("hedges count against maxAttempts: with 2, both attempts time out and the call gives up", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [hang, hang],
          { delay: "100 millis", maxHedges: 3, budget: { minimum: 3 } },
          noJitter({ maxAttempts: 2, attemptTimeout: "1 second" })
        )
        assert.deepStrictEqual(out.at, [0, 100])
        const error = timeoutError(failure(out.result))
        assert.include(error.message, "attempt 2 of 2")
        assert.strictEqual(out.end, 1100)
      }))

    it.effect("no hedge once the deadline leaves no time", () =>
      Effect.gen(function*() {
        const out = yield* runHedged(
          [delayed("400 millis", ok("first"))],
          { delay: "300 millis" },
          noJitter({ maxElapsed: "300 millis", attemptTimeout: "1 second" })
        )
        // The attempt is cut at the deadline (300 ms), when the hedge would have gone.
        assert.deepStrictEqual(out.at, [0])
        timeoutError(failure(out.result))
      }))

    it.effect("a POST is not hedged; a POST with an Idempotency-Key is", () =>
      Effect.gen(function*() {
        const post = yield* runHedged([delayed("300 millis", ok("first"))], { delay: "100 millis" }, noJitter(), "POST")
        assert.deepStrictEqual(post.at, [0])
        const keyed = yield* runHedged(
          [delayed("300 millis", ok("first")), delayed("10 millis", ok("hedge"))],
          { delay: "100 millis" },
          noJitter(),
          "POST",
          { "idempotency-key": "k-1" }
        )
        assert.deepStrictEqual(keyed.at, [0, 100])
        assert.strictEqual(yield* success(keyed.result).text, "hedge")
      }))

    it.effect("onHedge sees each hedge", () =>
      Effect.gen(function*() {
        const seen: Array<Hedging.HedgeInfo> = []
        const out = yield* runHedged([hang, delayed("10 millis", ok("hedge"))], {
          delay: "100 millis",
          onHedge: (info) => Effect.sync(() => void seen.push(info))
        })
        assert.strictEqual(yield* success(out.result).text, "hedge")
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0].attempt, 2)
        assert.strictEqual(seen[0].maxAttempts, 4)
        assert.strictEqual(Duration.toMillis(seen[0].delay), 100)
        assert.strictEqual(seen[0].request.url, out.url)
      }))
  })

  describe("the hedge budget", () => {
    /** `calls` requests one after the other on one hedging client, the slow ones (answer after 300 ms) listed. */
    const sequence = (calls: number, slow: ReadonlySet<number>, options: Hedging.Options) =>
      Effect.gen(function*() {
        const url = freshUrl()
        let call = 0
        const firstOfCall = new Map<number, number>()
        const test = yield* TestHttpClient.make((_request, index) => {
          // A hedge is the second request of a call: it answers at once.
          if (firstOfCall.get(call) !== undefined) return ok("hedge")
          firstOfCall.set(call, index)
          return slow.has(call) ? delayed("300 millis", ok("slow")) : ok("fast")
        })
        const client = test.client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging(options))
        const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: calls }, (_, i) => i), (i) =>
          Effect.suspend(() => {
            call = i
            return Effect.flatMap(client.get(url), (response) => response.text)
          })))
        yield* TestClock.adjust("1 minute")
        const bodies = yield* Fiber.join(fiber)
        return { bodies, requests: (yield* test.requests).length, url }
      })

    it.effect("the minimum lets a quiet client hedge once per window; the next slow call is not hedged", () =>
      Effect.gen(function*() {
        const out = yield* sequence(2, new Set([0, 1]), { delay: "100 millis" })
        assert.deepStrictEqual(out.bodies, ["hedge", "slow"])
        assert.strictEqual(out.requests, 3)
        assert.strictEqual(yield* counter(Hedging.hedgesRefused, origin(out.url), "hedge"), 1)
      }))

    it.effect("at most ratio x requests hedges in the window: 5% of 60 requests is 3", () =>
      Effect.gen(function*() {
        const slow = new Set([56, 57, 58, 59])
        const out = yield* sequence(60, slow, { delay: "100 millis", budget: { ratio: 0.05, minimum: 0 } })
        assert.deepStrictEqual(out.bodies.slice(56), ["hedge", "hedge", "hedge", "slow"])
        assert.strictEqual(out.requests, 63)
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(out.url)), 3)
        assert.strictEqual(yield* counter(Hedging.hedgesRefused, origin(out.url), "hedge"), 1)
      }))

    it.effect("the window slides: after it has passed, the budget is back", () =>
      Effect.gen(function*() {
        const url = freshUrl()
        const test = yield* TestHttpClient.make((_request, index) =>
          index === 1 || index === 3 || index === 5 ? delayed("300 millis", ok("slow")) : ok("hedge")
        )
        const client = test.client.pipe(
          HttpRetry.withRetry(noJitter()),
          HttpRetry.withHedging({ delay: "100 millis", budget: { window: "10 seconds" } })
        )
        const text = Effect.flatMap(client.get(url), (response) => response.text)
        const fiber = yield* Effect.fork(
          Effect.all([text, text, Effect.zipRight(Effect.sleep("10 seconds"), text)])
        )
        yield* TestClock.adjust("1 minute")
        // Call 1 hedged (requests 1, 2); call 2 refused (request 3); 10 s later call 3 hedged again (4, 5).
        assert.deepStrictEqual(yield* Fiber.join(fiber), ["hedge", "slow", "hedge"])
      }))

    it.effect("a RetryBudget in context that refuses stops the hedge", () =>
      Effect.gen(function*() {
        const asked: Array<string> = []
        const budget: RetryBudget.Service = {
          record: () => {},
          acquire: (origin) => Effect.sync(() => (asked.push(origin), false)),
          tokens: () => 0,
          options: { maxTokens: 100, tokenRatio: 0.1 }
        }
        const out = yield* runHedged([delayed("300 millis", ok("first"))], { delay: "100 millis" }).pipe(
          Effect.provideService(RetryBudget.RetryBudget, budget)
        )
        assert.deepStrictEqual(out.at, [0])
        assert.strictEqual(yield* success(out.result).text, "first")
        assert.deepStrictEqual(asked, [origin(out.url)])
        assert.strictEqual(yield* counter(Hedging.hedgesRefused, origin(out.url), "retry"), 1)
      }))

    it.effect("a hedge the retry budget refused is not counted in the hedge budget: the next slow call hedges", () =>
      Effect.gen(function*() {
        let allow = false
        const budget: RetryBudget.Service = {
          record: () => {},
          acquire: () => Effect.sync(() => allow),
          tokens: () => 0,
          options: { maxTokens: 100, tokenRatio: 0.1 }
        }
        const url = freshUrl()
        // Each call's first request is slow; a hedge (the second request of a call) answers at once.
        const firsts = new Set<string>()
        const scripted = yield* TestHttpClient.make((request) => {
          const call = request.headers["x-call"]!
          if (firsts.has(call)) return ok("hedge")
          firsts.add(call)
          return delayed("300 millis", ok("slow"))
        })
        const client = scripted.client.pipe(
          HttpRetry.withRetry(noJitter()),
          // One hedge per window at most (ratio 0, minimum 1).
          HttpRetry.withHedging({ delay: "100 millis", budget: { ratio: 0, minimum: 1, window: "10 seconds" } })
        )
        const text = (call: number) =>
          Effect.flatMap(
            client.execute(HttpClientRequest.get(url, { headers: { "x-call": String(call) } })),
            (r) => r.text
          )
        const fiber = yield* Effect.fork(
          Effect.all([text(1), Effect.zipRight(Effect.sync(() => (allow = true)), text(2)), text(3)]).pipe(
            Effect.provideService(RetryBudget.RetryBudget, budget)
          )
        )
        yield* TestClock.adjust("1 minute")
        // Call 1: the retry budget refuses its hedge. Call 2: the hedge budget still has its one hedge, so it
        // hedges. Call 3: the hedge budget is spent.
        assert.deepStrictEqual(yield* Fiber.join(fiber), ["slow", "hedge", "slow"])
        assert.strictEqual((yield* scripted.requests).length, 4)
        assert.strictEqual(yield* counter(Hedging.hedgesRefused, origin(url), "retry"), 1)
        assert.strictEqual(yield* counter(Hedging.hedgesRefused, origin(url), "hedge"), 1)
        assert.strictEqual(yield* counter(Hedging.hedgesSent, origin(url)), 1)
      }))
  })

  describe("the adaptive delay", () => {
    /** Calls answering after `latencies` (ms), one after the other, then one that never answers first. */
    const adaptive = (latencies: ReadonlyArray<number>, options: Hedging.Options, gap = 0) =>
      Effect.gen(function*() {
        const url = freshUrl()
        const script: Array<TestHttpClient.Step> = latencies.map((ms) => delayed(Duration.millis(ms), ok("x")))
        script.push(hang, ok("hedge"))
        const test = yield* TestHttpClient.make(script)
        const client = test.client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging(options))
        const call = Effect.flatMap(client.get(url), (response) => response.text)
        const fiber = yield* Effect.fork(
          Effect.zipRight(Effect.forEach(latencies, () => call), Effect.zipRight(Effect.sleep(gap), call))
        )
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual(yield* Fiber.join(fiber), "hedge")
        const at = (yield* test.requests).map((r) => r.at)
        // The hedge delay of the last call: from its first attempt to its hedge.
        return at[at.length - 1] - at[at.length - 2]
      })

    it.effect("the delay is the percentile (nearest rank) of the latencies seen", () =>
      Effect.gen(function*() {
        const options: Hedging.Options = {
          delay: { percentile: 50, floor: "1 millis", minSamples: 4, initial: "1 second" }
        }
        assert.strictEqual(yield* adaptive([20, 80, 40, 60], options), 40)
        assert.strictEqual(
          yield* adaptive([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], {
            delay: { percentile: 90, floor: "1 millis", initial: "500 millis" }
          }),
          // minSamples (20 by default) not reached: the initial delay.
          500
        )
        assert.strictEqual(
          yield* adaptive(Array.from({ length: 20 }, (_, i) => (i + 1) * 10), {
            delay: { floor: "1 millis", initial: "1 second" }
          }),
          // p95 of 10..200 (nearest rank 19 of 20).
          190
        )
      }))

    it.effect("never below the floor; the initial delay until minSamples", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* adaptive([1, 1, 1, 1], { delay: { floor: "25 millis", minSamples: 4 } }), 25)
        assert.strictEqual(
          yield* adaptive([1, 1, 1], { delay: { floor: "25 millis", minSamples: 4, initial: "200 millis" } }),
          200
        )
      }))

    it.effect("samples older than the window no longer count", () =>
      Effect.gen(function*() {
        const options: Hedging.Options = {
          delay: { percentile: 50, floor: "5 millis", minSamples: 4, initial: "70 millis", window: "10 seconds" }
        }
        assert.strictEqual(yield* adaptive([20, 20, 20, 20], options, 0), 20)
        assert.strictEqual(yield* adaptive([20, 20, 20, 20], options, 11_000), 70)
      }))
  })

  describe("composition", () => {
    it.effect("withRetry over a hedging client keeps the hedging and takes the new policy", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([hang, hang])
        const client = test.client.pipe(
          HttpRetry.withHedging({ delay: "100 millis" }),
          HttpRetry.withRetry(noJitter({ maxAttempts: 2, attemptTimeout: "1 second" }))
        )
        const out = yield* observe(test, client.get(freshUrl()))
        assert.deepStrictEqual(out.at, [0, 100])
        timeoutError(failure(out.result))
      }))

    it.effect("followRedirects over a hedging client keeps the hedging", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make([delayed("300 millis", ok("first")), ok("hedge")])
        const client = test.client.pipe(
          HttpRetry.withHedging({ delay: "100 millis" }),
          HttpRetry.followRedirects()
        )
        const out = yield* observe(test, client.get(freshUrl()))
        assert.deepStrictEqual(out.at, [0, 100])
        assert.strictEqual(yield* success(out.result).text, "hedge")
      }))

    it.effect("the hedge's span is marked; the first attempt's is not", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recording
        const test = yield* TestHttpClient.make([hang, delayed("10 millis", ok("hedge"))])
        const client = test.client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "100 millis" }))
        const out = yield* observe(test, Effect.withTracer(client.get(freshUrl()), tracer))
        assert.strictEqual(yield* success(out.result).text, "hedge")
        const clientSpans = spans.filter((span) => span.kind === "client")
        assert.strictEqual(clientSpans.length, 2)
        assert.strictEqual(clientSpans[0].attributes.get(Hedging.spanAttribute), undefined)
        assert.strictEqual(clientSpans[1].attributes.get(Hedging.spanAttribute), true)
        assert.strictEqual(clientSpans[1].attributes.get("http.request.resend_count"), 1)
      }))

    it.effect("one trace per call: with no parent span, the hedge joins the first attempt's trace", () =>
      Effect.gen(function*() {
        const { spans, tracer } = yield* recording
        for (const quiet of [false, true]) {
          spans.length = 0
          const test = yield* TestHttpClient.make([hang, delayed("10 millis", ok("hedge"))])
          // A client that records no span of its own: the retry records each attempt's span itself.
          const inner = quiet ?
            HttpRetry.withNoSpans(test.client.pipe(HttpClient.withTracerDisabledWhen(() => true))) :
            test.client
          const client = inner.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "100 millis" }))
          const out = yield* observe(test, Effect.withTracer(client.get(freshUrl()), tracer))
          assert.strictEqual(yield* success(out.result).text, "hedge")
          const [first, hedge] = spans.filter((span) => span.kind === "client")
          assert.isTrue(first.parent._tag === "None", "the call has no parent span")
          assert.strictEqual(hedge.traceId, first.traceId)
          assert.strictEqual(hedge.parent._tag === "Some" ? hedge.parent.value.spanId : undefined, first.spanId)
          const sent = yield* test.requests
          assert.deepStrictEqual(
            sent.map((r) => r.request.headers["traceparent"]?.split("-")[1]),
            [first.traceId, first.traceId]
          )
        }
      }))
  })

  describe("what a client keeps per origin", () => {
    it("origins quiet for longer than the windows are forgotten; at most 4,096 are kept", () => {
      // Defaults: a budget window of 10 s and an adaptive delay over 30 s: an origin matters for 30 s after its call.
      const state = Hedge.make()
      for (let i = 0; i < 1024; i++) state.origin(`http://a${i}.test`, 0)
      assert.strictEqual(state.size, 1024)
      // The first sweep (at 1,024 origins) finds none quiet: b is kept beside them, and the next sweep waits for
      // twice as many.
      state.origin("http://b.test", 10_000)
      assert.strictEqual(state.size, 1025)
      // a0 is seen again; 1,023 more origins bring the count to 2,048.
      state.origin("http://a0.test", 35_000)
      for (let i = 0; i < 1023; i++) state.origin(`http://c${i}.test`, 35_000)
      assert.strictEqual(state.size, 2048)
      // The sweep at 45 s forgets what is quiet since 15 s: the other 1,023 a origins and b.
      state.origin("http://d.test", 45_000)
      assert.strictEqual(state.size, 1 + 1023 + 1)
      // Many origins within the window: never more than 4,096.
      let most = 0
      for (let i = 0; i < 10_000; i++) {
        state.origin(`http://e${i}.test`, 46_000 + i / 1000)
        most = Math.max(most, state.size)
      }
      assert.strictEqual(most, 4096)
      assert.isAtMost(state.size, 4096)
    })
  })

  describe("options", () => {
    it("bad values throw a HedgingError naming the field and the value", () => {
      const bad: ReadonlyArray<[Hedging.Options, string]> = [
        [
          { delay: "soon" as Duration.DurationInput },
          "Invalid hedging option: delay = \"soon\" (not a duration: use 250ms, 2s, \"1.5 minutes\" or milliseconds)"
        ],
        // A negative or NaN floor was read as 0: every request hedged at once.
        [{ delay: { floor: Number.NaN } }, "delay.floor = NaN (not a number)"],
        [{ delay: { floor: -5 } }, "delay.floor = -5 (must not be negative)"],
        [{ delay: { floor: "-5 millis" } }, "delay.floor = \"-5 millis\" (must not be negative)"],
        [{ delay: { floor: 5, initial: -1 } }, "delay.initial = -1 (must not be negative)"],
        // A misspelt option left the default in place.
        [
          { dealy: "500 millis" } as Hedging.Options,
          "dealy = \"500 millis\" (unknown option (delay, maxHedges, budget, onHedge))"
        ],
        [{ delay: { percentil: 90 } } as unknown as Hedging.Options, "delay.percentil = 90 (unknown option"],
        [{ budget: { ratoi: 0.1 } } as Hedging.Options, "budget.ratoi = 0.1 (unknown option"],
        [{ onHedge: "x" } as unknown as Hedging.Options, "onHedge = \"x\" (expected a function)"],
        [{ delay: { floor: "1 millis", percentile: 100 } }, "delay.percentile = 100 (must be > 0 and < 100)"],
        [{ budget: { ratio: 1.5 } }, "budget.ratio = 1.5 (must be from 0 to 1)"],
        [{ maxHedges: 0 }, "maxHedges = 0 (must be an integer >= 1)"]
      ]
      for (const [options, message] of bad) {
        assert.throws(() => HttpRetry.withHedging(options), Hedging.HedgingError)
        try {
          Hedging.layer(options)
          assert.fail("expected a throw")
        } catch (error) {
          assert.instanceOf(error, Hedging.HedgingError)
          assert.include((error as Hedging.HedgingError).message, message)
        }
      }
    })
  })
})
