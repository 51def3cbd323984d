import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"

// --- The misbehaving server -------------------------------------------------------

interface Seen {
  readonly method: string
  readonly at: number
  readonly idempotencyKey: string | undefined
  readonly body: string
  /** Set when the client closed the connection before a delayed answer was sent. */
  aborted: boolean
}

type Answer =
  | {
    readonly status: number
    readonly headers?: http.OutgoingHttpHeaders
    readonly body?: string
    /** Milliseconds before the answer is sent. */
    readonly delay?: number
  }
  | "reset"

/** Per path: what the n-th request (from 0) gets; the last answer repeats. */
const routes: Record<string, ReadonlyArray<Answer>> = {
  "/flaky": [{ status: 503 }, { status: 503 }, { status: 200, body: "{\"items\":[]}" }],
  "/rate-limited": [{ status: 429, headers: { "retry-after": "1" } }, { status: 200, body: "{\"ok\":true}" }],
  "/missing": [{ status: 404, body: "no such item" }],
  "/orders": [{ status: 503 }],
  "/payments": [{ status: 503 }, { status: 503 }, { status: 201, body: "{\"payment\":\"p-1\"}" }],
  "/reset": ["reset", { status: 200, body: "{\"healed\":true}" }],
  "/overloaded": [{ status: 503 }],
  "/sometimes-slow": [
    { status: 200, body: "{\"page\":1}" },
    { status: 200, body: "{\"page\":2}", delay: 3000 },
    { status: 200, body: "{\"page\":2}" },
    { status: 200, body: "{\"page\":3}" },
    { status: 200, body: "{\"page\":4}" }
  ]
}

interface Server {
  readonly origin: string
  readonly seen: (path: string) => ReadonlyArray<Seen>
  readonly close: () => Promise<void>
}

let scenarioStart = performance.now()
const stamp = (): string => `+${String(Math.round(performance.now() - scenarioStart)).padStart(5)} ms`
const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const startServer = (): Promise<Server> => {
  const seen = new Map<string, Array<Seen>>()
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const path = req.url ?? "/"
      const list = seen.get(path) ?? []
      seen.set(path, list)
      const key = req.headers["idempotency-key"]
      const entry: Seen = {
        method: req.method ?? "GET",
        at: performance.now(),
        idempotencyKey: Array.isArray(key) ? key[0] : key,
        body: Buffer.concat(chunks).toString(),
        aborted: false
      }
      list.push(entry)
      const answers = routes[path] ?? [{ status: 404 }]
      const answer = answers[Math.min(list.length, answers.length) - 1]
      const what = answer === "reset" ?
        "connection reset, no answer" :
        answer.delay === undefined ?
        String(answer.status) :
        `${answer.status} in ${ms(answer.delay)}`
      const keyNote = key === undefined ? "" : ` (Idempotency-Key: ${key})`
      const line = `${req.method} ${path} #${list.length}`
      process.stdout.write(`      ${stamp()}  server   ${line}${keyNote} -> ${what}\n`)
      if (answer === "reset") return req.socket.destroy()
      const send = () =>
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers }).end(answer.body ?? "")
      if (answer.delay === undefined) return send()
      const timer = setTimeout(send, answer.delay)
      res.on("close", () => {
        clearTimeout(timer)
        if (res.writableFinished) return
        entry.aborted = true
        process.stdout.write(`      ${stamp()}  server   ${line}: the client closed the connection, no answer sent\n`)
      })
    })
  })
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        origin: `http://127.0.0.1:${port}`,
        seen: (path) => seen.get(path) ?? [],
        close: () => {
          for (const socket of sockets) socket.destroy()
          return new Promise((done) => server.close(() => done()))
        }
      })
    })
  })
}

// --- Scenarios ----------------------------------------------------------------------

const policy = RetryPolicy.make({
  maxAttempts: 4,
  baseDelay: "150 millis",
  factor: 2,
  jitter: "none",
  attemptTimeout: "2 seconds",
  maxElapsed: "10 seconds",
  log: "Info"
})

const ms = (n: number): string => `${Math.round(n)} ms`
const gaps = (seen: ReadonlyArray<Seen>): Array<number> => seen.slice(1).map((s, i) => s.at - seen[i].at)

type Result = Either.Either<HttpClientResponse.HttpClientResponse, unknown>

interface Scenario {
  readonly title: string
  readonly path: string
  readonly run: (origin: string) => Effect.Effect<Result, never, HttpClient.HttpClient>
  /** The outcome line: `Right` when the library did what the scenario expects, `Left` with what went wrong. */
  readonly judge: (result: Result, seen: ReadonlyArray<Seen>, elapsed: number) => Either.Either<string, string>
}

const get = (url: string) => Effect.either(Effect.flatMap(HttpClient.HttpClient, (client) => client.get(url)))

const describe = (result: Result): string =>
  Either.isRight(result) ?
    `HTTP ${result.right.status}` :
    HttpStatusError.isHttpStatusError(result.left) ?
    `HttpStatusError ${result.left.status} (${result.left.reason})` :
    Inspectable.toStringUnknown(result.left)

const expectStatus = (result: Result, status: number): string | undefined =>
  Either.isRight(result) && result.right.status === status
    ? undefined
    : `expected HTTP ${status}, got ${describe(result)}`

const expectGiveUp = (result: Result, reason: HttpStatusError.GiveUpReason): HttpStatusError.HttpStatusError | string =>
  Either.isLeft(result) && HttpStatusError.isHttpStatusError(result.left) && result.left.reason === reason ?
    result.left :
    `expected HttpStatusError with reason ${reason}, got ${describe(result)}`

// Hedging, in a scenario of its own: pages read one after the other, one of them slow.
const hedged: Scenario = {
  title: "four GETs, the second answered after 3 s, with hedging after 500 ms",
  path: "/sometimes-slow",
  run: (origin) =>
    Effect.either(Effect.flatMap(HttpClient.HttpClient, (client) => {
      const hedging = client.pipe(HttpRetry.withHedging({ delay: "500 millis" }))
      return Effect.flatMap(
        Effect.forEach([1, 2, 3, 4], () =>
          Effect.flatMap(hedging.get(`${origin}/sometimes-slow`), (response) => Effect.as(response.text, response))),
        (responses) =>
          Effect.succeed(responses[responses.length - 1])
      )
    })),
  judge: (result, seen, elapsed) => {
    const wrong = expectStatus(result, 200)
    if (wrong !== undefined) return Either.left(wrong)
    if (seen.length !== 5) return Either.left(`expected 5 requests (4 and one hedge), the server saw ${seen.length}`)
    if (!seen[1].aborted) return Either.left("expected the slow attempt to be abandoned, its connection closed")
    if (elapsed >= 3000) return Either.left(`expected the 4 pages well before 3 s, took ${ms(elapsed)}`)
    const hedgeAfter = seen[2].at - seen[1].at
    return Either.right(
      `all 4 pages in ${ms(elapsed)} instead of over 3 s: page 2 had no answer after 500 ms, so the library sent ` +
        `a second attempt (${ms(hedgeAfter)} after the first), took its answer and closed the slow attempt's ` +
        `connection at once; the server saw 5 requests for 4 pages, and the hedge budget (5% of requests, at least ` +
        `1 per 10 s) keeps it from doing that to every slow answer`
    )
  }
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    title: "GET answered 503, 503, then 200",
    path: "/flaky",
    run: (origin) => get(`${origin}/flaky`),
    judge: (result, seen, elapsed) => {
      const wrong = expectStatus(result, 200)
      if (wrong !== undefined) return Either.left(wrong)
      const [first, second] = gaps(seen)
      if (seen.length !== 3 || first < 140 || second < 290) {
        return Either.left(`expected 3 attempts 150 ms then 300 ms apart, the server saw ${seen.length}`)
      }
      return Either.right(
        `succeeded on attempt 3 after ${ms(elapsed)}: 503 is transient and GET is idempotent, so the library ` +
          `retried after 150 ms, then 300 ms (doubling, no jitter); the retries reached the server ` +
          `${ms(first)} and ${ms(second)} after the attempt before`
      )
    }
  },
  {
    title: "429 Too Many Requests with Retry-After: 1",
    path: "/rate-limited",
    run: (origin) => get(`${origin}/rate-limited`),
    judge: (result, seen, elapsed) => {
      const wrong = expectStatus(result, 200)
      if (wrong !== undefined) return Either.left(wrong)
      const [wait] = gaps(seen)
      if (seen.length !== 2 || wait < 950) {
        return Either.left(`expected a retry about 1 s after the 429, the server saw ${seen.length} requests`)
      }
      return Either.right(
        `succeeded on attempt 2 after ${ms(elapsed)}: the library honoured Retry-After instead of its 150 ms ` +
          `backoff; the retry reached the server ${ms(wait)} after the 429`
      )
    }
  },
  {
    title: "GET answered 404",
    path: "/missing",
    run: (origin) => get(`${origin}/missing`),
    judge: (result, seen) => {
      const error = expectGiveUp(result, "NotRetryable")
      if (typeof error === "string") return Either.left(error)
      if (seen.length !== 1 || error.attempts !== 1) {
        return Either.left(`expected 1 attempt, the server saw ${seen.length}`)
      }
      return Either.right(
        `gave up at once with HttpStatusError (status ${error.status}, reason ${error.reason}, ` +
          `${error.attempts} attempt): a 404 will not heal, so a retry would only repeat it`
      )
    }
  },
  {
    title: "POST answered 503, without an Idempotency-Key",
    path: "/orders",
    run: (origin) =>
      Effect.either(
        Effect.flatMap(HttpClient.HttpClient, (client) =>
          client.execute(HttpClientRequest.bodyText(HttpClientRequest.post(`${origin}/orders`), "{\"sku\":\"a1\"}")))
      ),
    judge: (result, seen) => {
      const error = expectGiveUp(result, "MethodNotRetried")
      if (typeof error === "string") return Either.left(error)
      if (seen.length !== 1) return Either.left(`expected 1 attempt, the server saw ${seen.length}`)
      return Either.right(
        `not retried: HttpStatusError (status ${error.status}, reason ${error.reason}) after 1 attempt, ` +
          `because POST is not idempotent and a second attempt could place a second order`
      )
    }
  },
  {
    title: "POST answered 503, 503, then 201, with an Idempotency-Key",
    path: "/payments",
    run: (origin) =>
      Effect.either(Effect.flatMap(HttpClient.HttpClient, (client) =>
        client.execute(
          HttpClientRequest.post(`${origin}/payments`).pipe(
            HttpClientRequest.setHeader("Idempotency-Key", `demo-${randomUUID().slice(0, 8)}`),
            HttpClientRequest.bodyText("{\"amount\":42}", "application/json")
          )
        ))),
    judge: (result, seen, elapsed) => {
      const wrong = expectStatus(result, 201)
      if (wrong !== undefined) return Either.left(wrong)
      const keys = new Set(seen.map((s) => s.idempotencyKey))
      const bodies = new Set(seen.map((s) => s.body))
      if (seen.length !== 3 || keys.size !== 1 || seen[0].idempotencyKey === undefined || bodies.size !== 1) {
        return Either.left(`expected 3 attempts with one key and one body, the server saw ${seen.length}`)
      }
      return Either.right(
        `succeeded on attempt 3 after ${ms(elapsed)}: with an Idempotency-Key the POST is safe to repeat, and ` +
          `the server saw the same key (${seen[0].idempotencyKey}) and body on all 3 attempts`
      )
    }
  },
  {
    title: "GET whose first connection is reset",
    path: "/reset",
    run: (origin) => get(`${origin}/reset`),
    judge: (result, seen, elapsed) => {
      const wrong = expectStatus(result, 200)
      if (wrong !== undefined) return Either.left(wrong)
      if (seen.length !== 2) return Either.left(`expected 2 attempts, the server saw ${seen.length}`)
      return Either.right(
        `succeeded on attempt 2 after ${ms(elapsed)}: a reset connection is a transport failure that can heal, ` +
          `so the library retried it on a new connection`
      )
    }
  },
  {
    title: "GET answered 503 for ever, with a 1 s deadline (maxElapsed) and a 200 ms base delay",
    path: "/overloaded",
    run: (origin) =>
      HttpRetry.withPolicy(get(`${origin}/overloaded`), { maxElapsed: "1 second", baseDelay: "200 millis" }),
    judge: (result, seen, elapsed) => {
      const error = expectGiveUp(result, "DeadlineExceeded")
      if (typeof error === "string") return Either.left(error)
      if (elapsed >= 1000 || seen.length !== error.attempts) {
        return Either.left(`expected to stop before the 1 s deadline, stopped at ${ms(elapsed)}`)
      }
      const next = 200 * 2 ** (error.attempts - 1)
      return Either.right(
        `gave up with HttpStatusError (reason ${error.reason}) after ${error.attempts} attempts at ${ms(elapsed)}: ` +
          `the next wait (${ms(next)}) would have ended past the 1 s deadline, so it did not start it`
      )
    }
  },
  hedged
]

// --- Main ---------------------------------------------------------------------------

const libraryLogger = (origin: string) =>
  Logger.make(({ message }) => {
    const text = (Array.isArray(message) ? message : [message]).map((m) => String(m)).join(" ")
    process.stdout.write(`      ${stamp()}  library  ${text.split(origin).join("")}\n`)
  })

/**
 * The demo: every scenario against the embedded server, through
 * `NodeHttpRetry.layer`. Exit code 0 when every outcome is the expected one.
 *
 * @internal
 */
export const main: Effect.Effect<number> = Effect.acquireUseRelease(
  Effect.promise(startServer),
  (server) =>
    Effect.gen(function*() {
      const started = performance.now()
      yield* say(`http-retry demo: a misbehaving HTTP server on ${server.origin}, and ${scenarios.length} scenarios`)
      yield* say(
        `policy: maxAttempts ${policy.maxAttempts}, baseDelay ${Duration.format(policy.baseDelay)}, factor ` +
          `${policy.factor}, jitter ${policy.jitter} (every wait below is exact), attempt timeout ` +
          `${Duration.format(policy.attemptTimeout)}; times are measured, from the start of each scenario`
      )
      let failed = 0
      for (const [i, scenario] of scenarios.entries()) {
        yield* say(`\n[${i + 1}/${scenarios.length}] ${scenario.title}`)
        scenarioStart = performance.now()
        const result = yield* scenario.run(server.origin)
        const elapsed = performance.now() - scenarioStart
        if (Either.isRight(result)) yield* Effect.ignore(result.right.text)
        const verdict = scenario.judge(result, server.seen(scenario.path), elapsed)
        if (Either.isLeft(verdict)) failed++
        yield* say(
          Either.match(verdict, { onLeft: (why) => `      ✗ UNEXPECTED: ${why}`, onRight: (why) => `      ✓ ${why}` })
        )
      }
      const total = ms(performance.now() - started)
      yield* say(
        failed === 0 ?
          `\nAll ${scenarios.length} scenarios behaved as expected, in ${total}.` :
          `\n${failed} of ${scenarios.length} scenarios did not behave as expected (${total}).`
      )
      return failed === 0 ? 0 : 1
    }).pipe(
      Effect.provide(NodeHttpRetry.layer({ policy })),
      Effect.provide(Logger.replace(Logger.defaultLogger, libraryLogger(server.origin)))
    ),
  (server) => Effect.promise(server.close)
)
