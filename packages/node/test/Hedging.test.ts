/**
 * Hedged requests against a real server: the slow attempt loses, and its request is aborted at once, its socket
 * closed before the server answered (the other project of this package runs the same file on
 * `transport: "platform"`).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Hedging, HttpStatusError } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Supervisor from "effect/Supervisor"
import * as Tracer from "effect/Tracer"
import * as http from "node:http"
import type * as net from "node:net"
import { fibersAlive } from "./chaos/Ledger.js"
import { eventually, fast, timed } from "./harness.js"

const slowMillis = 5_000

interface SlowServer {
  readonly url: string
  /** Requests received. */
  readonly requests: () => number
  /** Slow requests still waiting for their answer, their socket open. */
  readonly waiting: () => number
  /** Slow requests whose socket the client closed before the answer was written. */
  readonly aborted: () => number
  /** TCP connections open right now. */
  readonly openSockets: () => number
  /** The `traceparent` header of each request received, in order. */
  readonly traceparents: () => ReadonlyArray<string | undefined>
}

/**
 * A server that answers at once, except the requests `isSlow` picks, answered after 5 s (or with the status it
 * gives, or a reset before the headers): it counts the slow ones still waiting and those the client gave up on. Closed, every socket destroyed, with the scope; at that point no
 * socket may be left open by the client (the layer is closed first).
 */
const slowServer = (isSlow: (url: string, index: number) => boolean | number | "reset") =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<SlowServer & { readonly close: () => Promise<void> }>((resolve) => {
        const sockets = new Set<net.Socket>()
        let requests = 0
        let waiting = 0
        let aborted = 0
        const traceparents: Array<string | undefined> = []
        const server = http.createServer((req, res) => {
          requests++
          const traceparent = req.headers.traceparent
          traceparents.push(typeof traceparent === "string" ? traceparent : undefined)
          req.resume()
          const slow = isSlow(req.url ?? "", requests)
          if (slow === "reset") return void req.socket.destroy()
          if (typeof slow === "number") return void res.writeHead(slow).end()
          if (!slow) return void res.end(req.url)
          waiting++
          const timer = setTimeout(() => res.end("slow"), slowMillis)
          res.on("close", () => {
            clearTimeout(timer)
            waiting--
            if (!res.writableFinished) aborted++
          })
        })
        server.on("connection", (socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as net.AddressInfo
          resolve({
            url: `http://127.0.0.1:${port}`,
            requests: () => requests,
            waiting: () => waiting,
            aborted: () => aborted,
            openSockets: () => sockets.size,
            traceparents: () => traceparents,
            close: () =>
              new Promise((done) => {
                for (const socket of sockets) socket.destroy()
                server.close(() => done())
              })
          })
        })
      })
    ),
    (server) => Effect.promise(() => server.close())
  )

/** The fiber's tracer, keeping every span it starts. */
const recording = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { spans, tracer }
})

/**
 * The hedge delay of the tests that script the server by the order of arrival: an answer given at once must reach
 * the client well within it, or that attempt is hedged too and the script's next request is the hedge, not the one
 * the test means (a loaded machine took over 50 ms once).
 */
const hedgeDelay = "500 millis"

const hedging = (options: Hedging.Options) =>
  Hedging.layer(options).pipe(Layer.provide(NodeHttpRetry.layer({ policy: fast() })))

describe("hedged requests", () => {
  it.scopedLive("the slow first attempt loses to the hedge: its request is aborted, nothing left open", () =>
    Effect.gen(function*() {
      let first = true
      const server = yield* slowServer(() => {
        const slow = first
        first = false
        return slow
      })
      const { spans, tracer } = yield* recording
      const [bodies, millis] = yield* timed(
        Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const body = yield* Effect.flatMap(client.get(`${server.url}/a`), (response) => response.text)
          // Aborted when the hedge won, not 5 s later.
          yield* eventually(() => server.waiting() === 0)
          const again = yield* Effect.flatMap(client.get(`${server.url}/b`), (response) => response.text)
          return [body, again]
        }).pipe(Effect.provide(hedging({ delay: hedgeDelay })), Effect.withTracer(tracer))
      )
      assert.deepStrictEqual(bodies, ["/a", "/b"])
      // The loser's span ends as an interrupted send's does (the platform's), the winner's with its answer.
      const [loser, winner] = spans.filter((span) => span.kind === "client").slice(0, 2)
      assert.isTrue(loser.status._tag === "Ended" && Exit.isInterrupted(loser.status.exit))
      assert.isTrue(winner.status._tag === "Ended" && Exit.isSuccess(winner.status.exit))
      assert.strictEqual(winner.attributes.get("http_retry.hedge"), true)
      assert.strictEqual(server.requests(), 3)
      assert.strictEqual(server.aborted(), 1)
      // One trace per call, with no caller span: the hedge carries the first attempt's trace id, in a span of its own.
      const [slow, hedge] = server.traceparents().slice(0, 2).map((header) => String(header).split("-"))
      assert.match(slow[1], /^[0-9a-f]{32}$/)
      assert.strictEqual(hedge[1], slow[1])
      assert.notStrictEqual(hedge[2], slow[2])
      assert.isBelow(millis, slowMillis)
      // The layer is closed: no socket of the client is left.
      yield* eventually(() => server.openSockets() === 0)
    }))

  it.scopedLive("a 503 is retried after the backoff, and the retry, slow, is hedged", () =>
    Effect.gen(function*() {
      const server = yield* slowServer((_url, index) => index === 1 ? 503 : index === 2)
      const [body, millis] = yield* timed(
        Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const body = yield* Effect.flatMap(client.get(`${server.url}/c`), (response) => response.text)
          // The loser is aborted while the layer is still open, not by its closing.
          yield* eventually(() => server.waiting() === 0)
          return body
        }).pipe(Effect.provide(hedging({ delay: hedgeDelay })))
      )
      assert.strictEqual(body, "/c")
      assert.strictEqual(server.requests(), 3)
      assert.strictEqual(server.aborted(), 1)
      assert.isBelow(millis, slowMillis)
      yield* eventually(() => server.openSockets() === 0)
    }))

  it.scopedLive("ten concurrent calls, every other one slow: none waits for its slow attempt, none left open", () =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      const server = yield* slowServer((url) => {
        const first = !seen.has(url)
        seen.add(url)
        return first && Number(url.slice(1)) % 2 === 1
      })
      const [bodies, millis] = yield* timed(
        Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const bodies = yield* Effect.forEach(
            Array.from({ length: 10 }, (_, i) => i),
            (i) => Effect.flatMap(client.get(`${server.url}/${i}`), (response) => response.text),
            { concurrency: "unbounded" }
          )
          yield* eventually(() => server.waiting() === 0)
          return bodies
        }).pipe(Effect.provide(hedging({ delay: "200 millis", budget: { minimum: 10 } })))
      )
      assert.deepStrictEqual(bodies, Array.from({ length: 10 }, (_, i) => `/${i}`))
      // One hedge per slow call; a fast call may be hedged too on a busy machine (10 connections opening at once).
      assert.isAtLeast(server.requests(), 15)
      assert.strictEqual(server.aborted(), 5)
      assert.isBelow(millis, slowMillis)
      yield* eventually(() => server.openSockets() === 0)
    }))

  it.scopedLive("a hundred concurrent calls, slow, failing and reset: each ends as it should, no fiber or socket left", () =>
    Effect.gen(function*() {
      // Per call, by its number mod 5: answered at once; first attempt slow (the hedge wins); a 503 first (retried
      // after the backoff); first attempt slow and the hedge answered 404 (the call ends with it, the slow one
      // aborted); a reset before the headers first (retried).
      const arrivals = new Map<string, number>()
      const server = yield* slowServer((url) => {
        const arrival = (arrivals.get(url) ?? 0) + 1
        arrivals.set(url, arrival)
        const kind = Number(url.slice(1)) % 5
        if (arrival > 1) return kind === 3 ? 404 : false
        return kind === 1 || kind === 3 ? true : kind === 2 ? 503 : kind === 4 ? "reset" : false
      })
      const calls = Array.from({ length: 100 }, (_, i) => i)
      const supervisor = yield* Supervisor.track
      const [results, fibers] = yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const results = yield* Effect.forEach(
          calls,
          (i) => Effect.either(Effect.flatMap(client.get(`${server.url}/${i}`), (response) => response.text)),
          { concurrency: "unbounded" }
        ).pipe(Effect.supervised(supervisor))
        // Every slow attempt is aborted while the layer is still open, not by its closing.
        yield* eventually(() => server.waiting() === 0)
        return [results, yield* fibersAlive(supervisor)] as const
      }).pipe(Effect.provide(hedging({ delay: "50 millis", budget: { minimum: 100 } })))
      for (const i of calls) {
        const result = results[i]
        if (i % 5 === 3) {
          assert.isTrue(Either.isLeft(result), `call ${i}`)
          const error = (result as Either.Left<unknown, string>).left
          assert.instanceOf(error, HttpStatusError.HttpStatusError, `call ${i}`)
          assert.strictEqual((error as HttpStatusError.HttpStatusError).status, 404)
          assert.strictEqual((error as HttpStatusError.HttpStatusError).reason, "NotRetryable")
        } else {
          assert.deepStrictEqual(result, Either.right(`/${i}`), `call ${i}`)
        }
      }
      // Two calls in five have a slow first attempt, each aborted when the other attempt ended the call.
      assert.strictEqual(server.aborted(), 40)
      // One request per fast call, two per other call; a fast call may be hedged too on a busy machine.
      assert.isAtLeast(server.requests(), 180)
      assert.strictEqual(fibers, 0, "fibers left running")
      yield* eventually(() => server.openSockets() === 0)
    }))
})
