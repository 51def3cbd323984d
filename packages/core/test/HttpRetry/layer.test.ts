import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import type { HttpStatusError, RetryPolicy } from "@http-retry/core"
import { HttpRetry, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import {
  failure,
  noJitter,
  observe,
  requestError,
  statusError,
  success,
  timeoutError,
  times,
  url,
  waits
} from "../utils.js"

const { respond } = TestHttpClient

describe.concurrent("HttpRetry.layer, client and request", () => {
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

  // A platform combinator makes a new client, without the mark that tells a retrying client; the nested loop is
  // found when the call runs.
  describe("a retrying client under platform combinators", () => {
    const decorated = (policy: RetryPolicy.RetryPolicy, script: TestHttpClient.Script) =>
      Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, HttpClient.mapRequest(HttpClientRequest.setHeader("x-app", "1")))
      ).pipe(Layer.provide(HttpRetry.layer(policy)), Layer.provideMerge(TestHttpClient.layer(script)))

    it.effect("HttpRetry.client: the layer's policy retries the call, and no second loop runs around it", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const out = yield* observe(test, client.get(url))
        assert.deepStrictEqual(out.at, [0, 1000, 3000])
        const error = statusError(out.result)
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual(error.reason, "AttemptsExhausted")
        assert.isTrue(out.requests.every((r) => r.request.headers["x-app"] === "1"))
      }).pipe(Effect.provide(decorated(noJitter({ maxAttempts: 3 }), times(20, respond(503))))))

    it.effect("HttpRetry.client: a transport failure is retried by the layer's loop alone", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const out = yield* observe(test, client.get(url))
        assert.strictEqual(out.attempts, 3)
        assert.strictEqual(requestError(failure(out.result)).reason, "Transport")
      }).pipe(Effect.provide(decorated(noJitter({ maxAttempts: 3 }), times(20, TestHttpClient.fail("ECONNRESET"))))))

    it.effect("HttpRetry.client: the call's loop is not cut by the default 10 s attempt timeout of the one around it", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const client = yield* HttpRetry.client
        const out = yield* observe(test, client.get(url), "5 minutes")
        assert.deepStrictEqual(out.at, [0, 8000, 24000])
        assert.strictEqual(success(out.result).status, 200)
      }).pipe(
        Effect.provide(
          decorated(noJitter({ maxAttempts: 3, baseDelay: "8 seconds" }), [respond(503), respond(503), respond(200)])
        )
      ))

    it.effect("HttpRetry.request: its options reach the layer's loop, and only that loop runs", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        const out = yield* observe(test, HttpRetry.request(HttpClientRequest.get(url), { maxAttempts: 2 }))
        assert.deepStrictEqual(out.at, [0, 250])
        assert.strictEqual(requestError(failure(out.result)).reason, "Transport")
      }).pipe(
        Effect.provide(decorated(noJitter({ baseDelay: "250 millis" }), times(20, TestHttpClient.fail("ECONNRESET"))))
      ))

    it.effect("withRetry over it replaces its policy: the client under the combinator sends once per attempt", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(times(20, TestHttpClient.fail("ECONNRESET")))
        const inner = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 4 })).pipe(
          HttpClient.tap(() => Effect.void)
        )
        const outer = inner.pipe(HttpRetry.withRetry(noJitter({ maxAttempts: 2, baseDelay: "300 millis" })))
        const out = yield* observe(test, outer.get(url))
        assert.deepStrictEqual(out.at, [0, 300])
      }))

    it.live("HttpRetry.request on the live clock: the outer timer does not interrupt the loop that took the call", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.TestHttpClient
        // Each attempt answers at once; the waits between them (150, 300 ms) are longer than the 100 ms timeout,
        // which would end the call with a TimeoutException had it cut the layer's loop.
        const error = yield* Effect.flip(
          HttpRetry.request(HttpClientRequest.get(url), { attemptTimeout: "100 millis" })
        )
        assert.strictEqual(error._tag, "HttpStatusError")
        assert.strictEqual((error as HttpStatusError.HttpStatusError).attempts, 3)
        assert.strictEqual((yield* test.requests).length, 3)
      }).pipe(
        Effect.provide(decorated(noJitter({ maxAttempts: 3, baseDelay: "150 millis" }), times(20, respond(503))))
      ))
  })
})

describe("bad arguments to withRetry and HttpRetry.layer", () => {
  const client = HttpClient.make(() => Effect.die("not sent"))
  const cases: ReadonlyArray<[string, () => unknown, string]> = [
    [
      "a policy's options instead of a policy",
      () => HttpRetry.withRetry(client, { maxAttempts: 2 } as unknown as RetryPolicy.RetryPolicy),
      "Invalid retry policy: policy = {\"maxAttempts\":2} (expected a RetryPolicy"
    ],
    [
      "the layer's budget: true given to withRetry",
      () => HttpRetry.withRetry(client, undefined, { budget: true } as never),
      "Invalid retry policy: options.budget = true (expected a RetryBudget service"
    ],
    [
      "a misspelt option",
      () => HttpRetry.layer(undefined, { tracng: false } as never),
      "Invalid retry policy: options.tracng = false (unknown option"
    ],
    [
      "tracing that is not a boolean",
      () => HttpRetry.layer(undefined, { tracing: "no" } as never),
      "Invalid retry policy: options.tracing = \"no\" (expected true or false)"
    ],
    [
      "an onRetry that is not a function, written data-last (checked before a client is given)",
      () => HttpRetry.withRetry(undefined, { onRetry: "log" } as never),
      "Invalid retry policy: options.onRetry = \"log\" (expected a function)"
    ]
  ]
  for (const [name, call, message] of cases) {
    it(`${name}: a RetryPolicyError naming it, thrown where it is written`, () => {
      try {
        call()
        assert.fail("expected a throw")
      } catch (error) {
        assert.strictEqual((error as { _tag?: string })._tag, "RetryPolicyError")
        assert.include((error as Error).message, message)
      }
    })
  }
})

// The cell an attempt puts in its send's context is for the retrying client it wraps: other requests made inside
// the send (a token fetch, an audit call) go through their own clients as they would anywhere else.
describe("requests made inside the send by other code", () => {
  const byPath = (paths: Record<string, ReadonlyArray<TestHttpClient.Step>>): TestHttpClient.Script => {
    const seen: Record<string, number> = {}
    return (request) => {
      const path = new URL(request.url).pathname
      const i = seen[path] = (seen[path] ?? 0) + 1
      const steps = paths[path]
      return steps[Math.min(i, steps.length) - 1]
    }
  }
  const paths = (requests: ReadonlyArray<TestHttpClient.Recorded>) =>
    requests.map((r) => new URL(r.request.url).pathname)

  it.effect("HttpRetry.client: a retrying client called in a tap takes nothing over, and the call is retried", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(byPath({ "/main": [respond(503)], "/audit": [respond(200)] }))
      const audit = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 2 }))
      const decorated = test.client.pipe(HttpClient.tap(() => Effect.ignore(audit.get("http://api.test/audit"))))
      const client = yield* HttpRetry.client.pipe(Effect.provideService(HttpClient.HttpClient, decorated))
      const out = yield* observe(test, client.get("http://api.test/main"))
      const error = statusError(out.result)
      assert.strictEqual(error.status, 503)
      assert.strictEqual(error.attempts, 4)
      assert.deepStrictEqual(paths(out.requests).filter((p) => p === "/main").length, 4)
    }))

  it.effect("HttpRetry.request: a retrying client called before the send leaves the attempt timeout in force", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(byPath({ "/main": [TestHttpClient.hang], "/discover": [respond(200)] }))
      const discovery = HttpRetry.withRetry(test.client, noJitter())
      const decorated = test.client.pipe(
        HttpClient.transformResponse((send) =>
          Effect.zipRight(Effect.ignore(discovery.get("http://api.test/discover")), send)
        )
      )
      const out = yield* observe(
        test,
        HttpRetry.request(HttpClientRequest.get("http://api.test/main"), {
          attemptTimeout: "300 millis",
          maxAttempts: 2,
          jitter: "none"
        }).pipe(Effect.provideService(HttpClient.HttpClient, decorated))
      )
      assert.strictEqual(timeoutError(failure(out.result))._tag, "TimeoutException")
      assert.strictEqual(out.end, 1600)
    }))

  it.effect("withRetry: a retrying client called in a tap retries its own request", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(
        byPath({ "/main": [respond(200)], "/audit": [respond(503), respond(200)] })
      )
      const audit = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 2 }))
      const statuses: Array<number> = []
      const client = test.client.pipe(
        HttpClient.tap(() => Effect.map(audit.get("http://api.test/audit"), (r) => void statuses.push(r.status))),
        HttpRetry.withRetry(noJitter())
      )
      const out = yield* observe(test, client.get("http://api.test/main"))
      assert.strictEqual(success(out.result).status, 200)
      assert.deepStrictEqual(statuses, [200])
      assert.deepStrictEqual(paths(out.requests), ["/main", "/audit", "/audit"])
    }))

  it.effect("a 2xx the caller's own filterStatus refused stays its ResponseError", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([respond(201)])
      const client = test.client.pipe(HttpClient.filterStatus((s) => s === 200), HttpRetry.withRetry(noJitter()))
      const out = yield* observe(test, client.get(url))
      const error = failure(out.result) as { _tag: string; reason: string; response: { status: number } }
      assert.deepStrictEqual([error._tag, error.reason, error.response.status], ["ResponseError", "StatusCode", 201])
      assert.strictEqual(out.attempts, 1)
    }))

  it.effect("a filterStatusOk over redirects: the hop's status error is not the request's, and stays as it is", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(
        byPath({ "/a": [respond(302, { headers: { location: "/b" } })], "/b": [respond(503)] })
      )
      const client = test.client.pipe(
        HttpRetry.followRedirects(),
        HttpClient.filterStatusOk,
        HttpRetry.withRetry(noJitter({ maxAttempts: 3 }))
      )
      const out = yield* observe(test, client.get("http://api.test/a"))
      const error = failure(out.result) as { _tag: string; reason: string; request: { url: string } }
      assert.deepStrictEqual([error._tag, error.reason, error.request.url], [
        "ResponseError",
        "StatusCode",
        "http://api.test/b"
      ])
      assert.deepStrictEqual(paths(out.requests), ["/a", "/b"])
    }))

  it.effect("a same-origin side call's status error inside the send is not this call's answer either", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(byPath({ "/orders": [respond(200)], "/audit": [respond(503)] }))
      const audit = test.client.pipe(HttpClient.filterStatusOk)
      const client = test.client.pipe(
        HttpClient.tap(() => audit.post("http://api.test/audit")),
        HttpRetry.withRetry(noJitter())
      )
      const out = yield* observe(test, client.get("http://api.test/orders"))
      const error = failure(out.result) as { _tag: string; request: { url: string } }
      assert.deepStrictEqual([error._tag, error.request.url], ["ResponseError", "http://api.test/audit"])
      assert.deepStrictEqual(paths(out.requests), ["/orders", "/audit"])
    }))

  it.effect("a nested client under a client that records no span is found with the request as sent", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(times(10, TestHttpClient.fail("ECONNRESET")))
      const client = HttpRetry.withRetry(test.client, noJitter({ maxAttempts: 2 })).pipe(
        HttpClient.tap(() => Effect.void),
        HttpRetry.withNoSpans,
        HttpRetry.withRetry(noJitter({ maxAttempts: 3, baseDelay: "100 millis" }))
      )
      const out = yield* observe(test, client.get(url))
      assert.deepStrictEqual(out.at, [0, 100, 300])
    }))

  it.effect("another origin's status error inside the send is not this call's answer", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make(byPath({ "/ok": [respond(200)], "/token": [respond(503)] }))
      const tokens = test.client.pipe(HttpClient.filterStatusOk)
      const client = test.client.pipe(
        HttpClient.transformResponse((send) => Effect.zipRight(tokens.get("http://auth.test/token"), send)),
        HttpRetry.withRetry(noJitter())
      )
      const out = yield* observe(test, client.get("http://api.test/ok"))
      const error = failure(out.result) as { _tag: string; reason: string; request: { url: string } }
      assert.deepStrictEqual([error._tag, error.reason, error.request.url], [
        "ResponseError",
        "StatusCode",
        "http://auth.test/token"
      ])
      assert.strictEqual(out.attempts, 1)
    }))
})
