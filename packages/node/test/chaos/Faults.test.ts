/**
 * The fault matrix: every fault the chaos server can play, under GET (retried as the policy says) and POST (tried once
 * unless the policy lists POST or the request carries an Idempotency-Key), over HTTP and HTTPS, through
 * `NodeHttpRetry.layer`. Each case asserts the attempts the server saw, the error's type and classification, the
 * reason the retry gave up (from its log line) and the real time taken. Then the attempt timeout and the deadline, and
 * what a stalled event loop may not change.
 *
 * Real time on a busy machine: a case may take longer than it should, never less. So each case asserts the least time
 * it can take exactly, and at most `SLACK` more. The attempt timeout is 200 ms only where it is what the case is
 * about (a server that never answers, headers dripped forever); elsewhere it is `ROOM`, 10 s, which a stalled event
 * loop on a loaded machine does not reach, so a 503 or a reset is never turned into a timeout by the machine's load.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { HttpStatusError, RetryPolicy, TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { performance } from "node:perf_hooks"
import { captureLogs, closedPort, eventually, send } from "../harness.js"
import * as TlsFixtures from "../utils/TlsFixtures.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"

const ledger = Ledger.make("faults")
afterAll(() => ledger.flush())

const ATTEMPTS = 3
const BASE = 25
/** The attempt timeout where it ends the attempt: the case is about it. */
const TIMEOUT = 200
/** The attempt timeout where it is not what the case is about: more than any stall of a busy machine. */
const ROOM = 10_000
/**
 * How much longer than its least a case may take: a loaded machine slows every step, but a case this late has waited
 * on something it should not have (less than `ROOM`, so an attempt that only a 10 s timeout ended is caught).
 */
const SLACK = 5_000
/** A failed attempt's unread body is drained before the retry for at most the attempt timeout, capped at 1 s. */
const DRAIN = Math.min(ROOM, 1_000)
/** The backoff waits before attempts 2..n. */
const backoff = (attempts: number) =>
  Array.from({ length: attempts - 1 }, (_, i) => BASE * 2 ** i).reduce((a, b) => a + b, 0)

const policy = (options: RetryPolicy.Options = {}) =>
  RetryPolicy.make({
    maxAttempts: ATTEMPTS,
    baseDelay: `${BASE} millis`,
    jitter: "none",
    attemptTimeout: `${ROOM} millis`,
    log: "Debug",
    ...options
  })

/** What a case must end with. */
interface Expected {
  readonly attempts: number
  /** `ok` (body), or the error's tag. */
  readonly end: "ok" | "HttpStatusError" | "RequestError" | "ResponseError" | "TimeoutException"
  /** The body, the HttpStatusError's status, the RequestError's kind or the ResponseError's reason. */
  readonly detail: string | number
  /** Why the retry gave up, from its last log line; `undefined` when the last attempt answered 2xx. */
  readonly giveUp: HttpStatusError.GiveUpReason | undefined
  /** Least real time the case can take, in ms. */
  readonly least: number
}

interface Row {
  readonly name: string
  /** `undefined`: the server's port is closed. */
  readonly fault: ((elsewhere: string) => Chaos.Fault) | undefined
  /** Under a retried method. */
  readonly retried: Expected
  /** Under a POST without key. */
  readonly once: Expected
  /** The attempt timeout, when the case is about it; `ROOM` otherwise. */
  readonly timeout?: number
}

const retriedEnd = (end: Expected["end"], detail: string | number, least = backoff(ATTEMPTS)): Expected => ({
  attempts: ATTEMPTS,
  end,
  detail,
  giveUp: "AttemptsExhausted",
  least
})
const onceEnd = (end: Expected["end"], detail: string | number, giveUp: Expected["giveUp"], least = 0): Expected => ({
  attempts: 1,
  end,
  detail,
  giveUp,
  least
})
const same = (expected: Expected) => ({ retried: expected, once: expected })

const rows: ReadonlyArray<Row> = [
  {
    name: "503",
    fault: () => Chaos.respond(503),
    retried: retriedEnd("HttpStatusError", 503),
    once: onceEnd("HttpStatusError", 503, "MethodNotRetried")
  },
  {
    name: "500 with a 4 KiB body",
    fault: () => Chaos.respond(500, { body: "e".repeat(4096) }),
    retried: retriedEnd("HttpStatusError", 500),
    once: onceEnd("HttpStatusError", 500, "MethodNotRetried")
  },
  { name: "404", fault: () => Chaos.respond(404), ...same(onceEnd("HttpStatusError", 404, "NotRetryable")) },
  {
    name: "reset (RST) before the headers",
    fault: () => Chaos.resetBeforeHeaders(),
    retried: retriedEnd("RequestError", "ConnectionReset"),
    once: onceEnd("RequestError", "ConnectionReset", "MethodNotRetried")
  },
  {
    name: "reset after the headers of a 503",
    fault: () => Chaos.resetAfterHeaders(503),
    retried: retriedEnd("HttpStatusError", 503),
    once: onceEnd("HttpStatusError", 503, "MethodNotRetried")
  },
  {
    name: "reset after the headers of a 200",
    fault: () => Chaos.resetAfterHeaders(200),
    ...same(onceEnd("ResponseError", "Decode", undefined))
  },
  {
    name: "reset mid-body of a 503",
    fault: () => Chaos.resetMidBody(503),
    retried: retriedEnd("HttpStatusError", 503),
    once: onceEnd("HttpStatusError", 503, "MethodNotRetried")
  },
  {
    name: "reset mid-body of a 200",
    fault: () => Chaos.resetMidBody(200),
    ...same(onceEnd("ResponseError", "Decode", undefined))
  },
  {
    name: "accepts and never answers",
    fault: () => Chaos.hang(),
    timeout: TIMEOUT,
    retried: retriedEnd("TimeoutException", "timed out", ATTEMPTS * TIMEOUT + backoff(ATTEMPTS)),
    once: onceEnd("TimeoutException", "timed out", "MethodNotRetried", TIMEOUT)
  },
  {
    name: "status line and headers a byte every 25 ms",
    fault: () => Chaos.dripHeaders(200, 25),
    timeout: TIMEOUT,
    retried: retriedEnd("TimeoutException", "timed out", ATTEMPTS * TIMEOUT + backoff(ATTEMPTS)),
    once: onceEnd("TimeoutException", "timed out", "MethodNotRetried", TIMEOUT)
  },
  {
    name: "body a byte every 10 ms",
    fault: () => Chaos.dripBody(200, 10),
    ...same(onceEnd("ok", "0123456789abcdef", undefined, 160))
  },
  {
    name: "malformed status line",
    fault: () => Chaos.malformedStatusLine(),
    retried: retriedEnd("RequestError", "Unknown"),
    once: onceEnd("RequestError", "Unknown", "MethodNotRetried")
  },
  {
    name: "Content-Length 100 on a 200, 16 bytes sent, connection closed",
    fault: () => Chaos.lyingLength(200, 100),
    ...same(onceEnd("ResponseError", "Decode", undefined))
  },
  {
    name: "Content-Length 100 on a 503, 16 bytes sent, connection closed",
    fault: () => Chaos.lyingLength(503, 100),
    retried: retriedEnd("HttpStatusError", 503),
    once: onceEnd("HttpStatusError", 503, "MethodNotRetried")
  },
  {
    name: "Content-Length 100 on a 503, 16 bytes sent, then silence",
    fault: () => Chaos.lyingLength(503, 100, { then: "hang" }),
    // The failed attempt's body is drained for at most DRAIN before the retry.
    retried: retriedEnd("HttpStatusError", 503, backoff(ATTEMPTS) + (ATTEMPTS - 1) * DRAIN),
    once: onceEnd("HttpStatusError", 503, "MethodNotRetried")
  },
  {
    name: "Content-Length 4 on a 200, 16 bytes sent",
    fault: () => Chaos.lyingLength(200, 4),
    ...same(onceEnd("ok", "0123", undefined))
  },
  {
    name: "connection refused (closed port)",
    fault: undefined,
    retried: retriedEnd("RequestError", "ConnectionRefused"),
    once: onceEnd("RequestError", "ConnectionRefused", "MethodNotRetried")
  },
  {
    name: "302 to another origin",
    fault: (elsewhere) => Chaos.redirect(`${elsewhere}/landing`),
    ...same(onceEnd("HttpStatusError", 302, "NotRetryable"))
  }
]

interface Variant {
  readonly name: string
  readonly request: (url: string) => HttpClientRequest.HttpClientRequest
  readonly policy: RetryPolicy.Options
  readonly retried: boolean
}

const payload = "{\"order\":42}"
const variants: ReadonlyArray<Variant> = [
  { name: "GET", request: (url) => HttpClientRequest.get(url), policy: {}, retried: true },
  {
    name: "POST",
    request: (url) => HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(payload, "application/json")),
    policy: {},
    retried: false
  },
  {
    name: "POST with an Idempotency-Key",
    request: (url) =>
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyText(payload, "application/json"),
        HttpClientRequest.setHeader("Idempotency-Key", "order-42")
      ),
    policy: {},
    retried: true
  },
  {
    name: "POST, listed in methods",
    request: (url) => HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText(payload, "application/json")),
    policy: { methods: ["GET", "POST"] },
    retried: true
  }
]

/** What the case ended with, in the terms of `Expected`. */
const describeEnd = (exit: Exit.Exit<{ readonly status: number; readonly body: string }, unknown>) => {
  if (Exit.isSuccess(exit)) return { end: "ok", detail: exit.value.body }
  const error = Cause.squash(exit.cause)
  if (HttpStatusError.isHttpStatusError(error)) return { end: error._tag, detail: error.status, error }
  if (Cause.isTimeoutException(error)) return { end: "TimeoutException", detail: "timed out", error }
  if (HttpClientError.isHttpClientError(error)) {
    return error._tag === "RequestError" ?
      { end: error._tag, detail: TransportFailure.classify(error)?.kind ?? error.reason, error } :
      { end: error._tag, detail: error.reason, error }
  }
  return { end: "untyped", detail: String(error), error }
}

const ca = { ca: TlsFixtures.ca }

const runCase = (protocol: "http" | "https", variant: Variant, row: Row) =>
  Effect.gen(function*() {
    ledger.fault(row.name)
    const expected = variant.retried ? row.retried : row.once
    const elsewhere = yield* Chaos.make(() => Chaos.respond(200, { body: "elsewhere" }))
    const start = protocol === "http" ? Chaos.make : Chaos.makeHttps
    const server = row.fault === undefined ? undefined : yield* start(() => row.fault!(elsewhere.url))
    const url = server?.url ?? `${protocol}://127.0.0.1:${yield* closedPort}`
    const logs = captureLogs()
    const began = performance.now()
    const exit = yield* ledger.observe(
      send(
        NodeHttpRetry.layer({
          policy: policy({ ...variant.policy, attemptTimeout: `${row.timeout ?? ROOM} millis` }),
          tls: ca
        }),
        variant.request(`${url}/orders`)
      ).pipe(
        Effect.provide(logs.layer),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
    )
    const elapsed = performance.now() - began
    const ended = describeEnd(exit)
    assert.deepStrictEqual([ended.end, ended.detail], [expected.end, expected.detail], String(ended.error))

    // Attempts as the server saw them; through a closed port, as the retry logged them. Where the attempt timeout is
    // what the case is about it also bounds connecting and the TLS handshake, which a busy machine can make longer than
    // 200 ms: a request may then never reach the server, and the attempts are the ones the retry logged, each ended by
    // its timeout.
    assert.strictEqual(logs.lines.length, expected.attempts, `one log line per attempt: ${JSON.stringify(logs.lines)}`)
    if (server !== undefined && row.timeout === undefined) {
      assert.strictEqual(server.requests.length, expected.attempts, "attempts")
    } else if (server !== undefined) {
      assert.isAtMost(server.requests.length, expected.attempts, "attempts")
      for (const line of logs.lines) assert.match(line.message, /attempt \d\/\d -> timed out;/)
    }
    const last = logs.lines[logs.lines.length - 1].message
    if (expected.giveUp === undefined) assert.match(last, /-> 2\d\d$/)
    else assert.match(last, new RegExp(`giving up: ${expected.giveUp}$`))
    if (HttpStatusError.isHttpStatusError(ended.error)) {
      assert.strictEqual(ended.error.attempts, expected.attempts)
      assert.strictEqual(ended.error.reason, expected.giveUp)
    }

    // Every attempt carried the same request: method, body and key.
    for (const request of server?.requests ?? []) {
      assert.strictEqual(request.method, variant.name.startsWith("GET") ? "GET" : "POST")
      if (request.method === "POST") assert.strictEqual(request.body.toString(), payload)
    }
    if (server !== undefined && variant.name.includes("Idempotency-Key")) {
      assert.deepStrictEqual(new Set(server.requests.map((r) => r.headers["idempotency-key"])), new Set(["order-42"]))
    }
    assert.strictEqual(elsewhere.requests.length, 0, "nothing reached the other origin")

    assert.isAtLeast(elapsed, expected.least - 5, "elapsed")
    assert.isBelow(elapsed, expected.least + SLACK, "elapsed")

    // The layer's scope has closed: nothing may stay open. The server sees a socket close one turn of its event loop
    // after the client closed it, later on a busy machine: a socket still open after 5 s is one the client kept.
    if (server !== undefined) {
      yield* eventually(() => server.openSockets() === 0, 5_000).pipe(Effect.catchAllDefect(() => Effect.void))
      ledger.sockets(server.openSockets())
      assert.strictEqual(server.openSockets(), 0, "open sockets")
    }
  })

describe.concurrent("fault matrix over HTTP", () => {
  for (const variant of variants) {
    for (const row of rows) {
      it.scopedLive(`${variant.name}: ${row.name}`, () => runCase("http", variant, row))
    }
  }
})

describe.concurrent("fault matrix over HTTPS", () => {
  for (const variant of variants.slice(0, 2)) {
    for (const row of rows) {
      it.scopedLive(`${variant.name}: ${row.name}`, () => runCase("https", variant, row))
    }
  }
})

describe("a Content-Length shorter than the body", () => {
  it.scopedLive("the excess is never read as the next answer: the next request gets a new connection", () =>
    Effect.gen(function*() {
      ledger.fault("Content-Length 4 with a whole response smuggled after the body")
      const smuggled = "HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled"
      const server = yield* Chaos.make(Chaos.sequence([
        Chaos.lyingLength(200, 4, { body: `abcd${smuggled}` }),
        Chaos.respond(200, { body: "genuine" })
      ]))
      const bodies = yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const read = (path: string) =>
          ledger.observe(Effect.flatMap(client.get(`${server.url}${path}`), (response) => response.text)).pipe(
            Effect.flatten
          )
        const first = yield* read("/first")
        // Let the excess bytes arrive before the next request is sent.
        yield* Effect.sleep("30 millis")
        return [first, yield* read("/second")]
      }).pipe(Effect.provide(NodeHttpRetry.layer({ policy: policy() })))
      assert.deepStrictEqual(bodies, ["abcd", "genuine"])
      assert.deepStrictEqual(server.requests.map((r) => [r.path, r.connectionId]), [["/first", 1], ["/second", 2]])
    }))
})

describe("attempt timeout and deadline", () => {
  const timedCase = (
    name: string,
    fault: Chaos.Fault,
    options: RetryPolicy.Options,
    expected: { readonly attempts: number; readonly least: number; readonly most: number; readonly end: string }
  ) =>
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        ledger.fault(name)
        const server = yield* Chaos.make(() => fault)
        const began = performance.now()
        const exit = yield* ledger.observe(
          send(NodeHttpRetry.layer({ policy: policy(options) }), HttpClientRequest.get(server.url))
        )
        const elapsed = performance.now() - began
        const ended = describeEnd(exit)
        const reason = HttpStatusError.isHttpStatusError(ended.error) ? `: ${ended.error.reason}` : ""
        assert.strictEqual(`${ended.end}${reason}`, expected.end)
        assert.strictEqual(server.requests.length, expected.attempts)
        assert.isAtLeast(elapsed, expected.least - 5)
        assert.isBelow(elapsed, expected.most)
        yield* eventually(() => server.openSockets() === 0, 5_000)
        ledger.sockets(server.openSockets())
      }))

  // Each bound below is the least time the case can take and, at most SLACK later, less than what the case shows the
  // library did not do (wait out a Retry-After, a backoff past the deadline, a 10 s attempt timeout).
  timedCase(
    "a never-answering server: each attempt ends at attemptTimeout",
    Chaos.hang(),
    { maxAttempts: 2, attemptTimeout: "300 millis" },
    { attempts: 2, least: 2 * 300 + BASE, most: 2 * 300 + BASE + SLACK, end: "TimeoutException" }
  )

  timedCase(
    "headers dripped a byte every 50 ms: the attempt still ends at attemptTimeout, whatever trickles in",
    Chaos.dripHeaders(200, 50),
    { maxAttempts: 2, attemptTimeout: "300 millis" },
    { attempts: 2, least: 2 * 300 + BASE, most: 2 * 300 + BASE + SLACK, end: "TimeoutException" }
  )

  // 1 s and 2 s rather than less: the first answer may take up to 1.5 s on a busy machine and the case still holds.
  timedCase(
    "the deadline cuts a backoff short: 1 s waits, then 2 s would pass maxElapsed 2.5 s",
    Chaos.respond(503),
    { maxAttempts: 5, baseDelay: "1 second", maxElapsed: "2500 millis" },
    { attempts: 2, least: 1_000, most: 1_000 + SLACK, end: "HttpStatusError: DeadlineExceeded" }
  )

  timedCase(
    "the deadline refuses a Retry-After that would pass it, at once",
    Chaos.respond(503, { headers: { "retry-after": "10" } }),
    { maxElapsed: "5 seconds" },
    { attempts: 1, least: 0, most: SLACK, end: "HttpStatusError: RetryAfterTooLong" }
  )

  timedCase(
    "the deadline shrinks the attempt timeout: a 10 s attemptTimeout ends at maxElapsed 300 ms",
    Chaos.hang(),
    { attemptTimeout: "10 seconds", maxElapsed: "300 millis" },
    { attempts: 1, least: 300, most: 300 + SLACK, end: "TimeoutException" }
  )
})

/** Blocks the event loop for `ms`, as a long synchronous task or a GC pause does on a busy machine. */
const stall = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // nothing: the point is to hold the thread
  }
}

describe("a stalled event loop", () => {
  /** A refusal is in the kernel the moment the connection is tried: the stall is sure to pass this timer. */
  const REFUSAL_TIMEOUT = 100
  /** The answer needs the server's turn first, which a busy machine delays: 1 s leaves it room. */
  const ANSWER_TIMEOUT = 1_000
  // After a stall Node runs the timers that expired during it before it reads the I/O that arrived meanwhile: an
  // attempt timer must not win over an answer or a refusal that was already there when it fired.
  const stalledCase = (
    name: string,
    fault: Chaos.Fault | undefined,
    expected: { readonly end: string; readonly detail: string | number }
  ) =>
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        ledger.fault(name)
        let sentAt = 0
        const server = fault === undefined ? undefined : yield* Chaos.make(() => {
          // The answer is written by now: once it is on its way, stall until the attempt's timer is well past due.
          setImmediate(() => stall(sentAt + ANSWER_TIMEOUT + 500 - performance.now()))
          return fault
        })
        const url = server?.url ?? `http://127.0.0.1:${yield* closedPort}`
        const timeout = server === undefined ? REFUSAL_TIMEOUT : ANSWER_TIMEOUT
        const context = yield* Layer.build(NodeHttpRetry.layer({
          policy: policy({ maxAttempts: 1, attemptTimeout: `${timeout} millis` })
        }))
        sentAt = performance.now()
        const request = Effect.flatMap(HttpClient.HttpClient, (client) =>
          Effect.flatMap(
            client.get(url),
            (response) => Effect.map(response.text, (body) => ({ status: response.status, body }))
          )).pipe(Effect.provide(context))
        const fiber = yield* Effect.fork(ledger.observe(request))
        // Through the closed port: stall once the connection is on its way (the fiber sends it before this runs).
        if (server === undefined) yield* Effect.sync(() => setImmediate(() => stall(300)))
        const ended = describeEnd(yield* Fiber.join(fiber))
        // On a very busy machine the request may reach the server only after the attempt's timer was due: the timeout
        // is then right, and the case shows nothing. Node times a timer from the start of the event loop's turn, which
        // may be earlier than `sentAt`: the answer counts as sent in time if it was written half the timeout early.
        const answeredInTime = server === undefined ||
          server.requests[0].receivedAt < sentAt + ANSWER_TIMEOUT / 2
        if (answeredInTime || ended.end !== "TimeoutException") {
          assert.deepStrictEqual([ended.end, ended.detail], [expected.end, expected.detail], String(ended.error))
        }
      }))

  stalledCase(
    "a refusal received during a 300 ms stall, past the 100 ms attempt timeout, is a refusal",
    undefined,
    { end: "RequestError", detail: "ConnectionRefused" }
  )

  stalledCase(
    "an answer received during a stall past the attempt timeout is the answer",
    Chaos.raw("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", "keep"),
    { end: "ok", detail: "ok" }
  )
})
