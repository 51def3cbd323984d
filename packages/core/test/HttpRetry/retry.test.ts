import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import {
  causeCode,
  failure,
  millis,
  noJitter,
  observe,
  requestError,
  requestWith,
  runScript,
  statusError,
  success,
  timeoutError,
  times,
  url,
  waits
} from "../utils.js"

const { fail, hang, ok, respond } = TestHttpClient

describe.concurrent("HttpRetry.withRetry: what is retried", () => {
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

    // A 3xx too: redirects are followed only by followRedirects, so a 300 or a 308 here is the final answer.
    for (const status of [300, 308, 400, 401, 403, 404, 409, 422, 501, 505]) {
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

    describe("RetryPolicy.make({ retryOn: RetryPolicy.retryOnServerErrors })", () => {
      const serverErrors = RetryPolicy.make({ retryOn: RetryPolicy.retryOnServerErrors })

      for (const status of [500, 501, 505, 599]) {
        it.effect(`retries ${status}`, () =>
          Effect.gen(function*() {
            const out = yield* runScript(times(4, respond(status)), serverErrors)
            assert.strictEqual(out.attempts, 4)
            assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
          }))
      }

      for (const status of [400, 404, 408, 429]) {
        it.effect(`gives up on ${status} at once`, () =>
          Effect.gen(function*() {
            const out = yield* runScript([respond(status)], serverErrors)
            assert.strictEqual(out.attempts, 1)
            const error = statusError(out.result)
            assert.strictEqual(error.reason, "NotRetryable")
            assert.strictEqual(error.attempts, 1)
          }))
      }
    })

    describe("RetryPolicy.serverErrorsOnly: requests + backoff's rule, exactly", () => {
      const original = RetryPolicy.make(RetryPolicy.serverErrorsOnly)

      it.effect("a 500 is tried 4 times, 1 s, 2 s, 4 s apart without jitter", () =>
        Effect.gen(function*() {
          const out = yield* runScript(
            times(4, respond(500)),
            RetryPolicy.make({ ...RetryPolicy.serverErrorsOnly, jitter: "none" })
          )
          assert.deepStrictEqual(out.at, [0, 1000, 3000, 7000])
          assert.strictEqual(statusError(out.result).reason, "AttemptsExhausted")
        }))

      it.effect("a 404 once", () =>
        Effect.gen(function*() {
          const out = yield* runScript([respond(404)], original)
          assert.strictEqual(out.attempts, 1)
          assert.strictEqual(statusError(out.result).reason, "NotRetryable")
        }))

      for (const code of ["ECONNREFUSED", "ECONNRESET"]) {
        it.effect(`a transport failure (${code}) once`, () =>
          Effect.gen(function*() {
            const out = yield* runScript([fail(code)], original)
            assert.strictEqual(out.attempts, 1)
            assert.strictEqual(causeCode(requestError(failure(out.result))), code)
          }))
      }

      it.effect("Retry-After is ignored: the backoff is waited", () =>
        Effect.gen(function*() {
          const out = yield* runScript(
            [respond(503, { headers: { "retry-after": "30" } }), ok()],
            RetryPolicy.make({ ...RetryPolicy.serverErrorsOnly, jitter: "none" })
          )
          assert.deepStrictEqual(out.at, [0, 1000])
        }))
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
})
