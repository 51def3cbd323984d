import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { type RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { url } from "./utils.js"

const { delayed, fail, hang, ok, respond } = TestHttpClient

const defectMessage = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) assert.fail("expected a defect, got a success")
  const defect = Cause.dieOption(exit.cause)
  if (Option.isNone(defect)) assert.fail(`expected a defect, got ${Cause.pretty(exit.cause)}`)
  return String((defect.value as Error).message)
}

describe.concurrent("TestHttpClient", () => {
  it.effect("answers in script order and records each request with its index and Clock time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const test = yield* TestHttpClient.make([respond(503), ok("second"), respond(404)])
      const first = yield* test.client.get(`${url}/1`)
      yield* TestClock.adjust("1500 millis")
      const second = yield* test.client.post(`${url}/2`)
      yield* TestClock.adjust("250 millis")
      const third = yield* test.client.get(`${url}/3`)
      assert.deepStrictEqual([first.status, second.status, third.status], [503, 200, 404])
      const requests = yield* test.requests
      assert.deepStrictEqual(
        requests.map((r) => [r.index, r.at, r.request.method, r.request.url]),
        [
          [1, 1_000_000, "GET", `${url}/1`],
          [2, 1_001_500, "POST", `${url}/2`],
          [3, 1_001_750, "GET", `${url}/3`]
        ]
      )
    }))

  it.effect("a request past the end of the script is a defect naming the script's length", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([ok(), ok()])
      yield* test.client.get(url)
      yield* test.client.get(url)
      const exit = yield* Effect.exit(test.client.get(`${url}/extra`))
      const message = defectMessage(exit)
      assert.include(message, "script has 2 steps")
      assert.include(message, "request 3")
      assert.include(message, `GET ${url}/extra`)
      assert.strictEqual((yield* test.requests).length, 3, "the extra request is still recorded")
      // A defect's message is printed by test runners and loggers: no secret of the request's URL in it.
      const secret = yield* Effect.exit(test.client.get("http://u:pw-s3cret@api.test/x?token=tok-s3cret&page=2"))
      const shown = defectMessage(secret)
      assert.include(shown, "request 4 (GET http://<redacted>@api.test/x?token=<redacted>&page=2)")
      assert.notInclude(shown, "s3cret")
    }))

  it.effect("respond sets status, headers and body", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([
        respond(429, { headers: { "Retry-After": "3", "X-Trace": "t1" }, body: "slow down" }),
        respond(200, { body: new TextEncoder().encode("bytes") }),
        ok(),
        respond(204, { body: "ignored" })
      ])
      const limited = yield* test.client.get(url)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "3")
      assert.strictEqual(limited.headers["x-trace"], "t1")
      assert.strictEqual(yield* limited.text, "slow down")
      assert.strictEqual(yield* (yield* test.client.get(url)).text, "bytes")
      const empty = yield* test.client.get(url)
      assert.strictEqual(empty.status, 200)
      assert.strictEqual(yield* empty.text, "")
      assert.strictEqual((yield* test.client.get(url)).status, 204)
    }))

  it.effect("a status outside 200 to 599 is a defect", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([respond(700)])
      const exit = yield* Effect.exit(test.client.get(url))
      assert.include(defectMessage(exit), "got 700")
    }))

  it.effect("fail gives a Transport RequestError whose cause carries the code", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([fail("ECONNRESET"), fail("ENOTFOUND", "getaddrinfo ENOTFOUND api.test")])
      for (
        const [code, message] of [["ECONNRESET", "simulated ECONNRESET"], [
          "ENOTFOUND",
          "getaddrinfo ENOTFOUND api.test"
        ]]
      ) {
        const error = yield* Effect.flip(test.client.get(url))
        assert.instanceOf(error, HttpClientError.RequestError)
        if (error._tag !== "RequestError") return assert.fail("expected a RequestError")
        assert.strictEqual(error.reason, "Transport")
        assert.strictEqual((error.cause as { code: string }).code, code)
        assert.strictEqual((error.cause as Error).message, message)
        assert.strictEqual(error.request.url, url)
      }
    }))

  it.effect("hang never answers until interrupted", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([hang])
      const fiber = yield* Effect.fork(test.client.get(url))
      yield* TestClock.adjust("1 hour")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
    }))

  it.effect("delayed answers after the delay on the Clock", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([delayed("2 seconds", ok("later"))])
      const fiber = yield* Effect.fork(test.client.get(url))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(yield* response.text, "later")
      assert.strictEqual((yield* test.requests)[0].at, 0, "recorded on arrival, not on answer")
    }))

  it.effect("delayed reads durations as a retry policy does", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make([delayed("2s", ok()), delayed(1500, ok())])
      const first = yield* Effect.fork(test.client.get(url))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      const second = yield* Effect.fork(test.client.get(url))
      yield* TestClock.adjust("1499 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(second)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(second)).status, 200)
    }))

  it("delayed refuses a negative, infinite or unreadable delay, naming it", () => {
    for (const [delay, shown] of [[-5, "-5"], [NaN, "NaN"], [Infinity, "Infinity"], ["soon", "\"soon\""]] as const) {
      try {
        delayed(delay as RetryPolicy.DurationInput, ok())
        assert.fail(`expected ${shown} to be refused`)
      } catch (error) {
        assert.instanceOf(error, Cause.IllegalArgumentException)
        assert.include((error as Error).message, `TestHttpClient.delayed: ${shown} is not a delay`)
      }
    }
  })

  it.effect("a script step that is not a step is a defect naming the request and what the script gave", () =>
    Effect.gen(function*() {
      const nothing = yield* TestHttpClient.make(() => undefined as unknown as TestHttpClient.Step)
      assert.strictEqual(
        defectMessage(yield* Effect.exit(nothing.client.get(url))),
        `TestHttpClient: request 1 (GET ${url}): the script gave undefined, not a step (use respond, ok, fail, hang or delayed)`
      )
      const unknown = yield* TestHttpClient.make([{ _tag: "Nope" } as unknown as TestHttpClient.Step])
      assert.include(defectMessage(yield* Effect.exit(unknown.client.get(url))), `the script gave {"_tag":"Nope"}`)
    }))

  it.effect("a script function sees each request and its 1-based index", () =>
    Effect.gen(function*() {
      const seen: Array<readonly [number, string]> = []
      const test = yield* TestHttpClient.make((request, index) => {
        seen.push([index, request.url])
        return index < 3 ? respond(503) : ok(`answer ${index}`)
      })
      for (let i = 1; i <= 4; i++) yield* test.client.get(`${url}/${i}`)
      assert.deepStrictEqual(seen, [[1, `${url}/1`], [2, `${url}/2`], [3, `${url}/3`], [4, `${url}/4`]])
      assert.strictEqual(yield* (yield* test.client.get(url)).text, "answer 5")
    }))

  it.effect("layer provides the client and the recorder", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.execute(HttpClientRequest.del(url))
      assert.strictEqual(response.status, 202)
      const test = yield* TestHttpClient.TestHttpClient
      const requests = yield* test.requests
      assert.deepStrictEqual(requests.map((r) => [r.index, r.request.method]), [[1, "DELETE"]])
    }).pipe(Effect.provide(TestHttpClient.layer([respond(202)]))))

  it.effect("each make has its own script and record", () =>
    Effect.gen(function*() {
      const a = yield* TestHttpClient.make([ok("a")])
      const b = yield* TestHttpClient.make([ok("b")])
      assert.strictEqual(yield* (yield* b.client.get(url)).text, "b")
      assert.strictEqual(yield* (yield* a.client.get(url)).text, "a")
      assert.strictEqual((yield* a.requests).length, 1)
      assert.strictEqual((yield* b.requests).length, 1)
    }))
})
