import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { performance } from "node:perf_hooks"
import * as TestServer from "../../node/test/utils/TestServer.js"
import { eventually, run, spawn } from "./utils.js"

describe("http-retry and signals", () => {
  it.scopedLive("130: SIGINT while the body is read from a stdin that has not ended exits at once, sending nothing", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(200))
      const running = yield* spawn(["-d", "@-", server.url], { holdStdin: true })
      // 256 KiB, four times a pipe's buffer: written out only once the command is reading stdin, by which time it
      // handles signals (Node's own handler, there from start-up, would die by the signal: exit code null).
      yield* Effect.async<void>((resume) => {
        running.child.stdin!.write(new Uint8Array(256 * 1024).fill(97), () => resume(Effect.void))
      })
      const sentAt = performance.now()
      running.child.kill("SIGINT")
      const result = yield* Effect.timeoutOption(running.finished, "3 seconds")
      assert.isTrue(Option.isSome(result), "still running 3 s after SIGINT")
      if (Option.isSome(result)) {
        assert.strictEqual(result.value.code, 130)
        // Bounded by the 3 s above: not a timing test, a machine under load may take a second to deliver a signal.
        assert.isBelow(result.value.exitedAt - sentAt, 3_000)
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("130: SIGINT during a wait exits at once, and no further attempt is made", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([
        TestServer.respond(503, { headers: { "retry-after": "5" } }),
        TestServer.respond(200)
      ]))
      const running = yield* spawn(["-v", server.url])
      // The verbose line for the first attempt is written just before the wait starts.
      yield* eventually(() => running.stderrSoFar().includes("retrying in 5s (Retry-After)"))
      yield* Effect.sleep("100 millis")
      const sentAt = performance.now()
      running.child.kill("SIGINT")
      const result = yield* running.finished
      assert.strictEqual(result.code, 130)
      assert.isNull(result.signal)
      // Well before the 5 s wait would have ended (a loaded machine may take a second to deliver the signal).
      assert.isBelow(result.exitedAt - sentAt, 3_000)
      // Had anything survived the exit, its attempt would land here well within this second.
      yield* Effect.sleep("1 second")
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(server.openSockets(), 0)
    }))

  it.scopedLive("130: SIGINT during a request that hangs exits at once and closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.hang())
      const running = yield* spawn([server.url])
      yield* eventually(() => server.requests.length === 1)
      const sentAt = performance.now()
      running.child.kill("SIGINT")
      const result = yield* running.finished
      assert.strictEqual(result.code, 130)
      // Well before the 10 s attempt timeout would have ended it.
      assert.isBelow(result.exitedAt - sentAt, 5_000)
      yield* eventually(() => server.openSockets() === 0)
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("143: SIGTERM is an interruption too", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.hang())
      const running = yield* spawn([server.url])
      yield* eventually(() => server.requests.length === 1)
      running.child.kill("SIGTERM")
      const result = yield* running.finished
      assert.strictEqual(result.code, 143)
    }))

  it.scopedLive("no countdown when stderr is a pipe, even for a wait of over a second", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([
        TestServer.respond(503, { headers: { "retry-after": "2" } }),
        TestServer.respond(200, { body: "late" })
      ]))
      const result = yield* run([server.url])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.toString(), "late")
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(server.requests.length, 2)
      assert.isAtLeast(server.requests[1].receivedAt - server.requests[0].receivedAt, 1_900)
    }))
})
