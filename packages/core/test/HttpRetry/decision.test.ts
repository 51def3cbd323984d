import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { type HttpStatusError, RetryPolicy } from "@http-retry/core"
import * as Stream from "effect/Stream"
import * as Decision from "../../src/internal/decision.js"
import { backoffMillis, planOf } from "../../src/internal/plan.js"
import { url } from "../utils.js"

const plan = planOf(RetryPolicy.make({ jitter: "none" }))
const get = HttpClientRequest.get(url)
const status = (status: number): Decision.Failure => ({ _tag: "Status", status })

const input = (overrides: Partial<Decision.Input> = {}): Decision.Input => ({
  plan,
  request: get,
  attempt: 1,
  elapsedMillis: 0,
  lastAttemptMillis: 0,
  failure: status(503),
  backoffMillis: 1000,
  retryAfterMillis: undefined,
  ...overrides
})

const retry = (delayMillis: number, source: Decision.Source = "backoff") => ({
  _tag: "Retry" as const,
  delayMillis,
  source
})

/** The decision without the time to spare, which the table leaves to the tests below it. */
const withoutSpare = (decision: Decision.Decision) => {
  if (decision._tag === "GiveUp") return decision
  const { spareMillis: _, ...rest } = decision
  return rest
}
const giveUp = (reason: HttpStatusError.GiveUpReason): Decision.Decision => ({ _tag: "GiveUp", reason })

describe("decision", () => {
  // Defaults: 4 attempts, 50 s deadline, Retry-After honoured up to 60 s on 429 and 503.
  const table: ReadonlyArray<readonly [string, Decision.Input, ReturnType<typeof withoutSpare>]> = [
    ["a retried status waits the backoff", input(), retry(1000)],
    ["a status not retried gives up", input({ failure: status(404) }), giveUp("NotRetryable")],
    ["a POST is not retried", input({ request: HttpClientRequest.post(url) }), giveUp("MethodNotRetried")],
    [
      "a POST with an Idempotency-Key is",
      input({ request: HttpClientRequest.post(url, { headers: { "idempotency-key": "k1" } }) }),
      retry(1000)
    ],
    [
      "a streamed body cannot be sent again",
      input({ request: HttpClientRequest.put(url).pipe(HttpClientRequest.bodyStream(Stream.empty)) }),
      giveUp("BodyNotReplayable")
    ],
    // A raw body that is bytes or text is sent again as it is; one that is anything else (a Node stream) cannot be.
    [
      "a raw ArrayBuffer body is sent again",
      input({ request: HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw(new ArrayBuffer(4)))) }),
      retry(1000)
    ],
    [
      "a raw Uint8Array or string body is sent again",
      input({ request: HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw(new Uint8Array(4)))) }),
      retry(1000)
    ],
    [
      "a raw string body is sent again",
      input({ request: HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw("x=1"))) }),
      retry(1000)
    ],
    [
      "a raw body of any other kind cannot be",
      input({ request: HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw({ pipe() {} }))) }),
      giveUp("BodyNotReplayable")
    ],
    [
      "a status not retried wins over the method",
      input({ failure: status(404), request: HttpClientRequest.post(url) }),
      giveUp("NotRetryable")
    ],
    ["the last attempt gives up", input({ attempt: 4 }), giveUp("AttemptsExhausted")],
    [
      "attempts run out before the deadline is looked at",
      input({ attempt: 4, elapsedMillis: 60_000 }),
      giveUp("AttemptsExhausted")
    ],
    ["the third attempt may still retry", input({ attempt: 3, backoffMillis: 4000 }), retry(4000)],
    ["past the deadline, no wait", input({ elapsedMillis: 50_000, backoffMillis: 0 }), giveUp("DeadlineExceeded")],
    ["a wait ending at the deadline is not made", input({ elapsedMillis: 49_000 }), giveUp("DeadlineExceeded")],
    ["a wait ending 1 ms before it is", input({ elapsedMillis: 48_999 }), retry(1000)],
    ["Retry-After replaces the backoff on a 503", input({ retryAfterMillis: 3000 }), retry(3000, "Retry-After")],
    ["and on a 429", input({ failure: status(429), retryAfterMillis: 3000 }), retry(3000, "Retry-After")],
    ["not on a 500", input({ failure: status(500), retryAfterMillis: 3000 }), retry(1000)],
    ["Retry-After: 0 waits the backoff", input({ retryAfterMillis: 0 }), retry(1000)],
    ["Retry-After over maxRetryAfter gives up", input({ retryAfterMillis: 60_001 }), giveUp("RetryAfterTooLong")],
    [
      "Retry-After at maxRetryAfter is honoured",
      input({ retryAfterMillis: 60_000, elapsedMillis: -20_000 }),
      retry(60_000, "Retry-After")
    ],
    [
      "Retry-After ending past the deadline gives up for that reason",
      input({ retryAfterMillis: 10_000, elapsedMillis: 45_000 }),
      giveUp("RetryAfterTooLong")
    ],
    // A Retry-After held from a hedged round's dropped answer (hedge.ts) is capped as the failure's own would be.
    [
      "a held Retry-After over maxRetryAfter gives up, whatever the failure",
      input({
        failure: status(500),
        retryAfterHeldMillis: 60_001,
        plan: planOf(RetryPolicy.make({ jitter: "none", maxElapsed: "10 minutes" }))
      }),
      giveUp("RetryAfterTooLong")
    ],
    [
      "a held Retry-After at maxRetryAfter replaces a shorter backoff",
      input({
        failure: status(500),
        retryAfterHeldMillis: 60_000,
        plan: planOf(RetryPolicy.make({ jitter: "none", maxElapsed: "10 minutes" }))
      }),
      retry(60_000, "Retry-After")
    ],
    [
      "retryAfter: false ignores the header",
      input({ plan: planOf(RetryPolicy.make({ jitter: "none", retryAfter: false })), retryAfterMillis: 3000 }),
      retry(1000)
    ],
    [
      "no attempt starts with no more time left than the last one took",
      input({
        elapsedMillis: 2500,
        lastAttemptMillis: 2500,
        backoffMillis: 1000,
        plan: planOf(RetryPolicy.make({ jitter: "none", maxElapsed: "6 seconds" }))
      }),
      giveUp("DeadlineExceeded")
    ],
    [
      "with 1 ms more it starts",
      input({
        elapsedMillis: 2500,
        lastAttemptMillis: 2500,
        backoffMillis: 1000,
        plan: planOf(RetryPolicy.make({ jitter: "none", maxElapsed: "6001 millis" }))
      }),
      retry(1000)
    ],
    [
      "the last attempt counts at most attemptTimeout",
      input({
        elapsedMillis: 60_000,
        lastAttemptMillis: 60_000,
        backoffMillis: 1000,
        plan: planOf(RetryPolicy.make({ maxElapsed: "71001 millis", attemptTimeout: "10 seconds" }))
      }),
      retry(1000)
    ],
    [
      "a fixed minTimeLeft",
      input({
        backoffMillis: 1000,
        plan: planOf(RetryPolicy.make({ maxElapsed: "4 seconds", minTimeLeft: "3 seconds" }))
      }),
      giveUp("DeadlineExceeded")
    ],
    ["a timeout is retried", input({ failure: { _tag: "Timeout" } }), retry(1000)],
    [
      "a transient transport failure is retried",
      input({ failure: { _tag: "Transport", transient: true } }),
      retry(1000)
    ],
    ["a permanent one is not", input({ failure: { _tag: "Transport", transient: false } }), giveUp("NotRetryable")],
    [
      "retryOn.transport: false retries no timeout",
      input({
        plan: planOf(RetryPolicy.make({ retryOn: { transport: false } })),
        failure: { _tag: "Timeout" }
      }),
      giveUp("NotRetryable")
    ],
    ["any other failure is not retried", input({ failure: { _tag: "Other" } }), giveUp("NotRetryable")]
  ]
  for (const [name, given, expected] of table) {
    it(name, () => assert.deepStrictEqual(withoutSpare(Decision.decide(given)), expected))
  }

  describe("the time to spare before the wait (for the failed body's drain)", () => {
    const spare = (given: Decision.Input) => {
      const decision = Decision.decide(given)
      if (decision._tag !== "Retry") return assert.fail(`expected a retry, got ${decision.reason}`)
      return decision.spareMillis
    }
    it("is the time left before the deadline after the wait", () => {
      // 50 s deadline, 1 s wait, 0 ms into the call; the failed attempt took no time ("lastAttempt").
      assert.strictEqual(spare(input()), 49_000)
      assert.strictEqual(spare(input({ elapsedMillis: 48_000, lastAttemptMillis: 0 })), 1000)
    })
    it("keeps minTimeLeft: the failed attempt's time under \"lastAttempt\", or the fixed one", () => {
      assert.strictEqual(spare(input({ elapsedMillis: 40_000, lastAttemptMillis: 2000 })), 7000)
      // lastAttempt is capped at the attempt timeout (10 s).
      assert.strictEqual(spare(input({ elapsedMillis: 20_000, lastAttemptMillis: 15_000 })), 19_000)
      const fixed = planOf(RetryPolicy.make({ minTimeLeft: "3 seconds" }))
      assert.strictEqual(spare(input({ plan: fixed, elapsedMillis: 40_000, lastAttemptMillis: 9000 })), 6000)
    })
    it("is never 0 or less: with no time to spare the call gives up", () => {
      assert.strictEqual(spare(input({ elapsedMillis: 48_999 })), 1)
      assert.deepStrictEqual(Decision.decide(input({ elapsedMillis: 49_000 })), giveUp("DeadlineExceeded"))
    })
  })

  it("backoffMillis doubles from baseDelay up to maxDelay, and full jitter scales it", () => {
    const capped = planOf(RetryPolicy.make({ jitter: "none", maxDelay: "3 seconds" }))
    assert.deepStrictEqual([1, 2, 3, 4, 5].map((n) => backoffMillis(capped, n, 0.5)), [1000, 2000, 3000, 3000, 3000])
    const jittered = planOf(RetryPolicy.make({ jitter: "full" }))
    assert.deepStrictEqual([1, 2, 3].map((n) => backoffMillis(jittered, n, 0.25)), [250, 500, 1000])
  })
})
