import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { closedPort } from "../../node/test/utils/ClosedPort.js"
import * as TestServer from "../../node/test/utils/TestServer.js"
import * as TlsFixtures from "../../node/test/utils/TlsFixtures.js"
import { binaryBody, run, tempDir } from "./utils.js"

// Retries a few milliseconds apart, so a test of three attempts takes no time.
const fast = ["--base-delay", "10ms", "--no-jitter"]

const lines = (text: string) => text.split("\n").filter((line) => line !== "")

describe("http-retry exit codes", () => {
  it.scopedLive("0: a 2xx body goes to stdout byte for byte, stderr stays empty", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() =>
        TestServer.respond(200, { body: binaryBody, headers: { "content-type": "application/octet-stream" } })
      )
      const result = yield* run([`${server.url}/blob`])
      assert.strictEqual(result.code, 0)
      assert.deepStrictEqual(result.stdout, binaryBody)
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("0: --hedge sends a second attempt beside a slow first one; the first answer wins", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make((request) =>
        request.index === 1 ?
          TestServer.respond(200, { body: "slow", delay: 10_000 }) :
          TestServer.respond(200, { body: "hedged" })
      )
      const result = yield* run(["--hedge", "100ms", "-v", server.url])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.toString(), "hedged")
      assert.strictEqual(server.requests.length, 2)
      const stderr = result.stderr.toString()
      assert.include(stderr, `* GET ${server.url}/: attempt 1/4 no answer after 100ms; hedging with attempt 2`)
      assert.include(stderr, `* GET ${server.url}/: attempt 2/4 -> 200`)
    }))

  it.scopedLive("0: -v with --hedge names the attempt that answered, the first one too when it wins the race", () =>
    Effect.gen(function*() {
      // The first attempt answers after 300 ms, the hedge (sent at 100 ms) after 1 s: the first one wins.
      const server = yield* TestServer.make((request) =>
        TestServer.respond(200, {
          body: request.index === 1 ? "first" : "hedge",
          delay: request.index === 1 ? 300 : 1_000
        })
      )
      const result = yield* run(["--hedge", "100ms", "-v", server.url])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.toString(), "first")
      assert.deepStrictEqual(lines(result.stderr).filter((line) => line.startsWith("* ")), [
        `* GET ${server.url}/: attempt 1/4 no answer after 100ms; hedging with attempt 2`,
        `* GET ${server.url}/: attempt 1/4 -> 200`
      ])
    }))

  it.scopedLive("-v says why the last attempt gave up: a Retry-After too long, a reset", () =>
    Effect.gen(function*() {
      const limited = yield* TestServer.make(() => TestServer.respond(429, { headers: { "retry-after": "3600" } }))
      const refused = yield* run(["-v", limited.url])
      assert.strictEqual(refused.code, 22)
      assert.deepStrictEqual(lines(refused.stderr).filter((line) => line.startsWith("* ")), [
        `* GET ${limited.url}/: attempt 1/4 -> HTTP 429; giving up: RetryAfterTooLong`
      ])
      const reset = yield* TestServer.make(() => TestServer.destroyBeforeHeaders())
      const broken = yield* run([...fast, "--max-attempts", "2", "-v", reset.url])
      assert.strictEqual(broken.code, 56)
      assert.deepStrictEqual(
        lines(broken.stderr).filter((line) => line.startsWith("* ")).map((l) => l.replace(/ -> .*;/, " ->;")),
        [
          `* GET ${reset.url}/: attempt 1/2 ->; retrying in 10ms (backoff)`,
          `* GET ${reset.url}/: attempt 2/2 ->; giving up: AttemptsExhausted`
        ]
      )
    }))

  it.scopedLive("0: 503, 503, 200 succeeds on the third attempt", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([503, 503, TestServer.respond(200, { body: "ok" })]))
      const result = yield* run([...fast, server.url])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.toString(), "ok")
      assert.strictEqual(server.requests.length, 3)
    }))

  it.scopedLive("22: a final 404 gives up at once; its body still goes to stdout, one line to stderr", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(404, { body: "no such thing" }))
      const result = yield* run([...fast, `${server.url}/missing`])
      assert.strictEqual(result.code, 22)
      assert.strictEqual(result.stdout.toString(), "no such thing")
      assert.deepStrictEqual(lines(result.stderr), [
        `http-retry: HTTP 404 for GET ${server.url}/missing after 1 attempt (status not retried)`
      ])
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("22: a 503 that never heals, after --max-attempts", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(503, { body: "busy" }))
      const result = yield* run([...fast, "--max-attempts", "3", server.url])
      assert.strictEqual(result.code, 22)
      assert.strictEqual(result.stdout.toString(), "busy")
      assert.match(result.stderr, /HTTP 503 .* after 3 attempts \(attempts exhausted\)/)
      assert.strictEqual(server.requests.length, 3)
    }))

  it.scopedLive("7: a port nobody listens on, after every attempt", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const result = yield* run([...fast, "--max-attempts", "2", `http://127.0.0.1:${port}/`])
      assert.strictEqual(result.code, 7)
      assert.strictEqual(result.stdout.length, 0)
      assert.deepStrictEqual(lines(result.stderr), [
        `http-retry: could not connect (ECONNREFUSED) to GET http://127.0.0.1:${port}/ after 2 attempts: ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`
      ])
    }))

  it.scopedLive("28: --attempt-timeout runs out on the last attempt", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.hang())
      const result = yield* run([...fast, "--max-attempts", "2", "--attempt-timeout", "200ms", server.url])
      assert.strictEqual(result.code, 28)
      assert.match(result.stderr, /attempt 2 of 2 timed out after 200ms/)
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("28: --max-time caps the whole run, however many attempts are left", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.hang())
      const result = yield* run(["--max-time", "400ms", server.url])
      assert.strictEqual(result.code, 28)
      assert.strictEqual(server.requests.length, 1)
      assert.isBelow(result.elapsed, 5_000)
    }))

  it.scopedLive("28: --max-time is in seconds, as curl's: 0.4 is 400 ms", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.hang())
      const result = yield* run(["--max-time", "0.4", server.url])
      assert.strictEqual(result.code, 28)
      // The attempt's timeout shrinks to the time left, so the attempt and the cap end at the same moment: which of
      // the two timers fires first when the event loop wakes late is the scheduler's, and either says 400 ms.
      const said = lines(result.stderr)
      assert.strictEqual(said.length, 1)
      assert.oneOf(said[0], [
        `http-retry: GET ${server.url}/: attempt 1 of 4 timed out after 400ms`,
        `http-retry: --max-time 400ms ran out: GET ${server.url}/ after 1 attempt`
      ])
      assert.isAtLeast(result.elapsed, 400)
      assert.isBelow(result.elapsed, 5_000)
    }))

  it.scopedLive("--retry-delay: the same wait, in seconds, before every retry; waits print rounded", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([503, 503, TestServer.respond(200, { body: "ok" })]))
      const result = yield* run(["-v", "--retry-delay", "0.05", server.url])
      assert.strictEqual(result.code, 0, result.stderr)
      const waits = lines(result.stderr).filter((line) => line.includes("retrying in"))
      assert.deepStrictEqual(waits, [
        `* GET ${server.url}/: attempt 1/4 -> HTTP 503; retrying in 50ms (backoff)`,
        `* GET ${server.url}/: attempt 2/4 -> HTTP 503; retrying in 50ms (backoff)`
      ])
      assert.isAtLeast(server.requests[2].receivedAt - server.requests[1].receivedAt, 45)

      // A jittered wait is a fraction of a millisecond; it prints as whole milliseconds.
      const jittered = yield* TestServer.make(TestServer.sequence([503, 503, TestServer.respond(200)]))
      const again = yield* run(["-v", "--base-delay", "0.05", jittered.url])
      const printed = lines(again.stderr).filter((line) => line.includes("retrying in"))
      assert.strictEqual(printed.length, 2)
      for (const line of printed) assert.match(line, /; retrying in \d+ms \(backoff\)$/)
    }))

  it.scopedLive("22: --retry-status none and --retry-status \"\" both retry no status", () =>
    Effect.gen(function*() {
      for (const list of ["none", ""]) {
        const server = yield* TestServer.make(() => TestServer.respond(503))
        const result = yield* run([...fast, "--retry-status", list, server.url])
        assert.strictEqual(result.code, 22, list)
        assert.strictEqual(server.requests.length, 1, list)
      }
    }))

  it.scopedLive("28: --max-time also caps a body that stalls after the headers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.stallBody(200, { body: "0123456789" }))
      const result = yield* run(["--max-time", "500ms", server.url])
      assert.strictEqual(result.code, 28)
      assert.strictEqual(result.stdout.toString(), "01234")
      assert.match(result.stderr, /--max-time 500ms ran out/)
    }))

  it.scopedLive("56: a connection reset on the last attempt", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.destroyBeforeHeaders())
      const result = yield* run([...fast, "--max-attempts", "2", server.url])
      assert.strictEqual(result.code, 56)
      assert.match(result.stderr, /connection reset .* after 2 attempts/)
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("56: a body that breaks off, saying how much of it arrived; what arrived went to stdout", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.destroyMidBody(200, { body: "x".repeat(100), sent: 16 }))
      const result = yield* run([server.url])
      assert.strictEqual(result.code, 56)
      assert.strictEqual(result.stdout.toString(), "x".repeat(16))
      assert.strictEqual(
        result.stderr,
        `http-retry: failure receiving the response of GET ${server.url}/: other side closed (UND_ERR_SOCKET) after 16 of 100 body bytes\n`
      )
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("60: a certificate that does not verify is not retried; --cacert and -k get through", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.makeHttps(() => TestServer.respond(200, { body: "secure" }))
      const untrusted = yield* run([...fast, server.url])
      assert.strictEqual(untrusted.code, 60)
      assert.match(
        untrusted.stderr,
        /^http-retry: TLS certificate did not verify \((\w+)\): GET .* after 1 attempt: [^\n]*certificate[^\n]*\n$/
      )
      assert.strictEqual(server.requests.length, 0)

      const dir = yield* tempDir
      const ca = path.join(dir, "ca.pem")
      fs.writeFileSync(ca, TlsFixtures.ca)
      const trusted = yield* run(["--cacert", ca, server.url])
      assert.strictEqual(trusted.code, 0, trusted.stderr)
      assert.strictEqual(trusted.stdout.toString(), "secure")
      assert.strictEqual(trusted.stderr, "")

      const insecure = yield* run(["-k", server.url])
      assert.strictEqual(insecure.code, 0)
      assert.strictEqual(insecure.stdout.toString(), "secure")
      assert.match(insecure.stderr, /^http-retry: warning: TLS certificate verification is off/)
    }))

  it.scopedLive("--silent: no message on stderr, the exit code still tells", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(404, { body: "gone" }))
      const result = yield* run(["-s", server.url])
      assert.strictEqual(result.code, 22)
      assert.strictEqual(result.stdout.toString(), "gone")
      assert.strictEqual(result.stderr, "")
    }))
})
