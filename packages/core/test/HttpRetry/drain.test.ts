import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, type RetryPolicy } from "@http-retry/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { noJitter, url } from "../utils.js"

describe.concurrent("HttpRetry.withRetry: failed attempt's body", () => {
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
    const startsAfterSlowBody = (drainMillis: number, options: RetryPolicy.Options = {}) =>
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
        const fiber = yield* Effect.fork(HttpRetry.withRetry(client, noJitter(options)).get(url))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
        return at
      })

    it.effect("the wait counts from the failure: a body read to the end takes its time out of the wait", () =>
      Effect.map(startsAfterSlowBody(400), (at) => assert.deepStrictEqual(at, [0, 1000])))

    it.effect("a body cut off at the drain timeout (1 s) is followed by the full wait", () =>
      Effect.map(startsAfterSlowBody(5_000), (at) => assert.deepStrictEqual(at, [0, 2000])))

    it.effect("a body cut off near the deadline is cut sooner: the next attempt still starts before maxElapsed", () =>
      // 1 s of backoff and 1.5 s of deadline leave 500 ms to spare: the drain takes 499 of them, not its 1 s.
      Effect.map(
        startsAfterSlowBody(5_000, { maxElapsed: "1500 millis" }),
        (at) => assert.deepStrictEqual(at, [0, 1499])
      ))

    it.effect("a body cut off near the deadline leaves minTimeLeft to the next attempt", () =>
      // With minTimeLeft 200 ms, 300 ms are to spare.
      Effect.map(
        startsAfterSlowBody(5_000, { maxElapsed: "1500 millis", minTimeLeft: "200 millis" }),
        (at) => assert.deepStrictEqual(at, [0, 1299])
      ))

    // When each attempt starts, for a 503 whose endless body sends 16 KiB every 100 ms of Clock time, then a 200;
    // and how many chunks were read.
    const startsAfterEndlessBody = (headers: Record<string, string>) =>
      Effect.gen(function*() {
        const at: Array<number> = []
        let chunks = 0
        const chunk = new Uint8Array(16 * 1024)
        const client = HttpClient.make((request) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            at.push(now)
            if (at.length > 1) return HttpClientResponse.fromWeb(request, new Response("ok", { status: 200 }))
            const response = HttpClientResponse.fromWeb(request, new Response(null, { status: 503, headers }))
            return Object.defineProperty(Object.create(response), "stream", {
              get: () =>
                Stream.repeatEffect(Effect.as(Effect.sleep("100 millis"), chunk)).pipe(
                  Stream.tap(() => Effect.sync(() => chunks++))
                )
            })
          })
        )
        const fiber = yield* Effect.fork(HttpRetry.withRetry(client, noJitter()).get(url))
        yield* TestClock.adjust("10 minutes")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
        return { at, chunks }
      })

    it.effect("a body cut off at maxDrainBytes is followed by the full wait, not the wait left", () =>
      // 128 KiB is 8 chunks: the 9th, at 900 ms, crosses it; then the whole 1 s backoff.
      Effect.map(startsAfterEndlessBody({}), ({ at, chunks }) => {
        assert.deepStrictEqual(at, [0, 1900])
        assert.strictEqual(chunks, 9)
      }))

    it.effect("a body whose Content-Length is over maxDrainBytes is not read: cut at its first chunk", () =>
      Effect.map(startsAfterEndlessBody({ "content-length": "10000000" }), ({ at, chunks }) => {
        assert.deepStrictEqual(at, [0, 1100])
        assert.strictEqual(chunks, 1)
      }))

    it.effect("a huge body is cut off, not read to the end, and the retry still happens", () =>
      Effect.gen(function*() {
        const chunk = new Uint8Array(16 * 1024)
        let bytes = 0
        let cancelled = false
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            // Endless as far as the drain goes; ended at 4 MiB so that a drain reading it all fails, not hangs.
            if (bytes >= 4 * 1024 * 1024) return controller.close()
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
        // Read up to the default maxDrainBytes (128 KiB), then cut: the chunk that crosses it and one read ahead.
        assert.isAtLeast(bytes, 128 * 1024)
        assert.isAtMost(bytes, 128 * 1024 + 2 * chunk.length)
      }))
  })
})
