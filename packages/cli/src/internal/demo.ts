import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"

// --- The misbehaving server -------------------------------------------------------

interface Seen {
  readonly method: string
  /** The request's path and query. */
  readonly url: string
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

/** Paths under this answer 503 from their first request until `OUTAGE_MILLIS` later, then 200, and print nothing. */
const OUTAGE = "/outage/"
const OUTAGE_MILLIS = 1500

interface Server {
  readonly origin: string
  readonly seen: (path: string) => ReadonlyArray<Seen>
  /** When an outage path healed (or will). */
  readonly healAt: (path: string) => number | undefined
  readonly close: () => Promise<void>
}

let scenarioStart = performance.now()
const stamp = (): string => `+${String(Math.round(performance.now() - scenarioStart)).padStart(5)} ms`
const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const startServer = (): Promise<Server> => {
  const seen = new Map<string, Array<Seen>>()
  const healAt = new Map<string, number>()
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const url = req.url ?? "/"
      const path = url.startsWith(OUTAGE) ? url.split("?")[0] : url
      const list = seen.get(path) ?? []
      seen.set(path, list)
      const key = req.headers["idempotency-key"]
      const now = performance.now()
      const entry: Seen = {
        method: req.method ?? "GET",
        url,
        at: now,
        idempotencyKey: Array.isArray(key) ? key[0] : key,
        body: Buffer.concat(chunks).toString(),
        aborted: false
      }
      list.push(entry)
      if (path.startsWith(OUTAGE)) {
        if (!healAt.has(path)) healAt.set(path, now + OUTAGE_MILLIS)
        return void res.writeHead(now < healAt.get(path)! ? 503 : 200).end()
      }
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
        healAt: (path) => healAt.get(path),
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

// --- A retry storm, with and without a retry budget -------------------------------------

const WAVES = 20
const PER_WAVE = 6
const WAVE_MILLIS = 100

interface Call {
  readonly index: number
  readonly start: number
  readonly end: number
  readonly ok: boolean
  readonly attempts: number
}

/** `PER_WAVE` calls every `WAVE_MILLIS` for `WAVES` waves, each its own `?call=` so the server's count is per call. */
const traffic = (server: Server, path: string, budget: boolean): Effect.Effect<ReadonlyArray<Call>> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const t0 = performance.now()
    const one = (index: number) =>
      Effect.suspend(() => {
        const start = performance.now() - t0
        return Effect.map(
          Effect.either(
            Effect.scoped(Effect.flatMap(client.get(`${server.origin}${path}?call=${index}`), (r) => r.text))
          ),
          (result) => ({ index, start, end: performance.now() - t0, ok: Either.isRight(result) })
        )
      })
    const fibers = []
    for (let wave = 0; wave < WAVES; wave++) {
      for (let i = 0; i < PER_WAVE; i++) fibers.push(yield* Effect.fork(one(wave * PER_WAVE + i)))
      yield* Effect.sleep(WAVE_MILLIS)
    }
    const calls = yield* Effect.all(fibers.map((fiber) => Fiber.join(fiber)))
    const attempts = new Map<string, number>()
    for (const s of server.seen(path)) attempts.set(s.url, (attempts.get(s.url) ?? 0) + 1)
    return calls.map((call) => ({ ...call, attempts: attempts.get(`${path}?call=${call.index}`) ?? 0 }))
  }).pipe(
    Effect.provide(NodeHttpRetry.layer({ policy: RetryPolicy.merge(policy, { log: false }), budget }))
  )

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]
}

const perCall = (calls: ReadonlyArray<Call>): number => calls.reduce((n, c) => n + c.attempts, 0) / calls.length

interface Summary {
  readonly line: string
  /** Attempts per call, over the calls whose first attempt reached the server while it was down. */
  readonly whileDown: number
  /** The same, over those whose first attempt came after the first 50 failed attempts (the budget's drain). */
  readonly drained: number
}

/**
 * Counted as the server saw it, so that a slow machine changes the numbers but not what they mean: a call is "while
 * down" if its first attempt arrived before the backend healed, and "drained" if it also arrived after the 50th
 * failed attempt (100 tokens, retries stop at 50).
 */
const summarize = (label: string, server: Server, path: string, calls: ReadonlyArray<Call>): Summary => {
  const seen = server.seen(path)
  const healAt = server.healAt(path) ?? Infinity
  const first = new Map<string, number>()
  for (const s of seen) if (!first.has(s.url)) first.set(s.url, s.at)
  const fiftieth = seen.filter((s) => s.at < healAt)[49]?.at ?? Infinity
  const arrived = (call: Call) => first.get(`${path}?call=${call.index}`) ?? Infinity
  const down = calls.filter((c) => arrived(c) < healAt)
  const drained = down.filter((c) => arrived(c) > fiftieth)
  const failures = calls.filter((c) => !c.ok)
  const failTime = median(failures.map((c) => c.end - c.start))
  const drainedFailTime = median(drained.filter((c) => !c.ok).map((c) => c.end - c.start))
  return {
    whileDown: perCall(down),
    drained: perCall(drained),
    line: `      ${label.padEnd(17)} ${perCall(down).toFixed(2)} attempts per call while down, ` +
      `${perCall(drained).toFixed(2)} after the first 50 failures; ${failures.length} of ${calls.length} calls ` +
      `failed` + (failures.length === 0 ? "" : `, in ${ms(failTime)} (median)`) +
      (drained.length === 0 || Number.isNaN(drainedFailTime) ? "" : `, ${ms(drainedFailTime)} after the 50th`)
  }
}

interface Played {
  readonly title: string
  readonly play: (server: Server) => Effect.Effect<Either.Either<string, string>>
}

const retryStorm: Played = {
  title: `A backend down for ${OUTAGE_MILLIS / 1000} s, then healed: ${PER_WAVE} GETs every ${WAVE_MILLIS} ms, ` +
    `without and with a retry budget`,
  play: (server) =>
    Effect.gen(function*() {
      const [without, withBudget] = yield* Effect.all([
        Effect.map(
          traffic(server, `${OUTAGE}without`, false),
          (calls) => summarize("without a budget:", server, `${OUTAGE}without`, calls)
        ),
        Effect.map(
          traffic(server, `${OUTAGE}with`, true),
          (calls) => summarize("with the budget:", server, `${OUTAGE}with`, calls)
        )
      ], { concurrency: 2 })
      yield* say(without.line)
      yield* say(withBudget.line)
      if (!(withBudget.drained <= 1.2 && withBudget.whileDown < without.whileDown)) {
        return Either.left(
          `expected at most 1.2 attempts per call once the budget had drained, and fewer while down than without ` +
            `it: got ${withBudget.drained.toFixed(2)} and ${withBudget.whileDown.toFixed(2)} ` +
            `(${without.whileDown.toFixed(2)} without)`
        )
      }
      return Either.right(
        `without a budget every call retried into the outage (${without.whileDown.toFixed(1)} attempts per ` +
          `call: the load on the sick backend multiplied); with it, once 50 attempts had failed, each call made ` +
          `${withBudget.drained.toFixed(1)} attempt and failed at once, until the backend healed (RetryBudget: ` +
          `gRPC's retryThrottling, 100 tokens, 0.1 back per success)`
      )
    })
}

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
      yield* say(
        `http-retry demo: a misbehaving HTTP server on ${server.origin}, and ${scenarios.length + 1} scenarios`
      )
      yield* say(
        `policy: maxAttempts ${policy.maxAttempts}, baseDelay ${Duration.format(policy.baseDelay)}, factor ` +
          `${policy.factor}, jitter ${policy.jitter} (every wait below is exact), attempt timeout ` +
          `${Duration.format(policy.attemptTimeout)}; times are measured, from the start of each scenario`
      )
      let failed = 0
      const all: ReadonlyArray<Scenario | Played> = [...scenarios, retryStorm]
      for (const [i, scenario] of all.entries()) {
        yield* say(`\n[${i + 1}/${all.length}] ${scenario.title}`)
        scenarioStart = performance.now()
        let verdict: Either.Either<string, string>
        if ("play" in scenario) {
          verdict = yield* scenario.play(server)
        } else {
          const result = yield* scenario.run(server.origin)
          const elapsed = performance.now() - scenarioStart
          if (Either.isRight(result)) yield* Effect.ignore(result.right.text)
          verdict = scenario.judge(result, server.seen(scenario.path), elapsed)
        }
        if (Either.isLeft(verdict)) failed++
        yield* say(
          Either.match(verdict, { onLeft: (why) => `      ✗ UNEXPECTED: ${why}`, onRight: (why) => `      ✓ ${why}` })
        )
      }
      const total = ms(performance.now() - started)
      yield* say(
        failed === 0 ?
          `\nAll ${scenarios.length + 1} scenarios behaved as expected, in ${total}.` :
          `\n${failed} of ${scenarios.length + 1} scenarios did not behave as expected (${total}).`
      )
      return failed === 0 ? 0 : 1
    }).pipe(
      Effect.provide(NodeHttpRetry.layer({ policy })),
      Effect.provide(Logger.replace(Logger.defaultLogger, libraryLogger(server.origin)))
    ),
  (server) => Effect.promise(server.close)
)
