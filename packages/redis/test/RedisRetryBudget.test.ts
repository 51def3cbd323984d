import { assert, describe, it } from "@effect/vitest"
import * as RetryBudget from "@http-retry/core/RetryBudget"
import { RedisRetryBudget } from "@http-retry/redis"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as util from "node:util"
import { apply, script } from "../src/internal/redisRetryBudget.js"
import { acceptedConnections, connectionCases } from "./connectionCases.js"
import { backendServer, spawnFixtures } from "./processes.js"
import { available, redisServer } from "./redisServer.js"

const origin = "http://api.internal.test:80"
// Where a test is not about slowness, a busy machine must not send the store to its local view.
const patient = "10 seconds"
let prefixes = 0
const freshPrefix = () => `test:${process.pid}:${++prefixes}:`

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

const scriptCalls = (admin: Redis) =>
  Effect.promise(async () => {
    const info = await admin.info("commandstats")
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
    return calls("evalsha") + calls("eval")
  })

describe("RedisRetryBudget options", () => {
  it("takes the connection strings ioredis reads: a URL, host:port, a port, a socket path", () => {
    for (const redis of acceptedConnections) {
      assert.isTrue(Either.isRight(RedisRetryBudget.validate({ redis })), redis)
    }
  })

  it("names the field and the value of a bad option", () => {
    const cases: Array<[RedisRetryBudget.Options, string]> = [
      [{ budget: { maxTokens: 0 } }, "RedisRetryBudget: budget.maxTokens must be more than 0, at most 1000, got 0"],
      [
        { budget: { maxTokens: 1001 } },
        "RedisRetryBudget: budget.maxTokens must be more than 0, at most 1000, got 1001"
      ],
      [{ budget: { tokenRatio: 1.5 } }, "RedisRetryBudget: budget.tokenRatio must be more than 0, at most 1, got 1.5"],
      [
        { budget: { tokenRatio: Number.NaN } },
        "RedisRetryBudget: budget.tokenRatio must be more than 0, at most 1, got NaN"
      ],
      [{ keyPrefix: 7 as unknown as string }, "RedisRetryBudget: keyPrefix must be a string, got 7"],
      ...connectionCases<RedisRetryBudget.Options>("RedisRetryBudget"),
      // A misspelt option, or a budget that is not an object, is an error rather than the defaults.
      [
        { flushIntervall: "1 second" } as RedisRetryBudget.Options,
        "RedisRetryBudget: flushIntervall must be an option of RedisRetryBudget (redis, client, keyPrefix, budget, flushInterval, idleExpiry, timeout, connectTimeout), got \"…\""
      ],
      [
        { budget: { maxToken: 20 } } as RedisRetryBudget.Options,
        "RedisRetryBudget: budget.maxToken must be an option of the budget (maxTokens, tokenRatio), got \"…\""
      ],
      [{ budget: 5 } as unknown as RedisRetryBudget.Options, "RedisRetryBudget: budget must be an object, got 5"],
      // A misspelt `redis`: its value (a password in the URL) is not shown.
      [
        { url: "redis://:hunter2@cache:6379" } as RedisRetryBudget.Options,
        "RedisRetryBudget: url must be an option of RedisRetryBudget (redis, client, keyPrefix, budget, flushInterval, idleExpiry, timeout, connectTimeout), got \"…\""
      ],
      [
        { flushInterval: "0 millis" },
        "RedisRetryBudget: flushInterval must be a finite duration of 1 ms or more, got \"0 millis\""
      ],
      [
        { idleExpiry: Duration.infinity },
        "RedisRetryBudget: idleExpiry must be a finite duration of 1 ms or more, got object"
      ],
      [
        { timeout: "soon" as Duration.DurationInput },
        "RedisRetryBudget: timeout must be a finite duration of 1 ms or more, got \"soon\""
      ],
      [
        { redis: "redis://127.0.0.1:1", client: new Redis({ lazyConnect: true }) },
        "RedisRetryBudget: client must be given alone: the layer uses your client as it is, or makes its own from `redis`, got \"a client and redis options\""
      ]
    ]
    for (const [options, message] of cases) {
      const result = RedisRetryBudget.validate(options)
      assert.isTrue(Either.isLeft(result), message)
      if (Either.isLeft(result)) {
        assert.instanceOf(result.left, RedisRetryBudget.RedisRetryBudgetError)
        assert.strictEqual(result.left._tag, "RedisRetryBudgetError")
        assert.strictEqual(result.left.message, message)
        const kept = JSON.stringify(result.left) + util.inspect(result.left, { depth: 5 })
        for (const secret of ["S3CRET", "hunter2"]) assert.notInclude(kept, secret, message)
      }
    }
    assert.isTrue(Either.isRight(RedisRetryBudget.validate({ budget: { maxTokens: 10, tokenRatio: 0.5 } })))
  })

  it.scopedLive("fails the layer with the error, before any connection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RedisRetryBudget.make({ budget: { maxTokens: -1 } }))
      assert.strictEqual(error.field, "budget.maxTokens")
      assert.strictEqual(error.value, -1)
    }))

  it("the local arithmetic is the script's: refunds first, capped, then failures, floored at 0", () => {
    assert.strictEqual(apply(100_000, 1, 10, 100_000, 100), 99_000)
    assert.strictEqual(apply(50_000, 0, 10, 100_000, 100), 51_000)
    assert.strictEqual(apply(500, 3, 0, 100_000, 100), 0)
    assert.strictEqual(apply(120_000, 0, 0, 100_000, 100), 100_000)
    assert.include(script, "math.min(max, tokens + successes * ratio) - failures * 1000")
  })
})

describe.skipIf(!available)("RedisRetryBudget on a real redis-server", () => {
  it.scopedLive("drains to half of maxTokens, refunds tokenRatio per success, caps at maxTokens (the Lua script)", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const budget = yield* RedisRetryBudget.make({ redis: server.url, keyPrefix, timeout: patient })
      const key = (o: string) => server.admin.get(keyPrefix + o)

      // Never seen: a full bucket, nothing written.
      assert.strictEqual(budget.tokens(origin), 100)
      assert.isTrue(yield* budget.acquire(origin))
      assert.isNull(yield* Effect.promise(() => key(origin)))

      for (let i = 0; i < 49; i++) budget.record(origin, "failure")
      assert.strictEqual(budget.tokens(origin), 51)
      assert.isTrue(yield* budget.acquire(origin), "51 tokens > 50")
      assert.strictEqual(yield* Effect.promise(() => key(origin)), "51000")

      budget.record(origin, "failure")
      assert.isFalse(yield* budget.acquire(origin), "50 tokens is not more than half")
      assert.strictEqual(yield* Effect.promise(() => key(origin)), "50000")
      assert.strictEqual(budget.tokens(origin), 50)

      for (let i = 0; i < 10; i++) budget.record(origin, "success")
      assert.isTrue(yield* budget.acquire(origin), "10 successes give back 1 token")
      assert.strictEqual(yield* Effect.promise(() => key(origin)), "51000")

      // A batch on a full bucket: the refunds are lost at the cap before the failure counts.
      const other = "https://other.internal.test:443"
      for (let i = 0; i < 10; i++) budget.record(other, "success")
      budget.record(other, "failure")
      assert.strictEqual(budget.tokens(other), 99)
      assert.isTrue(yield* budget.acquire(other))
      assert.strictEqual(yield* Effect.promise(() => key(other)), "99000")
      for (let i = 0; i < 1000; i++) budget.record(other, "success")
      assert.isTrue(yield* budget.acquire(other))
      assert.strictEqual(yield* Effect.promise(() => key(other)), "100000", "capped at maxTokens")

      // A floor at 0, and other numbers.
      const small = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix: freshPrefix(),
        budget: { maxTokens: 4, tokenRatio: 0.5 },
        timeout: patient
      })
      for (let i = 0; i < 9; i++) small.record(origin, "failure")
      assert.isFalse(yield* small.acquire(origin))
      assert.strictEqual(small.tokens(origin), 0)
      for (let i = 0; i < 5; i++) small.record(origin, "success")
      assert.isTrue(yield* small.acquire(origin), "2.5 tokens > 2")
      assert.strictEqual(small.tokens(origin), 2.5)
      assert.deepStrictEqual(small.options, { maxTokens: 4, tokenRatio: 0.5 })
    }))

  it.scopedLive("the layer provides the core's RetryBudget", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const left = yield* Effect.gen(function*() {
        const budget = yield* RetryBudget.RetryBudget
        budget.record(origin, "failure")
        assert.isTrue(yield* budget.acquire(origin))
        return budget.tokens(origin)
      }).pipe(Effect.provide(RedisRetryBudget.layer({ redis: server.url, keyPrefix, timeout: patient })))
      assert.strictEqual(left, 99)
      assert.strictEqual(yield* Effect.promise(() => server.admin.get(keyPrefix + origin)), "99000")
      const error = yield* Effect.flip(
        Effect.provide(RetryBudget.RetryBudget, RedisRetryBudget.layer({ budget: { tokenRatio: 2 } }))
      )
      assert.strictEqual(error.field, "budget.tokenRatio")
    }))

  it.scopedLive("a stray key under the prefix (another type, not a number) is replaced; other origins stay shared", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const wrongType = "http://wrong-type.test", garbage = "http://garbage.test", good = "http://good.test"
      yield* Effect.promise(() => server.admin.lpush(keyPrefix + wrongType, "x"))
      yield* Effect.promise(() => server.admin.set(keyPrefix + garbage, "lots"))
      const budget = yield* RedisRetryBudget.make({ redis: server.url, keyPrefix, timeout: patient })
      for (const origin of [wrongType, garbage, good]) {
        budget.record(origin, "failure")
        assert.isTrue(yield* budget.acquire(origin))
      }
      for (const origin of [wrongType, garbage, good]) {
        assert.strictEqual(yield* Effect.promise(() => server.admin.get(keyPrefix + origin)), "99000", origin)
        assert.strictEqual(budget.tokens(origin), 99)
      }
    }))

  it.scopedLive("two stores on one prefix share one bucket per origin", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const a = yield* RedisRetryBudget.make({ redis: server.url, keyPrefix, timeout: patient })
      const b = yield* RedisRetryBudget.make({ redis: server.url, keyPrefix, timeout: patient })
      for (let i = 0; i < 30; i++) a.record(origin, "failure")
      assert.isTrue(yield* a.acquire(origin))
      for (let i = 0; i < 19; i++) b.record(origin, "failure")
      assert.isTrue(yield* b.acquire(origin), "51 left")
      b.record(origin, "failure")
      assert.isFalse(yield* b.acquire(origin), "50 left: 30 of A's failures and 20 of B's")
      assert.isFalse(yield* a.acquire(origin), "A reads the same bucket")
      assert.strictEqual(a.tokens(origin), 50)
    }))

  it.scopedLive("records make no round trip: one script call carries a whole interval's counts", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const budget = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix,
        flushInterval: "50 millis",
        timeout: patient
      })
      // Loads the script, then starts counting.
      assert.isTrue(yield* budget.acquire(origin))
      yield* Effect.promise(() => server.admin.config("RESETSTAT"))
      const origins = ["http://a.test:80", "http://b.test:80", "http://c.test:80"]
      for (const o of origins) yield* Effect.promise(() => server.admin.set(keyPrefix + o, "20000"))
      for (let i = 0; i < 3000; i++) budget.record(origins[i % 3], "success")
      assert.strictEqual(yield* scriptCalls(server.admin), 0, "recording sent nothing")
      const values = yield* eventually(
        Effect.promise(() => server.admin.mget(...origins.map((o) => keyPrefix + o))),
        (vs) => vs.every((v) => v === "100000")
      )
      assert.deepStrictEqual(values, ["100000", "100000", "100000"], "1000 refunds of 0.1 each, capped at 100")
      // Several intervals pass with nothing recorded: nothing is sent.
      yield* Effect.sleep("300 millis")
      assert.strictEqual(yield* scriptCalls(server.admin), 1, "one call for 3000 records over 3 origins")
    }))

  it.scopedLive("retries waiting together ask Redis once per origin", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const budget = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix,
        flushInterval: "1 hour",
        timeout: patient
      })
      assert.isTrue(yield* budget.acquire(origin))
      yield* Effect.promise(() => server.admin.config("RESETSTAT"))
      for (let i = 0; i < 64; i++) budget.record(origin, "failure")
      const decisions = yield* Effect.all(Array.from({ length: 64 }, () => budget.acquire(origin)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(decisions, Array.from({ length: 64 }, () => false), "36 tokens left")
      assert.strictEqual(yield* scriptCalls(server.admin), 1)
      assert.strictEqual(yield* Effect.promise(() => server.admin.get(keyPrefix + origin)), "36000")
      // One failure more while a question is out: the answer plus it.
      budget.record(origin, "failure")
      const [first, second] = yield* Effect.all([
        budget.acquire(origin),
        Effect.sync(() => budget.record(origin, "failure")).pipe(Effect.zipRight(budget.acquire(origin)))
      ], { concurrency: "unbounded" })
      assert.isFalse(first)
      assert.isFalse(second)
      assert.strictEqual(budget.tokens(origin), 34)
    }))

  it.scopedLive("keys expire when their origin goes quiet; every write sets the expiry again", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const budget = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix,
        idleExpiry: "2 seconds",
        flushInterval: "20 millis",
        timeout: patient
      })
      const key = keyPrefix + origin
      budget.record(origin, "failure")
      assert.isTrue(yield* budget.acquire(origin))
      const ttl = yield* Effect.promise(() => server.admin.pttl(key))
      assert.isTrue(ttl > 0 && ttl <= 2000, `pttl ${ttl}`)
      yield* Effect.sleep("1 second")
      budget.record(origin, "failure")
      yield* eventually(Effect.promise(() => server.admin.get(key)), (v) => v === "98000")
      const refreshed = yield* Effect.promise(() => server.admin.pttl(key))
      assert.isTrue(refreshed > 1000 && refreshed <= 2000, `the write set the expiry again: pttl ${refreshed}`)
      // Quiet: the key goes, and so does this process's memory of the origin.
      yield* eventually(Effect.promise(() => server.admin.exists(key)), (n) => n === 0, Duration.seconds(5))
      yield* eventually(Effect.sync(() => budget.tokens(origin)), (t) => t === 100, Duration.seconds(5))
      assert.isTrue(yield* budget.acquire(origin))
      assert.strictEqual(yield* Effect.promise(() => server.admin.exists(key)), 0, "a read writes nothing")
    }))

  it.scopedLive("Redis going away and coming back: calls go on, one warning, one info line, the counts resync", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      const budget = yield* RedisRetryBudget.make({
        redis: { port: server.port, host: "127.0.0.1", retryStrategy: () => 50 },
        keyPrefix,
        flushInterval: "20 millis",
        timeout: "200 millis"
      })
      for (let i = 0; i < 10; i++) budget.record(origin, "failure")
      assert.isTrue(yield* budget.acquire(origin))
      assert.strictEqual(yield* Effect.promise(() => server.admin.get(keyPrefix + origin)), "90000")
      assert.deepStrictEqual(logs.lines, [])

      yield* server.stop
      // Every call answers, on the local view: 90 shared, then this process's failures.
      const decisions: Array<boolean> = []
      for (let i = 0; i < 45; i++) {
        budget.record(origin, "failure")
        decisions.push(yield* budget.acquire(origin))
        yield* Effect.sleep("5 millis")
      }
      assert.deepStrictEqual(decisions, Array.from({ length: 45 }, (_, i) => 90 - (i + 1) > 50))
      assert.strictEqual(budget.tokens(origin), 45)
      assert.strictEqual(logs.lines.length, 1, logs.lines.join("\n"))
      assert.match(
        logs.lines[0],
        new RegExp(`^WARN http-retry budget: Redis at 127.0.0.1:${server.port} is unreachable or slow \\(`)
      )

      // Back, empty (no persistence): the 45 failures counted meanwhile land on a full bucket.
      yield* server.start
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 2)
      assert.strictEqual(
        logs.lines[1],
        `INFO http-retry budget: Redis at 127.0.0.1:${server.port} answers again; the budget is shared again`
      )
      yield* eventually(Effect.promise(() => server.admin.get(keyPrefix + origin)), (v) => v === "55000")
      assert.strictEqual(budget.tokens(origin), 55)
      budget.record(origin, "failure")
      assert.isTrue(yield* budget.acquire(origin))
      yield* eventually(Effect.promise(() => server.admin.get(keyPrefix + origin)), (v) => v === "54000")
      assert.strictEqual(logs.lines.length, 2)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("a server that does not answer (stopped, not gone): decisions wait at most `timeout`", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const budget = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix: freshPrefix(),
        timeout: "1 second"
      })
      assert.isTrue(yield* budget.acquire(origin))
      const pid = Number((yield* Effect.promise(() => server.admin.info("server"))).match(/process_id:(\d+)/)![1])
      process.kill(pid, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid, "SIGCONT")))
      budget.record(origin, "failure")
      const started = Date.now()
      assert.isTrue(yield* budget.acquire(origin))
      const waited = Date.now() - started
      assert.isTrue(waited >= 990, `waited ${waited} ms`)
      // Known down: the next decisions do not wait.
      const again = Date.now()
      for (let i = 0; i < 60; i++) budget.record(origin, "failure")
      assert.isFalse(yield* budget.acquire(origin))
      // Below the 1 s a wait for Redis would take, with room for a loaded machine.
      assert.isTrue(Date.now() - again < 900, "decided without waiting for Redis")
      assert.strictEqual(logs.lines.length, 1)
      assert.match(logs.lines[0], /^WARN .*no answer within 1s\)/)
      process.kill(pid, "SIGCONT")
      // The late answers land: every failure once.
      yield* eventually(Effect.sync(() => logs.lines.length), (n) => n === 2)
      yield* eventually(Effect.sync(() => budget.tokens(origin)), (t) => t === 39)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("no server at all: the layer still builds, decides locally, warns once", () => {
    const logs = collectLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* server.stop
      const budget = yield* RedisRetryBudget.make({ redis: server.url, connectTimeout: "100 millis" })
      for (let i = 0; i < 50; i++) budget.record(origin, "failure")
      assert.isFalse(yield* budget.acquire(origin))
      yield* Effect.sleep("300 millis")
      assert.strictEqual(logs.lines.length, 1, logs.lines.join("\n"))
      assert.match(logs.lines[0], /^WARN .*unreachable or slow \(no connection within 100ms\)/)
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("closing the scope flushes what is pending, quits, and leaves no handle open", () =>
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
      const budget = yield* RedisRetryBudget.make({ redis: server.url, keyPrefix, timeout: patient }).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(yield* clients(), 2)
      for (let i = 0; i < 7; i++) budget.record(origin, "failure")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* Effect.promise(() => server.admin.get(keyPrefix + origin)), "93000")
      yield* eventually(clients(), (n) => n === 1)
      yield* eventually(Effect.sync(sockets), (n) => n === before)

      // A client of yours is used, and left open.
      const mine = new Redis(server.url)
      const scope2 = yield* Scope.make()
      const budget2 = yield* RedisRetryBudget.make({ client: mine, keyPrefix }).pipe(Scope.extend(scope2))
      budget2.record(origin, "failure")
      yield* Scope.close(scope2, Exit.void)
      assert.strictEqual(mine.status, "ready")
      assert.strictEqual(yield* Effect.promise(() => mine.get(keyPrefix + origin)), "92000")
      yield* Effect.promise(() => mine.quit())
      yield* Scope.close(outer, Exit.void)
    }))

  it.scopedLive("closing the scope while Redis does not answer (stopped) takes its timeout, not the outage", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const scope = yield* Scope.make()
      const budget = yield* RedisRetryBudget.make({
        redis: server.url,
        keyPrefix: freshPrefix(),
        timeout: "300 millis"
      })
        .pipe(Scope.extend(scope))
      const pid = Number((yield* Effect.promise(() => server.admin.info("server"))).match(/process_id:(\d+)/)![1])
      process.kill(pid, "SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(pid, "SIGCONT")))
      for (let i = 0; i < 3; i++) budget.record(origin, "failure")
      // The flush waits at most `timeout` for its answer, and the connection as long again for QUIT's.
      const closed = yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"), Effect.either)
      assert.isTrue(Either.isRight(closed), "the scope did not close while Redis was stopped")
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))

  it.scopedLive("a fleet of 4 processes draws from one budget per origin", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const keyPrefix = freshPrefix()
      let seen = 0
      const backendUrl = (yield* backendServer((_request, response) => {
        seen++
        response.writeHead(503).end("down")
      })) + "/items"
      const calls = 10
      const { endInput, exits, next } = yield* spawnFixtures(
        "fleetClient.ts",
        Array.from({ length: 4 }, () => ({ redis: server.url, keyPrefix, backend: backendUrl, calls, maxAttempts: 4 }))
      )
      for (let i = 0; i < 4; i++) assert.strictEqual(yield* next(i), "ready")
      endInput("go\n")
      const results = yield* Effect.forEach([0, 1, 2, 3], (i) =>
        next(i).pipe(Effect.map((line) =>
          JSON.parse(line) as { attempts: number; retries: number; refused: number }
        )), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(yield* exits, [0, 0, 0, 0], "each process ended by itself: no handle left open")

      const attempts = results.reduce((n, r) =>
        n + r.attempts, 0)
      const retries = results.reduce((n, r) => n + r.retries, 0)
      assert.strictEqual(seen, attempts, "the backend saw every attempt the processes made")
      assert.strictEqual(attempts, 4 * calls + retries)
      // Retries go on until 50 of the 100 tokens are gone, fleet-wide: at most 49 failures were counted at the last
      // retry allowed, with at most one attempt per process not yet counted. Alone, each process would have made
      // about 30 retries (120 for the fleet).
      assert.isAtLeast(attempts, 50)
      assert.isAtMost(retries, 49 + 4)
      assert.isAbove(
        results.reduce((n, r) => n + r.refused, 0),
        0
      )
      // Every failure of every process reached the one bucket, once (40 + at most 53 < 100: no floor at 0).
      assert.strictEqual(
        yield* Effect.promise(() => server.admin.get(keyPrefix + new URL(backendUrl).origin)),
        String(100_000 - 1000 * attempts)
      )
    }), { timeout: 60_000 })
})

// Typed against the core's contract.
export const _service: (
  options: RedisRetryBudget.Options
) => Effect.Effect<RetryBudget.Service, RedisRetryBudget.RedisRetryBudgetError, Scope.Scope> = RedisRetryBudget.make
