import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { millis } from "./utils.js"

const policyError = (options: unknown): RetryPolicy.RetryPolicyError => {
  const result = RetryPolicy.validate(options as RetryPolicy.Options)
  if (Either.isRight(result)) assert.fail(`expected ${JSON.stringify(options)} to be rejected`)
  return result.left
}

const readConfig = (env: Record<string, string>, prefix?: string) =>
  Effect.either(
    Effect.withConfigProvider(
      prefix === undefined ? RetryPolicy.config() : RetryPolicy.config(prefix),
      ConfigProvider.fromMap(new Map(Object.entries(env)))
    )
  )

const configError = (env: Record<string, string>) =>
  Effect.map(readConfig(env), (result) => {
    if (Either.isRight(result)) assert.fail(`expected ${JSON.stringify(env)} to be rejected`)
    return result.left
  })

describe.concurrent("RetryPolicy", () => {
  describe("defaults", () => {
    it("has the documented values", () => {
      const d = RetryPolicy.defaults
      assert.strictEqual(d.maxAttempts, 4)
      assert.strictEqual(millis(d.maxElapsed), 50_000)
      assert.strictEqual(millis(d.baseDelay), 1000)
      assert.strictEqual(d.factor, 2)
      assert.strictEqual(millis(d.maxDelay), 20_000)
      assert.strictEqual(d.jitter, "full")
      assert.strictEqual(millis(d.attemptTimeout), 10_000)
      assert.deepStrictEqual(d.retryOn, { statuses: [408, 429, 500, 502, 503, 504], transport: true })
      assert.deepStrictEqual(d.methods, ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
      assert.strictEqual(d.retryAfter, true)
      assert.strictEqual(millis(d.maxRetryAfter), 60_000)
      assert.strictEqual(d.maxDrainBytes, 128 * 1024)
      assert.strictEqual(d.minTimeLeft, "lastAttempt")
      assert.strictEqual(d.log, false)
      assert.deepStrictEqual(d.redact, { headers: [], query: [] })
    })

    it("make() is the defaults, and a policy is recognised", () => {
      const made = RetryPolicy.make()
      assert.deepStrictEqual(JSON.stringify(made), JSON.stringify(RetryPolicy.defaults))
      assert.isTrue(RetryPolicy.isRetryPolicy(made))
      assert.isFalse(RetryPolicy.isRetryPolicy({ maxAttempts: 4 }))
    })

    it("is plain, inspectable data", () => {
      assert.deepStrictEqual(JSON.parse(JSON.stringify(RetryPolicy.defaults)), {
        _id: "@http-retry/core/RetryPolicy",
        maxAttempts: 4,
        maxElapsed: "50s",
        baseDelay: "1s",
        factor: 2,
        maxDelay: "20s",
        jitter: "full",
        attemptTimeout: "10s",
        retryOn: { statuses: [408, 429, 500, 502, 503, 504], transport: true },
        methods: ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"],
        retryAfter: true,
        maxRetryAfter: "1m",
        maxDrainBytes: 131072,
        minTimeLeft: "lastAttempt",
        log: false,
        redact: { headers: [], query: [] }
      })
    })
  })

  describe("make", () => {
    it("merges options field by field over the defaults", () => {
      const policy = RetryPolicy.make({ maxAttempts: 6, retryOn: { transport: false }, log: { query: true } })
      assert.strictEqual(policy.maxAttempts, 6)
      assert.deepStrictEqual(policy.retryOn, { statuses: [408, 429, 500, 502, 503, 504], transport: false })
      assert.deepStrictEqual(policy.log, { level: "Info", query: true, body: false })
      assert.strictEqual(millis(policy.baseDelay), 1000)
      assert.strictEqual(policy.jitter, "full")
    })

    it("reads durations as numbers of milliseconds, text or Durations", () => {
      const policy = RetryPolicy.make({
        baseDelay: 250,
        // The documented short forms ("250ms", "2s") work at run time, but
        // `RetryPolicy.DurationInput` is Effect's and does not admit them.
        maxDelay: "2s" as RetryPolicy.DurationInput,
        maxElapsed: "1.5 minutes",
        attemptTimeout: Duration.seconds(3),
        maxRetryAfter: "5 seconds"
      })
      assert.strictEqual(millis(policy.baseDelay), 250)
      assert.strictEqual(millis(policy.maxDelay), 2000)
      assert.strictEqual(millis(policy.maxElapsed), 90_000)
      assert.strictEqual(millis(policy.attemptTimeout), 3000)
      assert.strictEqual(millis(policy.maxRetryAfter), 5000)
    })

    it("normalises methods and header names", () => {
      const policy = RetryPolicy.make({ methods: ["get", "Post"], redact: { headers: ["X-Tenant-Secret"] } })
      assert.deepStrictEqual(policy.methods, ["GET", "POST"])
      assert.deepStrictEqual(policy.redact, { headers: ["x-tenant-secret"], query: [] })
    })

    it("reads log as a boolean, a level or a record", () => {
      assert.deepStrictEqual(RetryPolicy.make({ log: true }).log, { level: "Info", query: false, body: false })
      assert.deepStrictEqual(RetryPolicy.make({ log: "Debug" }).log, { level: "Debug", query: false, body: false })
      assert.deepStrictEqual(RetryPolicy.make({ log: { level: "Warning", body: true } }).log, {
        level: "Warning",
        query: false,
        body: true
      })
      assert.strictEqual(RetryPolicy.make({ log: false }).log, false)
      assert.strictEqual(RetryPolicy.make({ log: "None" }).log, false)
    })

    it("merge is dual and keeps the fields it is not given", () => {
      const base = RetryPolicy.make({ maxAttempts: 7, jitter: "none" })
      const a = RetryPolicy.merge(base, { baseDelay: "2 seconds" })
      const b = pipe(base, RetryPolicy.merge({ baseDelay: "2 seconds" }))
      for (const p of [a, b]) {
        assert.strictEqual(p.maxAttempts, 7)
        assert.strictEqual(p.jitter, "none")
        assert.strictEqual(millis(p.baseDelay), 2000)
      }
    })

    it("retriesStatus answers for numbers and classes", () => {
      assert.isTrue(RetryPolicy.retriesStatus(RetryPolicy.defaults, 503))
      assert.isFalse(RetryPolicy.retriesStatus(RetryPolicy.defaults, 501))
      assert.isFalse(RetryPolicy.retriesStatus(RetryPolicy.defaults, 404))
      const serverErrors = RetryPolicy.make({ retryOn: RetryPolicy.retryOnServerErrors })
      assert.isTrue(RetryPolicy.retriesStatus(serverErrors, 501))
      assert.isTrue(pipe(serverErrors, RetryPolicy.retriesStatus(599)))
      assert.isFalse(RetryPolicy.retriesStatus(serverErrors, 429))
      assert.isFalse(RetryPolicy.retriesStatus(serverErrors, 408))
      assert.isTrue(RetryPolicy.retriesStatus(RetryPolicy.make({ retryOn: { statuses: ["4xx"] } }), 418))
    })
  })

  describe("bad values", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, string]> = [
      ["maxAttempts 0", { maxAttempts: 0 }, "maxAttempts", "0"],
      ["maxAttempts -1", { maxAttempts: -1 }, "maxAttempts", "-1"],
      ["maxAttempts 1.5", { maxAttempts: 1.5 }, "maxAttempts", "1.5"],
      ["maxAttempts NaN", { maxAttempts: NaN }, "maxAttempts", "NaN"],
      ["maxAttempts Infinity", { maxAttempts: Infinity }, "maxAttempts", "Infinity"],
      ["maxAttempts as text", { maxAttempts: "3" }, "maxAttempts", "\"3\""],
      ["baseDelay -1", { baseDelay: -1 }, "baseDelay", "-1"],
      ["baseDelay \"-5 seconds\"", { baseDelay: "-5 seconds" }, "baseDelay", "\"-5 seconds\""],
      ["maxDelay NaN", { maxDelay: NaN }, "maxDelay", "NaN"],
      ["baseDelay [1] (not [seconds, nanos])", { baseDelay: [1] }, "baseDelay", "[1]"],
      ["baseDelay [1, 2, 3]", { baseDelay: [1, 2, 3] }, "baseDelay", "[1, 2, 3]"],
      ["maxElapsed Infinity", { maxElapsed: Infinity }, "maxElapsed", "Infinity"],
      ["maxElapsed Duration.infinity", { maxElapsed: Duration.infinity }, "maxElapsed", "Infinity"],
      ["maxElapsed 0", { maxElapsed: 0 }, "maxElapsed", "0"],
      ["attemptTimeout -100", { attemptTimeout: -100 }, "attemptTimeout", "-100"],
      ["attemptTimeout \"soon\"", { attemptTimeout: "soon" }, "attemptTimeout", "\"soon\""],
      ["maxRetryAfter NaN", { maxRetryAfter: NaN }, "maxRetryAfter", "NaN"],
      ["factor 0.5", { factor: 0.5 }, "factor", "0.5"],
      ["factor NaN", { factor: NaN }, "factor", "NaN"],
      ["factor Infinity", { factor: Infinity }, "factor", "Infinity"],
      ["jitter \"half\"", { jitter: "half" }, "jitter", "\"half\""],
      ["method FETCH", { methods: ["GET", "FETCH"] }, "methods[1]", "\"FETCH\""],
      ["methods not a list", { methods: "GET" }, "methods", "\"GET\""],
      ["status 200", { retryOn: { statuses: [503, 200] } }, "retryOn.statuses[1]", "200"],
      ["status 700", { retryOn: { statuses: [700] } }, "retryOn.statuses[0]", "700"],
      ["status \"6xx\"", { retryOn: { statuses: ["6xx"] } }, "retryOn.statuses[0]", "\"6xx\""],
      ["transport not a boolean", { retryOn: { transport: "yes" } }, "retryOn.transport", "\"yes\""],
      ["retryAfter not a boolean", { retryAfter: 1 }, "retryAfter", "1"],
      ["log level unknown", { log: "Loud" }, "log", "\"Loud\""],
      ["unknown option", { maxAttempt: 3 }, "maxAttempt", "3"],
      ["unknown nested option", { retryOn: { status: [503] } }, "retryOn.status", "[503]"],
      ["redact header with a space", { redact: { headers: ["x tenant"] } }, "redact.headers[0]", "\"x tenant\""],
      ["maxDrainBytes -1", { maxDrainBytes: -1 }, "maxDrainBytes", "-1"],
      ["maxDrainBytes 1.5", { maxDrainBytes: 1.5 }, "maxDrainBytes", "1.5"],
      ["maxDrainBytes as text", { maxDrainBytes: "128KiB" }, "maxDrainBytes", "\"128KiB\""],
      ["minTimeLeft -1", { minTimeLeft: -1 }, "minTimeLeft", "-1"],
      ["minTimeLeft \"soon\"", { minTimeLeft: "soon" }, "minTimeLeft", "\"soon\""]
    ]

    for (const [name, options, field, value] of cases) {
      it(`${name} is rejected naming the field and the value`, () => {
        const error = policyError(options)
        assert.strictEqual(error._tag, "RetryPolicyError")
        assert.strictEqual(error.field, field)
        assert.include(error.message, `${field} = ${value}`)
      })
    }

    it("validate gives a Left(RetryPolicyError) and good options a Right", () => {
      const bad = RetryPolicy.validate({ maxAttempts: 0 })
      assert.isTrue(Either.isLeft(bad))
      if (Either.isLeft(bad)) {
        assert.instanceOf(bad.left, RetryPolicy.RetryPolicyError)
        assert.strictEqual(
          bad.left.message,
          "Invalid retry policy: maxAttempts = 0 (expected a whole number of at least 1)"
        )
      }
      const good = RetryPolicy.validate({ maxAttempts: 2 })
      assert.isTrue(Either.isRight(good) && good.right.maxAttempts === 2)
    })

    it("make throws the RetryPolicyError", () => {
      assert.throws(() => RetryPolicy.make({ factor: 0.5 }), /factor = 0\.5/)
      try {
        RetryPolicy.make({ jitter: "half" as RetryPolicy.Jitter })
        assert.fail("expected make to throw")
      } catch (error) {
        assert.strictEqual((error as RetryPolicy.RetryPolicyError)._tag, "RetryPolicyError")
        assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, "jitter")
        assert.strictEqual((error as RetryPolicy.RetryPolicyError).value, "half")
      }
    })

    it("merge rejects bad options too", () => {
      assert.throws(() => RetryPolicy.merge(RetryPolicy.defaults, { maxAttempts: -1 }), /maxAttempts = -1/)
    })
  })

  describe("config", () => {
    it.effect("fails with a ConfigError naming HTTP_RETRY_MAX_ATTEMPTS for 0", () =>
      Effect.gen(function*() {
        const error = yield* configError({ HTTP_RETRY_MAX_ATTEMPTS: "0" })
        assert.isTrue(ConfigError.isConfigError(error))
        assert.include(String(error), "HTTP_RETRY_MAX_ATTEMPTS")
        assert.include(String(error), "maxAttempts = 0")
      }))

    const bad: ReadonlyArray<readonly [string, string]> = [
      ["HTTP_RETRY_MAX_ATTEMPTS", "three"],
      ["HTTP_RETRY_MAX_ATTEMPTS", "-1"],
      ["HTTP_RETRY_BASE_DELAY", "-1s"],
      ["HTTP_RETRY_MAX_ELAPSED", "0"],
      ["HTTP_RETRY_FACTOR", "0.5"],
      ["HTTP_RETRY_FACTOR", "fast"],
      ["HTTP_RETRY_FACTOR", "0x10"],
      ["HTTP_RETRY_FACTOR", "0b11"],
      ["HTTP_RETRY_FACTOR", "Infinity"],
      ["HTTP_RETRY_JITTER", "half"],
      ["HTTP_RETRY_STATUSES", "503,200"],
      ["HTTP_RETRY_STATUSES", "oops"],
      ["HTTP_RETRY_METHODS", "GET,FETCH"],
      ["HTTP_RETRY_RETRY_AFTER", "maybe"],
      ["HTTP_RETRY_MAX_RETRY_AFTER", "forever"]
    ]
    for (const [name, value] of bad) {
      it.effect(`fails for ${name}=${value}, naming the variable`, () =>
        Effect.gen(function*() {
          const error = yield* configError({ [name]: value })
          assert.include(String(error), name)
        }))
    }

    it.effect("good values produce the expected policy", () =>
      Effect.gen(function*() {
        const result = yield* readConfig({
          HTTP_RETRY_MAX_ATTEMPTS: "6",
          HTTP_RETRY_MAX_ELAPSED: "2 minutes",
          HTTP_RETRY_BASE_DELAY: "250ms",
          HTTP_RETRY_FACTOR: "1.5",
          HTTP_RETRY_MAX_DELAY: "5s",
          HTTP_RETRY_JITTER: "none",
          HTTP_RETRY_ATTEMPT_TIMEOUT: "3000ms",
          HTTP_RETRY_STATUSES: "429, 5xx",
          HTTP_RETRY_METHODS: "GET,post",
          HTTP_RETRY_RETRY_AFTER: "false",
          HTTP_RETRY_MAX_RETRY_AFTER: "30s",
          HTTP_RETRY_MAX_DRAIN_BYTES: "4096",
          HTTP_RETRY_MIN_TIME_LEFT: "2s"
        })
        if (Either.isLeft(result)) assert.fail(String(result.left))
        const p = result.right
        assert.isTrue(RetryPolicy.isRetryPolicy(p))
        assert.strictEqual(p.maxAttempts, 6)
        assert.strictEqual(millis(p.maxElapsed), 120_000)
        assert.strictEqual(millis(p.baseDelay), 250)
        assert.strictEqual(p.factor, 1.5)
        assert.strictEqual(millis(p.maxDelay), 5000)
        assert.strictEqual(p.jitter, "none")
        assert.strictEqual(millis(p.attemptTimeout), 3000)
        assert.deepStrictEqual(p.retryOn, { statuses: [429, "5xx"], transport: true })
        assert.deepStrictEqual(p.methods, ["GET", "POST"])
        assert.strictEqual(p.retryAfter, false)
        assert.strictEqual(millis(p.maxRetryAfter), 30_000)
        assert.strictEqual(p.maxDrainBytes, 4096)
        assert.strictEqual(millis(p.minTimeLeft as Duration.Duration), 2000)
      }))

    for (
      const name of ["ATTEMPT_TIMEOUT", "MAX_ELAPSED", "BASE_DELAY", "MAX_DELAY", "MAX_RETRY_AFTER", "MIN_TIME_LEFT"]
    ) {
      it.effect(`HTTP_RETRY_${name}=10 fails: a duration needs its unit, and the message says what to write`, () =>
        Effect.gen(function*() {
          const error = yield* configError({ [`HTTP_RETRY_${name}`]: "10" })
          assert.isTrue(ConfigError.isConfigError(error))
          assert.include(
            String(error),
            `HTTP_RETRY_${name}="10": a duration needs a unit: write 10s for seconds or 10ms`
          )
        }))
    }

    // Every bad value, zero timeouts included, is a ConfigError naming the variable and its value.
    const zero: ReadonlyArray<readonly [string, string]> = [
      ["HTTP_RETRY_ATTEMPT_TIMEOUT", "0s"],
      ["HTTP_RETRY_MAX_ELAPSED", "0ms"],
      ["HTTP_RETRY_MAX_DRAIN_BYTES", "-1"],
      ["HTTP_RETRY_MIN_TIME_LEFT", "soon"]
    ]
    for (const [name, value] of zero) {
      it.effect(`${name}=${value} fails naming the variable and the value`, () =>
        Effect.gen(function*() {
          const error = yield* configError({ [name]: value })
          assert.include(String(error), `${name}=${JSON.stringify(value)}`)
        }))
    }

    it.effect("a URL in the wrong variable is shown with its password hidden, in the reason too", () =>
      Effect.gen(function*() {
        const error = yield* configError({ HTTP_RETRY_MAX_ATTEMPTS: "redis://:pw-s3cret@cache.internal:6379" })
        assert.include(
          String(error),
          "HTTP_RETRY_MAX_ATTEMPTS=\"redis://<redacted>@cache.internal:6379\": expected a whole number, got \"redis://<redacted>@cache.internal:6379\""
        )
        assert.notInclude(String(error), "s3cret")
      }))

    for (const value of ["none", "NONE", "", " "]) {
      it.effect(`HTTP_RETRY_STATUSES and HTTP_RETRY_METHODS ${JSON.stringify(value)} both mean none`, () =>
        Effect.gen(function*() {
          const result = yield* readConfig({ HTTP_RETRY_STATUSES: value, HTTP_RETRY_METHODS: value })
          if (Either.isLeft(result)) assert.fail(String(result.left))
          assert.deepStrictEqual(result.right.retryOn.statuses, [])
          assert.deepStrictEqual(result.right.methods, [])
        }))
    }

    it.effect("HTTP_RETRY_MIN_TIME_LEFT=lastAttempt is the default rule", () =>
      Effect.gen(function*() {
        const result = yield* readConfig({ HTTP_RETRY_MIN_TIME_LEFT: "lastAttempt" })
        if (Either.isLeft(result)) assert.fail(String(result.left))
        assert.strictEqual(result.right.minTimeLeft, "lastAttempt")
      }))

    it.effect("unset variables keep the defaults", () =>
      Effect.gen(function*() {
        const result = yield* readConfig({ UNRELATED: "1" })
        if (Either.isLeft(result)) assert.fail(String(result.left))
        assert.strictEqual(JSON.stringify(result.right), JSON.stringify(RetryPolicy.defaults))
      }))

    it.effect("reads under another prefix", () =>
      Effect.gen(function*() {
        const result = yield* readConfig({ MY_APP_MAX_ATTEMPTS: "2", HTTP_RETRY_MAX_ATTEMPTS: "9" }, "MY_APP")
        if (Either.isLeft(result)) assert.fail(String(result.left))
        assert.strictEqual(result.right.maxAttempts, 2)
      }))
  })

  describe("delays and toSchedule", () => {
    it.effect("defaults with jitter none give 1s, 2s, 4s and no more", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ jitter: "none" })
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 3)).map(millis), [1000, 2000, 4000])
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 10)).map(millis), [1000, 2000, 4000])
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 1)).map(millis), [1000])
        assert.deepStrictEqual(yield* RetryPolicy.delays(policy, 0), [])
      }))

    it.effect("maxDelay caps the delays", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ jitter: "none", maxAttempts: 7, maxDelay: "5 seconds" })
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 10)).map(millis), [
          1000,
          2000,
          4000,
          5000,
          5000,
          5000
        ])
      }))

    it.effect("factor and baseDelay shape the delays", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ jitter: "none", maxAttempts: 5, baseDelay: "100 millis", factor: 3 })
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 10)).map(millis), [100, 300, 900, 2700])
      }))

    it.effect("maxElapsed ends the schedule", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ jitter: "none", maxAttempts: 10, maxElapsed: "5 seconds" })
        // Waits end at 1000 and 3000 ms; the next would end at 7000, past the limit, and is not started.
        assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 10)).map(millis), [1000, 2000])
      }))

    it.effect("the waits listed are the retry's own, up to the deadline", () =>
      Effect.gen(function*() {
        // Waits end at 1000, 3000, 7000 ms...: a wait ending at the deadline is not made, one ending before it is.
        for (
          const maxElapsed of ["1 milli", "2 seconds", "3 seconds", "3001 millis", "5 seconds", "50 seconds"] as const
        ) {
          const policy = RetryPolicy.make({ jitter: "none", maxAttempts: 10, maxElapsed })
          const test = yield* TestHttpClient.make(() => TestHttpClient.respond(503))
          const fiber = yield* Effect.fork(
            Effect.either(HttpRetry.withRetry(test.client, policy).get("http://api.test/"))
          )
          yield* TestClock.adjust("10 minutes")
          yield* Fiber.join(fiber)
          const at = (yield* test.requests).map((request) => request.at)
          const waits = at.slice(1).map((t, i) => t - at[i])
          assert.deepStrictEqual((yield* RetryPolicy.delays(policy, 10)).map(millis), waits, maxElapsed)
        }
      }))

    it.effect("jitter full gives seeded delays in [0, d], different from the unjittered ones", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ maxAttempts: 6, maxDelay: "5 seconds" })
        const unjittered = [1000, 2000, 4000, 5000, 5000]
        const jittered = (yield* RetryPolicy.delays(policy, 5).pipe(Effect.withRandom(Random.make(42)))).map(millis)
        assert.strictEqual(jittered.length, 5)
        jittered.forEach((d, i) => {
          assert.isAtLeast(d, 0)
          assert.isAtMost(d, unjittered[i])
          assert.notStrictEqual(d, unjittered[i])
        })
        const again = (yield* RetryPolicy.delays(policy, 5).pipe(Effect.withRandom(Random.make(42)))).map(millis)
        assert.deepStrictEqual(again, jittered)
        const other = (yield* RetryPolicy.delays(policy, 5).pipe(Effect.withRandom(Random.make(43)))).map(millis)
        assert.notDeepEqual(other, jittered)
      }))

    it.effect("jittered, the waits listed are the retry's own for the same seed", () =>
      Effect.gen(function*() {
        const policy = RetryPolicy.make({ maxAttempts: 6, maxDelay: "5 seconds", maxElapsed: "10 minutes" })
        const test = yield* TestHttpClient.make(() => TestHttpClient.respond(503))
        const fiber = yield* Effect.fork(
          Effect.either(HttpRetry.withRetry(test.client, policy).get("http://api.test/")).pipe(
            Effect.withRandom(Random.make(42))
          )
        )
        yield* TestClock.adjust("10 minutes")
        yield* Fiber.join(fiber)
        const at = (yield* test.requests).map((request) => request.at)
        const waits = at.slice(1).map((t, i) => t - at[i])
        assert.strictEqual(waits.length, 5)
        const listed = (yield* RetryPolicy.delays(policy, 5).pipe(Effect.withRandom(Random.make(42)))).map(millis)
        assert.strictEqual(listed.length, 5)
        // The clock's times are sums of the waits: equal to them up to rounding.
        listed.forEach((d, i) => assert.closeTo(d, waits[i], 1e-6))
      }))

    it.effect("toSchedule outputs the delays", () =>
      Effect.gen(function*() {
        const schedule = RetryPolicy.toSchedule(RetryPolicy.make({ jitter: "none" }))
        const outputs = yield* Schedule.run(schedule, 0, [1, 2, 3])
        assert.deepStrictEqual(Chunk.toReadonlyArray(outputs).map(millis), [1000, 2000, 4000])
      }))

    it.effect("toSchedule's step that ends at maxElapsed outputs a zero delay, not the wait it refused", () =>
      Effect.gen(function*() {
        const schedule = RetryPolicy.toSchedule(
          RetryPolicy.make({ jitter: "none", maxElapsed: "10 seconds", maxAttempts: 10 })
        )
        // Waits end at 1, 3 and 7 s; the next (8 s) would end at 15 s, past 10 s. Schedule.run lists the output of
        // the step that ends the schedule too, and Effect.repeat returns it.
        const outputs = yield* Schedule.run(schedule, 0, [1, 2, 3, 4, 5, 6])
        assert.deepStrictEqual(Chunk.toReadonlyArray(outputs).map(millis), [1000, 2000, 4000, 0])
        const repeated = yield* Effect.fork(Effect.repeat(Effect.void, schedule))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(millis(yield* Fiber.join(repeated)), 0)
      }))

    it.effect("toSchedule drives Effect.retry with exact waits under the TestClock", () =>
      Effect.gen(function*() {
        const at: Array<number> = []
        const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
          at.push(now)
          return Effect.fail("down" as const)
        })
        const schedule = RetryPolicy.toSchedule(RetryPolicy.make({ jitter: "none", maxDelay: "3 seconds" }))
        const fiber = yield* Effect.fork(Effect.either(Effect.retry(attempt, schedule)))
        yield* TestClock.adjust("1 minute")
        const result = yield* Fiber.join(fiber)
        assert.isTrue(Either.isLeft(result))
        assert.deepStrictEqual(at, [0, 1000, 3000, 6000], "waits 1s, 2s, then 3s capped from 4s, 4 attempts")
      }))
  })

  describe("parseDuration", () => {
    const good: ReadonlyArray<readonly [string, number]> = [
      ["250ms", 250],
      ["2s", 2000],
      ["1.5 minutes", 90_000],
      ["3 hours", 10_800_000],
      ["1 day", 86_400_000],
      ["100", 100],
      [" 5 sec ", 5000]
    ]
    for (const [text, ms] of good) {
      it(`reads ${JSON.stringify(text)} as ${ms} ms`, () => {
        const result = RetryPolicy.parseDuration(text)
        assert.isTrue(Either.isRight(result) && millis(result.right) === ms, String(result))
      })
    }
    for (const text of ["", "soon", "-1s", "1 fortnight", "1e400", "9".repeat(400)]) {
      it(`rejects ${JSON.stringify(text.length > 20 ? `${text.slice(0, 10)}... (${text.length} chars)` : text)}`, () => {
        const result = RetryPolicy.parseDuration(text)
        if (Either.isRight(result)) assert.fail(`parsed as ${Duration.format(result.right)}`)
        assert.include(result.left, text.trim() === "" ? "\"\"" : text)
      })
    }
  })
})
