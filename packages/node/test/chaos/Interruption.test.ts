/**
 * Interruption at random points, drawn from the seed: before the request is sent (a TLS handshake that never
 * completes), while the headers trickle in, while the body trickles in, during a backoff and during a Retry-After
 * wait. After each: no further attempt reaches the server, the socket is closed, no fiber the call forked is still
 * alive (counted with a Supervisor), and no promise was rejected unhandled.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import { eventually, silentListener } from "../harness.js"
import * as TlsFixtures from "../utils/TlsFixtures.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"
import * as Seed from "./Seed.js"

const ledger = Ledger.make("interruption")
beforeAll(() => Seed.announce("Interruption.test.ts"))
afterAll(() => ledger.flush())

const random = Seed.stream("interruption")
/** A whole number of milliseconds in [low, high], from the seed. */
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1))

const ROUNDS = 4

interface Phase {
  readonly name: string
  /** The server's side: what it plays, how to count its attempts and sockets. */
  readonly serve: Effect.Effect<
    { readonly attempts: () => number; readonly openSockets: () => number; readonly url: string },
    never,
    Scope.Scope
  >
  readonly policy: RetryPolicy.RetryPolicy
  /** Holds until the call has reached the point to interrupt in. */
  readonly reached: (attempts: () => number) => Effect.Effect<void>
  /** The random delay after `reached`, in ms. */
  readonly window: readonly [number, number]
  /**
   * Within how many ms of the interruption the socket must close while the layer is still open: an in-flight request
   * is aborted at once; a connection still being set up is the pool's, not the request's, and ends at the layer's
   * connectTimeout. `undefined`: the socket is idle in the pool and closes with the layer.
   */
  readonly closesWithin: number | undefined
  readonly connectTimeout?: number
}

const policy = (options: RetryPolicy.Options = {}) =>
  RetryPolicy.make({ baseDelay: "20 millis", jitter: "none", attemptTimeout: "5 seconds", ...options })

const fromChaos = (server: Chaos.ChaosServer) => ({
  attempts: () => server.requests.length,
  openSockets: server.openSockets,
  url: server.url
})

const phases: ReadonlyArray<Phase> = [
  {
    name: "before the request is sent: a TLS handshake that never completes",
    serve: Effect.map(silentListener, (listener) => ({
      attempts: () => listener.connections,
      openSockets: listener.openSockets,
      url: `https://127.0.0.1:${listener.port}`
    })),
    policy: policy(),
    reached: (attempts) => eventually(() => attempts() === 1),
    window: [0, 150],
    connectTimeout: 400,
    // undici times connections out on coarse timers, up to a second late; well below the 5 s attempt timeout.
    closesWithin: 400 + 2_000
  },
  {
    name: "while the status line and headers arrive a byte every 20 ms",
    serve: Effect.map(Chaos.make(() => Chaos.dripHeaders(200, 20, { body: "late" })), fromChaos),
    policy: policy(),
    reached: (attempts) => eventually(() => attempts() === 1),
    window: [0, 600],
    // At once: well below the 5 s attempt timeout, with room for a loaded machine's turns of the loop.
    closesWithin: 2_000
  },
  {
    name: "while the body arrives a byte every 10 ms",
    serve: Effect.map(Chaos.make(() => Chaos.dripBody(200, 10, { body: "b".repeat(80) })), fromChaos),
    policy: policy(),
    reached: (attempts) => eventually(() => attempts() === 1),
    window: [20, 600],
    // At once: well below the 5 s attempt timeout, with room for a loaded machine's turns of the loop.
    closesWithin: 2_000
  },
  {
    name: "during a 400 ms backoff after a 503",
    serve: Effect.map(Chaos.make(Chaos.sequence([503, 200])), fromChaos),
    policy: policy({ baseDelay: "400 millis" }),
    reached: (attempts) => eventually(() => attempts() === 1),
    // Ends 150 ms before the backoff does: a busy machine's stall must not let the retry go first.
    window: [5, 250],
    closesWithin: undefined
  },
  {
    name: "during a Retry-After: 1 wait",
    serve: Effect.map(
      Chaos.make(Chaos.sequence([Chaos.respond(429, { headers: { "retry-after": "1" } }), 200])),
      fromChaos
    ),
    policy: policy(),
    reached: (attempts) => eventually(() => attempts() === 1),
    window: [5, 900],
    closesWithin: undefined
  }
]

describe.concurrent("interruption at random points", () => {
  for (const phase of phases) {
    for (let round = 1; round <= ROUNDS; round++) {
      const delay = between(...phase.window)
      it.scopedLive(`${phase.name}, ${delay} ms in (round ${round})`, () =>
        Effect.gen(function*() {
          ledger.fault(`interrupted ${phase.name}`)
          const server = yield* phase.serve
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(
            NodeHttpRetry.layer({
              policy: phase.policy,
              tls: { ca: TlsFixtures.ca },
              ...(phase.connectTimeout === undefined ? {} : { connectTimeout: phase.connectTimeout })
            }),
            scope
          )
          const supervisor = yield* Supervisor.track
          const call = HttpClient.get(`${server.url}/interrupted`).pipe(
            Effect.flatMap((response) => response.text),
            Effect.provide(context)
          )
          const fiber = yield* Effect.fork(Effect.supervised(call, supervisor))
          yield* phase.reached(server.attempts)
          yield* Effect.sleep(delay)
          const attemptsAtInterrupt = server.attempts()
          const exit = yield* Fiber.interrupt(fiber)
          const end = Ledger.endOf(exit)
          ledger.end(end)
          assert.isTrue(Exit.isInterrupted(exit), `the call ended before the interruption: ${String(exit)}`)

          const fibers = yield* Ledger.fibersAlive(supervisor)
          ledger.tally.fibersLeft += fibers
          assert.strictEqual(fibers, 0, "fibers left alive")

          if (phase.closesWithin !== undefined) {
            yield* eventually(() => server.openSockets() === 0, phase.closesWithin).pipe(
              Effect.catchAllDefect(() => Effect.void)
            )
            assert.strictEqual(server.openSockets(), 0, "socket still open after the interruption, the layer open")
          }
          // Past every wait the call could have been in: nothing more reaches the server.
          yield* Effect.sleep(phase.name.includes("Retry-After") ? 1_200 : 500)
          assert.strictEqual(attemptsAtInterrupt, 1)
          assert.strictEqual(server.attempts(), 1, "an attempt after the interruption")

          yield* Scope.close(scope, Exit.void)
          yield* eventually(() => server.openSockets() === 0, 1_000).pipe(Effect.catchAllDefect(() => Effect.void))
          ledger.sockets(server.openSockets())
          assert.strictEqual(server.openSockets(), 0, "socket still open after the layer closed")
        }))
    }
  }
})
