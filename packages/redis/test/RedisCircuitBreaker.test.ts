import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import * as CircuitBreaker from "@http-retry/core/CircuitBreaker"
import * as RetryPolicy from "@http-retry/core/RetryPolicy"
import { NodeHttpRetry } from "@http-retry/node"
import { RedisCircuitBreaker } from "@http-retry/redis"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Redis } from "ioredis"
import * as util from "node:util"
import { makeStore } from "../src/internal/redisCircuitBreaker.js"
import { acceptedConnections, connectionCases } from "./connectionCases.js"
import { backendServer, spawnFixtures } from "./processes.js"
import { available, redisServer } from "./redisServer.js"

const origin = "http://api.internal.test"
// Where a test is not about slowness, a busy machine must not send a store to deciding alone.
const patient = "10 seconds"
let prefixes = 0
const freshPrefix = () => `test:${process.pid}:${++prefixes}:`

const FAILURE: CircuitBreaker.Outcome = {
  _tag: "Failure",
  failure: { _tag: "Status", status: 503 },
  retryAfterMillis: undefined
}
const SUCCESS: CircuitBreaker.Outcome = { _tag: "Success" }

/** Five failures in a row (the default rule): the breaker opens on the fifth. */
const failFive = (breaker: CircuitBreaker.Service, now: number) => {
  let transition: CircuitBreaker.Transition | undefined
  for (let i = 0; i < 5; i++) {
    const admission = breaker.admit(origin, now)
    assert.strictEqual(admission._tag, "Pass")
    transition = breaker.record(origin, admission, FAILURE, now)
    if (i < 4) assert.isUndefined(transition)
  }
  return transition!
}

/** Log lines at Info and above, as "LEVEL message". */
const collectLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Polls `check` on real time until it holds, for at most `within`. */
const eventually = <A>(check: Effect.Effect<A>, holds: (a: A) => boolean, within = Duration.seconds(10)) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(within)
    for (;;) {
      const value = yield* check
      if (holds(value)) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`still ${JSON.stringify(value)} after ${within}`)
      yield* Effect.sleep("20 millis")
    }
  })

describe("RedisCircuitBreaker options", () => {
  it("takes the connection strings ioredis reads: a URL, host:port, a port, a socket path", () => {
    for (const redis of acceptedConnections) {
      assert.isTrue(Either.isRight(RedisCircuitBreaker.validate({ redis })), redis)
    }
  })

  it("names the field and the value of a bad option", () => {
    const cases: Array<[RedisCircuitBreaker.Options, string]> = [
      [
        { breaker: { openFor: "0 millis" } },
        "RedisCircuitBreaker: breaker.openFor must be greater than zero, got \"0 millis\""
      ],
      [
        { breaker: { halfOpenProbes: 0 } },
        "RedisCircuitBreaker: breaker.halfOpenProbes must be a whole number of at least 1, got 0"
      ],
      [{ keyPrefix: 7 as unknown as string }, "RedisCircuitBreaker: keyPrefix must be a string, got 7"],
      ...connectionCases<RedisCircuitBreaker.Options>("RedisCircuitBreaker"),
      [
        { breaker: { openFor: -1 } },
        "RedisCircuitBreaker: breaker.openFor must be not negative, got -1"
      ],
      [
        { syncInterval: "2 seconds" },
        "RedisCircuitBreaker: probeLease must be at least twice syncInterval (2s), so that a probe renews it in time, got \"3s (the default)\""
      ],
      [
        { syncInterval: "0 millis" },
        "RedisCircuitBreaker: syncInterval must be a finite duration of 1 ms or more, got \"0 millis\""
      ],
      [
        { syncInterval: "1 second", probeLease: "1500 millis" },
        "RedisCircuitBreaker: probeLease must be at least twice syncInterval (1s), so that a probe renews it in time, got \"1500 millis\""
      ],
      [
        { idleExpiry: Duration.infinity },
        "RedisCircuitBreaker: idleExpiry must be a finite duration of 1 ms or more, got object"
      ],
      // A misspelt option is an error rather than the defaults.
      [
        { breakr: { openFor: "1 second" } } as RedisCircuitBreaker.Options,
        "RedisCircuitBreaker: breakr must be an option of RedisCircuitBreaker (redis, client, keyPrefix, breaker, syncInterval, probeLease, idleExpiry, timeout, connectTimeout), got \"…\""
      ],
      [
        { timeout: "soon" as Duration.DurationInput },
        "RedisCircuitBreaker: timeout must be a finite duration of 1 ms or more, got \"soon\""
      ],
      [
        { redis: "redis://127.0.0.1:1", client: new Redis({ lazyConnect: true }) },
        "RedisCircuitBreaker: client must be given alone: the layer uses your client as it is, or makes its own from `redis`, got \"a client and redis options\""
      ]
    ]
    for (const [options, message] of cases) {
      const result = RedisCircuitBreaker.validate(options)
      assert.isTrue(Either.isLeft(result), message)
      if (Either.isLeft(result)) {
        assert.instanceOf(result.left, RedisCircuitBreaker.RedisCircuitBreakerError)
        assert.strictEqual(result.left._tag, "RedisCircuitBreakerError")
        assert.strictEqual(result.left.message, message)
        const kept = JSON.stringify(result.left) + util.inspect(result.left, { depth: 5 })
        for (const secret of ["S3CRET", "hunter2"]) assert.notInclude(kept, secret, message)
      }
    }
    assert.isTrue(Either.isRight(RedisCircuitBreaker.validate({ breaker: { openFor: "1 second" } })))
  })

  it.scopedLive("fails the layer with the error, before any connection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RedisCircuitBreaker.make({ breaker: { consecutiveFailures: -1 } }))
      assert.strictEqual(error.field, "breaker.consecutiveFailures")
      assert.strictEqual(error.value, -1)
    }))
})

/**
 * `count` stores on one real redis-server under a fresh key prefix, as processes of a fleet. By default they sync
 * only when asked (or woken by a transition), and a probe's slot outlives the test.
 */
const storesOn = (count: number, overrides: Partial<RedisCircuitBreaker.Options> = {}) =>
  Effect.gen(function*() {
    const server = yield* redisServer
    const keyPrefix = freshPrefix()
    const options: RedisCircuitBreaker.Options = {
      redis: server.url,
      keyPrefix,
      timeout: patient,
      syncInterval: "1 hour",
      probeLease: "3 hours",
      ...overrides
    }
    const stores: Array<Effect.Effect.Success<ReturnType<typeof makeStore>>> = []
    for (let i = 0; i < count; i++) stores.push(yield* makeStore(options))
    return { stores, server, keyPrefix }
  })

describe.skipIf(!available)("RedisCircuitBreaker on a real redis-server", () => {
  it.scopedLive("an opening in one process is adopted by another at its next sync, with what opened it", () =>
    Effect.gen(function*() {
      const { stores: [a, b], server, keyPrefix } = yield* storesOn(2)
      const now = Date.now()
      assert.strictEqual(b.service.admit(origin, now)._tag, "Pass")
      const opened = failFive(a.service, now)
      assert.deepStrictEqual(opened.opening, { openedAt: now, openUntil: now + 5000, failure: FAILURE.failure })
      assert.strictEqual(a.service.admit(origin, now)._tag, "Reject")
      // B has not synced: it still lets calls go.
      assert.strictEqual(b.service.admit(origin, now)._tag, "Pass")

      const syncedFrom = Date.now()
      yield* a.sync
      const key = `${keyPrefix}open:${origin}`
      const stored = yield* Effect.promise(() => server.admin.hgetall(key))
      assert.strictEqual(stored.by, JSON.stringify({ _tag: "Status", status: 503 }))
      assert.strictEqual(Number(stored.until) - Number(stored.at), 5000)
      const ttl = yield* Effect.promise(() => server.admin.pttl(key))
      // It expires a minute after the open time: not before (Redis' clock is this machine's), not later.
      assert.isTrue(ttl <= 65_000 && ttl >= now + 65_000 - Date.now() - 2, `pttl ${ttl}`)

      yield* b.sync
      const later = Date.now()
      const refused = b.service.admit(origin, later)
      assert.strictEqual(refused._tag, "Reject")
      if (refused._tag === "Reject") {
        assert.strictEqual(refused.state, "Open")
        assert.deepStrictEqual(refused.opening.failure, { _tag: "Status", status: 503 })
        assert.strictEqual(refused.opening.openUntil - refused.opening.openedAt, 5000, "the shared times, exact")
        // Placed on B's clock through Redis' own: off by no more than the syncs took.
        const openedAt = refused.opening.openedAt
        assert.isTrue(openedAt >= now - (later - syncedFrom) - 2 && openedAt <= later + 2, `${openedAt - now}`)
      }
      const status = b.service.status(origin, later)
      assert.strictEqual(status._tag, "Open")
      // B's metrics say so, though no call of B saw it open.
      const gauge = yield* Metric.value(Metric.tagged(CircuitBreaker.metrics.state, "origin", origin))
      assert.strictEqual(gauge.value, 2)
    }))

  it.scoped("under TestClock: the opener's times to the millisecond, the probe at the end of the open time", () =>
    Effect.gen(function*() {
      // Syncs only when asked (or woken by a transition): the clock is moved by hand.
      const { stores: [a, b] } = yield* storesOn(2)
      const at = (millis: number) => Effect.zipRight(TestClock.setTime(millis), Clock.currentTimeMillis)
      assert.strictEqual(b.service.admit(origin, yield* at(0))._tag, "Pass")
      const opening: CircuitBreaker.Opening = { openedAt: 0, openUntil: 5000, failure: FAILURE.failure }
      assert.deepStrictEqual(failFive(a.service, 0), { from: "Closed", to: "Open", opening })
      yield* a.sync
      yield* b.sync
      const adopted = b.service.status(origin, 0)
      assert.strictEqual(adopted._tag, "Open")
      if (adopted._tag === "Open") assert.strictEqual(adopted.opening.openUntil - adopted.opening.openedAt, 5000)

      const refused = a.service.admit(origin, yield* at(4999))
      assert.deepStrictEqual(refused, { _tag: "Reject", state: "Open", opening })
      // At its end: no slot yet, refused; the next sync claims it, and the probe goes.
      const waiting = a.service.admit(origin, yield* at(5000))
      assert.deepStrictEqual(waiting, { _tag: "Reject", state: "HalfOpen", opening })
      yield* a.sync
      const probe = a.service.admit(origin, 5000)
      assert.strictEqual(probe._tag, "Probe")
      assert.deepStrictEqual(probe._tag === "Probe" && probe.transition, {
        from: "Open",
        to: "HalfOpen",
        opening: undefined
      })
      assert.deepStrictEqual(a.service.status(origin, 5000), { _tag: "HalfOpen", opening, probes: 1 })
      assert.strictEqual(b.service.admit(origin, 5000)._tag, "Reject")
      yield* b.sync
      assert.strictEqual(b.service.admit(origin, 5000)._tag, "Reject", "the slot is A's")

      assert.deepStrictEqual(a.service.record(origin, probe, SUCCESS, yield* at(5250)), {
        from: "HalfOpen",
        to: "Closed",
        opening: undefined
      })
      yield* a.sync
      yield* b.sync
      assert.deepStrictEqual(b.service.status(origin, 5250), { _tag: "Closed" })
      assert.strictEqual(b.service.admit(origin, 5250)._tag, "Pass")
    }))

  it.scopedLive("the fleet sends one probe: the slot is taken once; its success closes every process", () =>
    Effect.gen(function*() {
      const { stores: fleet, server, keyPrefix } = yield* storesOn(3, { breaker: { openFor: "200 millis" } })
      for (const p of fleet.slice(1)) assert.strictEqual(p.service.admit(origin, Date.now())._tag, "Pass")
      failFive(fleet[0].service, Date.now())
      for (const p of fleet) yield* p.sync
      yield* Effect.sleep("250 millis")
      // Half-open everywhere: no process has a slot yet, each refuses and asks for one.
      const now = Date.now()
      for (const p of fleet) {
        const admission = p.service.admit(origin, now)
        assert.strictEqual(admission._tag, "Reject")
        assert.strictEqual(admission._tag === "Reject" && admission.state, "HalfOpen")
      }
      for (const p of fleet) yield* p.sync
      const admissions = fleet.map((p) => p.service.admit(origin, Date.now()))
      assert.deepStrictEqual(admissions.map((a) => a._tag), ["Probe", "Reject", "Reject"])
      assert.deepStrictEqual(admissions[0]._tag === "Probe" && admissions[0].transition, {
        from: "Open",
        to: "HalfOpen",
        opening: undefined
      })
      // A second call of the prober waits for its probe, as in one process.
      assert.strictEqual(fleet[0].service.admit(origin, Date.now())._tag, "Reject")
      const slots = yield* Effect.promise(() => server.admin.keys(`${keyPrefix}probe:*`))
      assert.deepStrictEqual(slots, [`${keyPrefix}probe:${origin}:1`])

      const closed = fleet[0].service.record(origin, admissions[0], SUCCESS, Date.now())
      assert.deepStrictEqual(closed, { from: "HalfOpen", to: "Closed", opening: undefined })
      yield* fleet[0].sync
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(`${keyPrefix}open:${origin}`)), 0)
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(slots[0])), 0, "the slot given back")
      for (const p of fleet.slice(1)) {
        assert.strictEqual(p.service.admit(origin, Date.now())._tag, "Reject", "until its sync")
        yield* p.sync
        assert.strictEqual(p.service.admit(origin, Date.now())._tag, "Pass")
        assert.strictEqual(p.service.status(origin, Date.now())._tag, "Closed")
      }
      // Closed afresh: counting starts again from nothing (four failures do not open it).
      for (let i = 0; i < 4; i++) {
        assert.isUndefined(fleet[1].service.record(origin, { _tag: "Pass" }, FAILURE, Date.now()))
      }
    }))

  it.scopedLive("a probe's failure opens the origin again for the whole fleet", () =>
    Effect.gen(function*() {
      const { stores: [a, b] } = yield* storesOn(2, { breaker: { openFor: "200 millis" } })
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      failFive(a.service, Date.now())
      yield* a.sync
      yield* b.sync
      yield* Effect.sleep("250 millis")
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Reject")
      yield* b.sync
      const probe = b.service.admit(origin, Date.now())
      assert.strictEqual(probe._tag, "Probe")
      const failedAt = Date.now()
      const reopened = b.service.record(origin, probe, {
        _tag: "Failure",
        failure: { _tag: "Timeout" },
        retryAfterMillis: undefined
      }, failedAt)
      assert.deepStrictEqual(reopened, {
        from: "HalfOpen",
        to: "Open",
        opening: { openedAt: failedAt, openUntil: failedAt + 200, failure: { _tag: "Timeout" } }
      })
      yield* b.sync
      yield* a.sync
      const refused = a.service.admit(origin, Date.now())
      assert.strictEqual(refused._tag, "Reject")
      if (refused._tag === "Reject") assert.deepStrictEqual(refused.opening.failure, { _tag: "Timeout" })
    }))

  it.scopedLive("a Retry-After opens it longer, for the fleet; one on a call in flight pushes the end back for all", () =>
    Effect.gen(function*() {
      const { stores: [a, b], server, keyPrefix } = yield* storesOn(2)
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      const now = Date.now()
      for (let i = 0; i < 4; i++) a.service.record(origin, { _tag: "Pass" }, FAILURE, now)
      const opened = a.service.record(origin, { _tag: "Pass" }, { ...FAILURE, retryAfterMillis: 30_000 }, now)
      assert.deepStrictEqual(opened?.opening, { openedAt: now, openUntil: now + 30_000, failure: FAILURE.failure })
      yield* a.sync
      yield* b.sync
      const first = b.service.status(origin, Date.now())
      assert.strictEqual(first._tag, "Open")
      if (first._tag === "Open") assert.strictEqual(first.opening.openUntil - first.opening.openedAt, 30_000)

      // A call sent before it opened ends with a longer Retry-After: the end moves, here and there.
      const later = Date.now()
      assert.isUndefined(a.service.record(origin, { _tag: "Pass" }, { ...FAILURE, retryAfterMillis: 60_000 }, later))
      const extended = a.service.status(origin, later)
      assert.strictEqual(extended._tag === "Open" && extended.opening.openUntil, later + 60_000)
      yield* a.sync
      const stored = yield* Effect.promise(() => server.admin.hgetall(`${keyPrefix}open:${origin}`))
      assert.strictEqual(Number(stored.until) - Number(stored.at), later + 60_000 - now)
      yield* b.sync
      const second = b.service.status(origin, Date.now())
      assert.strictEqual(second._tag, "Open")
      if (second._tag === "Open" && first._tag === "Open") {
        assert.strictEqual(second.opening.openedAt, first.opening.openedAt)
        const length = second.opening.openUntil - second.opening.openedAt
        assert.isTrue(Math.abs(length - (later + 60_000 - now)) < 1000, `${length}`)
      }
    }))

  it.scopedLive("a stray key at an origin's opening or slot (another type, not times) fails no other origin", () =>
    Effect.gen(function*() {
      const { stores: [a, b], server, keyPrefix } = yield* storesOn(2)
      const stray = "http://stray.test", garbled = "http://garbled.test"
      yield* Effect.promise(() => server.admin.set(`${keyPrefix}open:${stray}`, "x"))
      yield* Effect.promise(() =>
        server.admin.hset(`${keyPrefix}open:${garbled}`, "id", "1", "until", "nan", "at", "inf")
      )
      for (const store of [a, b]) {
        for (const o of [stray, garbled, origin]) assert.strictEqual(store.service.admit(o, Date.now())._tag, "Pass")
      }
      failFive(a.service, Date.now())
      yield* a.sync
      yield* b.sync
      assert.strictEqual(b.service.status(origin, Date.now())._tag, "Open")
      assert.strictEqual(b.service.status(stray, Date.now())._tag, "Closed")
      assert.strictEqual(b.service.status(garbled, Date.now())._tag, "Closed")
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(`${keyPrefix}open:${stray}`)), 0)
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(`${keyPrefix}open:${garbled}`)), 0)
    }))

  it.scopedLive("Redis losing an opening still open (a flush, a restart) closes nothing: the next sync writes it back", () =>
    Effect.gen(function*() {
      const { stores: [a, b], server, keyPrefix } = yield* storesOn(2, {
        breaker: { openFor: "1 minute" },
        syncInterval: "1 second"
      })
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      failFive(a.service, Date.now())
      yield* a.sync
      yield* b.sync
      assert.strictEqual(b.service.status(origin, Date.now())._tag, "Open")
      yield* Effect.promise(() => server.admin.flushall())
      // Each finds it gone: neither closes, and the first to sync again writes it back for both.
      yield* a.sync
      yield* b.sync
      assert.strictEqual(a.service.status(origin, Date.now())._tag, "Open")
      assert.strictEqual(b.service.status(origin, Date.now())._tag, "Open")
      yield* a.sync
      const stored = yield* Effect.promise(() => server.admin.hgetall(`${keyPrefix}open:${origin}`))
      assert.strictEqual(stored.by, JSON.stringify({ _tag: "Status", status: 503 }))
      yield* b.sync
      assert.strictEqual(b.service.status(origin, Date.now())._tag, "Open")
    }))

  it.scopedLive("a server that does not answer (stopped, not gone): each breaker goes on alone after `timeout`", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const options: RedisCircuitBreaker.Options = {
        redis: server.url,
        keyPrefix,
        syncInterval: "20 millis",
        probeLease: "1 second",
        timeout: "1 second",
        breaker: { openFor: "200 millis" }
      }
      const a = yield* makeStore(options)
      const b = yield* makeStore(options)
      assert.strictEqual(a.service.admit(origin, Date.now())._tag, "Pass")
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      yield* Effect.sleep("100 millis")
      const pid = Number((yield* Effect.promise(() => server.admin.info("server"))).match(/process_id:(\d+)/)![1])
      process.kill(pid, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid, "SIGCONT")))
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 2)
      for (const line of logs.lines) assert.match(line, /^WARN .*unreachable or slow \(no answer within 1s\)/)

      // A opens, refuses, and when the open time is over probes without a slot, and closes: all on its own.
      failFive(a.service, Date.now())
      assert.strictEqual(a.service.admit(origin, Date.now())._tag, "Reject")
      yield* Effect.sleep("250 millis")
      const probe = a.service.admit(origin, Date.now())
      assert.strictEqual(probe._tag, "Probe")
      assert.strictEqual(a.service.record(origin, probe, SUCCESS, Date.now())?.to, "Closed")
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")

      process.kill(pid, "SIGCONT")
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 4)
      for (const line of logs.lines.slice(2)) assert.match(line, /^INFO .*answers again; the breaker is shared again$/)
      yield* Effect.sleep("200 millis")
      assert.strictEqual(logs.lines.length, 4, logs.lines.join("\n"))
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(`${keyPrefix}open:${origin}`)), 0)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive(
    "through the layers: one process opens, the other stops sending; one probe closes both",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const keyPrefix = freshPrefix()
        let healthy = false
        const seen = { a: 0, b: 0 }
        let holding: (() => void) | undefined
        const base = yield* backendServer((request, response) => {
          seen[request.url === "/a" ? "a" : "b"]++
          if (!healthy) return response.writeHead(503).end("down")
          // The first answer after healing is held until the test lets it go.
          if (holding === undefined) {
            holding = () => response.writeHead(200).end("ok")
            return
          }
          response.writeHead(200).end("ok")
        })
        const processLayer = NodeHttpRetry.layer({ policy: RetryPolicy.make({ maxAttempts: 1 }), breaker: true }).pipe(
          Layer.provide(RedisCircuitBreaker.layer({
            redis: server.url,
            keyPrefix,
            timeout: patient,
            breaker: { openFor: "1 second" }
          }))
        )
        // Two "processes": each its own layer, so its own breaker and connection.
        const a = yield* Layer.build(processLayer)
        const b = yield* Layer.build(processLayer)
        const call = (context: typeof a, path: string) =>
          HttpClient.get(`${base}${path}`).pipe(
            Effect.flatMap((response) => response.text),
            Effect.either,
            Effect.provide(context)
          )

        assert.isTrue(Either.isLeft(yield* call(b, "/b")), "B knows the origin: a 503")
        for (let i = 0; i < 5; i++) assert.isTrue(Either.isLeft(yield* call(a, "/a")))
        assert.strictEqual(seen.a, 5)
        const opened = yield* call(a, "/a")
        assert.isTrue(Either.isLeft(opened) && CircuitBreaker.isCircuitOpenError(opened.left), "A is open")
        assert.strictEqual(seen.a, 5)

        // B learns it at a sync of its own: from then on it sends nothing.
        const refused = yield* eventually(
          call(b, "/b"),
          (r) => Either.isLeft(r) && CircuitBreaker.isCircuitOpenError(r.left)
        )
        const sentByB = seen.b
        const error: unknown = Either.isLeft(refused) ? refused.left : undefined
        assert.isTrue(CircuitBreaker.isCircuitOpenError(error))
        if (CircuitBreaker.isCircuitOpenError(error)) {
          assert.deepStrictEqual(error.openedBy, { _tag: "Status", status: 503 })
          assert.strictEqual(error.openUntil - error.openedAt, 1000)
          assert.strictEqual(error.state, "Open")
        }
        for (let i = 0; i < 10; i++) assert.isTrue(Either.isLeft(yield* call(b, "/b")))
        assert.strictEqual(seen.b, sentByB, "no call of B reached the backend")

        // Healed. Both call on until the one probe of the fleet arrives; while it is held, nothing else is sent.
        healthy = true
        const before = seen.a + seen.b
        let released = false
        const loop = (context: typeof a, path: string) =>
          Effect.gen(function*() {
            while (!released) {
              yield* call(context, path)
              yield* Effect.sleep("10 millis")
            }
          })
        // Two callers per process: the prober's other caller is refused while its probe is out, as in one process.
        yield* Effect.forkScoped(
          Effect.all([loop(a, "/a"), loop(a, "/a"), loop(b, "/b"), loop(b, "/b")], { concurrency: "unbounded" })
        )
        yield* eventually(Effect.sync(() => holding), (h) => h !== undefined)
        yield* Effect.sleep("500 millis")
        assert.strictEqual(seen.a + seen.b - before, 1, "one probe for the fleet")
        released = true
        holding!()
        yield* eventually(call(a, "/a"), Either.isRight)
        yield* eventually(call(b, "/b"), Either.isRight)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "two processes: one opens, the other stops sending at its next sync; both end with nothing open",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const keyPrefix = freshPrefix()
        const seen: Record<string, number> = { "/a": 0, "/b": 0 }
        const base = yield* backendServer((request, response) => {
          seen[request.url ?? ""]++
          response.writeHead(503).end("down")
        })
        const { endInput, exits, next, send } = yield* spawnFixtures(
          "breakerClient.ts",
          ["/a", "/b"].map((p) => ({ redis: server.url, keyPrefix, backend: base + p }))
        )
        const call = (i: number) =>
          Effect.suspend(() => {
            send(i, "call\n")
            return Effect.map(next(i), (line) =>
              JSON.parse(line) as {
                outcome: string
                openedBy?: CircuitBreaker.Failure
                length?: number
              })
          })
        for (let i = 0; i < 2; i++) assert.strictEqual(yield* next(i), "ready")

        assert.strictEqual((yield* call(1)).outcome, "HttpStatusError", "B knows the origin")
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* call(0)).outcome, "HttpStatusError")
        assert.deepStrictEqual(yield* call(0), {
          outcome: "CircuitOpenError",
          openedBy: { _tag: "Status", status: 503 },
          length: 5000
        })
        assert.strictEqual(seen["/a"], 5)
        const refused = yield* eventually(call(1), (r) => r.outcome === "CircuitOpenError")
        assert.deepStrictEqual(refused, {
          outcome: "CircuitOpenError",
          openedBy: { _tag: "Status", status: 503 },
          length: 5000
        })
        const sentByB = seen["/b"]
        for (let i = 0; i < 5; i++) assert.strictEqual((yield* call(1)).outcome, "CircuitOpenError")
        assert.strictEqual(seen["/b"], sentByB, "no call of B reached the backend")

        endInput()
        assert.deepStrictEqual(yield* exits, [0, 0], "each process ended by itself: no handle left open")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("Redis killed and back: breakers go on alone, one warning, one info line, then share again", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const options: RedisCircuitBreaker.Options = {
        redis: { port: server.port, host: "127.0.0.1", retryStrategy: () => 50 },
        keyPrefix,
        syncInterval: "20 millis",
        timeout: patient,
        breaker: { openFor: "30 seconds" }
      }
      const a = yield* makeStore(options)
      const b = yield* makeStore(options)
      assert.strictEqual(a.service.admit(origin, Date.now())._tag, "Pass")
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(logs.lines, [])

      yield* server.stop
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 2)
      // Alone: A opens on its own counts, refuses; B, which saw nothing, lets calls go.
      failFive(a.service, Date.now())
      assert.strictEqual(a.service.admit(origin, Date.now())._tag, "Reject")
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      yield* Effect.sleep("200 millis")
      assert.strictEqual(logs.lines.length, 2, logs.lines.join("\n"))
      for (const line of logs.lines) {
        assert.match(line, new RegExp(`^WARN http-retry breaker: Redis at 127.0.0.1:${server.port} is unreachable`))
      }

      // Back, empty: A's opening, still running, is written; B adopts it.
      yield* server.start
      yield* eventually(Effect.sync(() => b.service.admit(origin, Date.now())._tag), (tag) => tag === "Reject")
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 4)
      assert.deepStrictEqual(logs.lines.slice(2), [
        `INFO http-retry breaker: Redis at 127.0.0.1:${server.port} answers again; the breaker is shared again`,
        `INFO http-retry breaker: Redis at 127.0.0.1:${server.port} answers again; the breaker is shared again`
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("no server at all: the layer builds, the breaker opens, probes and closes alone, one warning", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* server.stop
      const { service } = yield* makeStore({
        redis: server.url,
        connectTimeout: "100 millis",
        breaker: { openFor: "100 millis", halfOpenProbes: 2 }
      })
      const opened = failFive(service, Date.now())
      assert.strictEqual(opened.to, "Open")
      assert.strictEqual(service.admit(origin, Date.now())._tag, "Reject")
      yield* Effect.sleep("150 millis")
      // Alone, the local numbers: two probes.
      const first = service.admit(origin, Date.now())
      const second = service.admit(origin, Date.now())
      assert.deepStrictEqual([first._tag, second._tag], ["Probe", "Probe"])
      assert.strictEqual(service.admit(origin, Date.now())._tag, "Reject")
      assert.deepStrictEqual(service.record(origin, first, SUCCESS, Date.now()), {
        from: "HalfOpen",
        to: "Closed",
        opening: undefined
      })
      assert.strictEqual(service.admit(origin, Date.now())._tag, "Pass")
      yield* Effect.sleep("300 millis")
      assert.strictEqual(logs.lines.length, 1, logs.lines.join("\n"))
      assert.match(logs.lines[0], /^WARN .*unreachable or slow \(no connection within 100ms\)/)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("keys expire: a slot and an opening are renewed while a probe is out, and expire when nothing renews them", () =>
    Effect.gen(function*() {
      const { stores: [a, b], server, keyPrefix } = yield* storesOn(2, {
        syncInterval: "50 millis",
        probeLease: "1 second",
        idleExpiry: "2 seconds",
        breaker: { openFor: "300 millis" }
      })
      assert.strictEqual(b.service.admit(origin, Date.now())._tag, "Pass")
      const opened = Date.now()
      failFive(a.service, opened)
      yield* a.sync
      const key = `${keyPrefix}open:${origin}`
      const ttl = yield* Effect.promise(() => server.admin.pttl(key))
      // idleExpiry after the open time: not before, not later.
      assert.isTrue(ttl <= 2300 && ttl >= opened + 2300 - Date.now() - 2, `pttl ${ttl}`)
      yield* eventually(Effect.sync(() => b.service.status(origin, Date.now())._tag), (tag) => tag !== "Closed")
      // B wants to probe: refused until its sync claims the slot, then its probe goes.
      let probe: CircuitBreaker.Admission = { _tag: "Pass" }
      yield* eventually(
        Effect.sync(() => {
          probe = b.service.admit(origin, Date.now())
          return probe._tag
        }),
        (tag) => tag === "Probe"
      )
      const slot = `${keyPrefix}probe:${origin}:1`
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(slot)), 1)
      // While the probe is out, its slot and the opening are renewed; A's calls are refused.
      // Longer than the slot's lease, and than the opening had left.
      yield* Effect.sleep("2500 millis")
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(slot)), 1, "renewed while the probe is out")
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(key)), 1, "kept while the probe is out")
      assert.strictEqual(a.service.admit(origin, Date.now())._tag, "Reject")
      // The probe is interrupted: nothing renews them any more, both expire, and every process is closed again.
      b.service.release(origin, probe)
      yield* eventually(Effect.promise(() => server.admin.exists(slot, key)), (n) => n === 0)
      yield* eventually(Effect.sync(() => a.service.status(origin, Date.now())._tag), (tag) => tag === "Closed")
      yield* eventually(Effect.sync(() => b.service.status(origin, Date.now())._tag), (tag) => tag === "Closed")
    }))

  it.scopedLive("closing the scope while Redis does not answer (stopped) takes its timeout, not the outage", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const scope = yield* Scope.make()
      const service = yield* RedisCircuitBreaker.make({
        redis: server.url,
        keyPrefix: freshPrefix(),
        timeout: "300 millis",
        syncInterval: "1 hour",
        probeLease: "3 hours"
      }).pipe(Scope.extend(scope))
      const pid = Number((yield* Effect.promise(() => server.admin.info("server"))).match(/process_id:(\d+)/)![1])
      process.kill(pid, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid, "SIGCONT")))
      failFive(service, Date.now())
      const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"), Effect.either)
      assert.isTrue(Either.isRight(closed), "the scope did not close while Redis was stopped")
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))

  it.live("closing the scope writes what is pending, gives back its slot, quits, and leaves no handle open", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const server = yield* redisServer.pipe(Scope.extend(outer))
      const keyPrefix = freshPrefix()
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
      const before = sockets()
      const clients = () =>
        Effect.promise(async () => String(await server.admin.client("LIST")).split("\n").filter((l) => l.trim()).length)
      assert.strictEqual(yield* clients(), 1)

      const scope = yield* Scope.make()
      const service = yield* RedisCircuitBreaker.make({
        redis: server.url,
        keyPrefix,
        timeout: patient,
        syncInterval: "1 hour",
        probeLease: "3 hours"
      }).pipe(Scope.extend(scope))
      assert.strictEqual(yield* clients(), 2)
      // Opened just now: written at once (an opening wakes the sync), at the latest by the close.
      failFive(service, Date.now())
      yield* Scope.close(scope, Exit.void)
      const stored = yield* Effect.promise(() => server.admin.hgetall(`${keyPrefix}open:${origin}`))
      assert.strictEqual(stored.by, JSON.stringify({ _tag: "Status", status: 503 }))
      yield* eventually(clients(), (n) => n === 1)
      yield* eventually(Effect.sync(sockets), (n) => n === before)
      yield* Scope.close(outer, Exit.void)
    }))
})

// Typed against the core's contract.
export const _service: (
  options: RedisCircuitBreaker.Options
) => Effect.Effect<CircuitBreaker.Service, RedisCircuitBreaker.RedisCircuitBreakerError, Scope.Scope> =
  RedisCircuitBreaker.make
