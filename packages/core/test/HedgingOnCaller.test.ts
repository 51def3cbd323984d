import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { Hedging, HttpRetry } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { noJitter, statusError } from "./utils.js"

// The round of a client that aborts a send through `AttemptTimeout.abortWith` (the Node layer's transport): its
// first attempt runs on the caller's fiber and a winning hedge aborts it. On the live clock only (under `TestClock`
// every client takes the forked round, tested in Hedging.test.ts), so every wait here is on the test's own signals,
// never on a duration, except the hedge delay itself.

/** One send the client saw, answered by the test. */
interface Send {
  readonly index: number
  readonly fiber: FiberId.FiberId
  /** Whether `AttemptTimeout.abortWith` was given to this send. */
  readonly abortable: boolean
  /** How the send ended other than by an answer. */
  stopped: "aborted" | "interrupted" | undefined
  readonly answer: (status: number) => void
}

let origins = 0

const makeClient = Effect.gen(function*() {
  const sends: Array<Send> = []
  const started: Array<Deferred.Deferred<Send>> = Array.from({ length: 8 }, () => Deferred.unsafeMake(FiberId.none))
  const client = HttpRetry.readsAttemptTimeout(
    HttpClient.make((request, _url, _signal, fiber) => {
      const timeout: HttpRetry.AttemptTimeout.Service | undefined = fiber.currentContext.unsafeMap.get(
        HttpRetry.AttemptTimeout.key
      )
      return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
        let done = false
        const end = (stopped: Send["stopped"], status?: number) => {
          if (done) return
          done = true
          send.stopped = stopped
          resume(
            status === undefined ?
              Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: "aborted" })) :
              Effect.succeed(HttpClientResponse.fromWeb(request, new Response(String(send.index), { status })))
          )
        }
        const send: Send = {
          index: sends.length + 1,
          fiber: fiber.id(),
          abortable: timeout?.abortWith !== undefined,
          stopped: undefined,
          answer: (status) => end(undefined, status)
        }
        sends.push(send)
        timeout?.abortWith?.(() => end("aborted"))
        Deferred.unsafeDone(started[send.index - 1], Exit.succeed(send))
        return Effect.sync(() => {
          if (!done) send.stopped = "interrupted"
          done = true
        })
      })
    }),
    { abortable: true }
  )
  const url = `http://caller-${++origins}.test/items`
  return { client, sends, started: (n: number) => Deferred.await(started[n - 1]), url }
})

const counted = (metric: Metric.Metric.Counter<number>, url: string) =>
  Effect.map(Metric.value(Metric.tagged(metric, "origin", new URL(url).origin)), (state) => state.count)
const hedgesWon = (url: string) => counted(Hedging.hedgesWon, url)

const textOf = (result: Either.Either<HttpClientResponse.HttpClientResponse, unknown>) =>
  Either.isRight(result) ? result.right.text : Effect.die(result.left)

describe("HttpRetry.withHedging over a client that aborts its send (abortWith)", () => {
  it.live("an answer within the delay: one attempt, sent on the caller's own fiber", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "1 second" }))
      const call = yield* Effect.fork(hedged.get(url))
      const first = yield* started(1)
      first.answer(200)
      assert.strictEqual(yield* (yield* Fiber.join(call)).text, "1")
      assert.strictEqual(sends.length, 1)
      assert.isTrue(first.abortable)
      assert.isTrue(Equal.equals(first.fiber, call.id()))
    }))

  it.live("a slow first attempt: the hedge wins and the first attempt's send is aborted, not left waiting", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(Effect.either(hedged.get(url)))
      const hedge = yield* started(2)
      hedge.answer(200)
      assert.strictEqual(yield* textOf(yield* Fiber.join(call)), "2")
      assert.deepStrictEqual(sends.map((send) => send.stopped), ["aborted", undefined])
      assert.isFalse(hedge.abortable)
      assert.strictEqual(yield* hedgesWon(url), 1)
    }))

  it.live("the first attempt answering after the hedge was sent wins, and the hedge is interrupted", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(Effect.either(hedged.get(url)))
      yield* started(2)
      sends[0].answer(200)
      assert.strictEqual(yield* textOf(yield* Fiber.join(call)), "1")
      assert.deepStrictEqual(sends.map((send) => send.stopped), [undefined, "interrupted"])
      assert.strictEqual(yield* hedgesWon(url), 0)
    }))

  it.live("a first attempt failing with a retried status after the hedge was sent: the hedge's answer is the call's", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(Effect.either(hedged.get(url)))
      const hedge = yield* started(2)
      sends[0].answer(503)
      hedge.answer(200)
      assert.strictEqual(yield* textOf(yield* Fiber.join(call)), "2")
      assert.strictEqual(sends.length, 2)
      assert.deepStrictEqual(sends.map((send) => send.stopped), [undefined, undefined])
    }))

  it.live("a hedge answering with a status the policy does not retry ends the call at once, the first aborted", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(Effect.either(hedged.get(url)))
      const hedge = yield* started(2)
      hedge.answer(404)
      const error = statusError(yield* Fiber.join(call))
      assert.strictEqual(error.status, 404)
      assert.strictEqual(error.attempts, 2)
      assert.strictEqual(error.reason, "NotRetryable")
      assert.deepStrictEqual(sends.map((send) => send.stopped), ["aborted", undefined])
    }))

  it.live("both attempts failing: the retry goes on after the backoff with attempt 3", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(
        HttpRetry.withRetry(noJitter({ baseDelay: "1 millis" })),
        HttpRetry.withHedging({ delay: "20 millis" })
      )
      const call = yield* Effect.fork(Effect.either(hedged.get(url)))
      const hedge = yield* started(2)
      sends[0].answer(503)
      hedge.answer(503)
      ;(yield* started(3)).answer(200)
      assert.strictEqual(yield* textOf(yield* Fiber.join(call)), "3")
      assert.strictEqual(sends.length, 3)
    }))

  it.live("interrupted after the hedge was sent: both attempts are stopped", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(hedged.get(url))
      yield* started(2)
      const exit = yield* Fiber.interrupt(call)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(sends.map((send) => send.stopped), ["interrupted", "interrupted"])
    }))

  it.live("interrupted before the delay: the first attempt is stopped and no hedge starts after it", () =>
    Effect.gen(function*() {
      const { client, sends, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const call = yield* Effect.fork(hedged.get(url))
      yield* started(1)
      yield* Fiber.interrupt(call)
      // Past the delay, on the live clock: a timer left armed would have sent the hedge by now.
      yield* Effect.sleep("60 millis")
      assert.deepStrictEqual(sends.map((send) => send.stopped), ["interrupted"])
    }))

  it.live("after a round the hedge won, the caller's context and tracer settings are as before the call", () =>
    Effect.gen(function*() {
      const { client, started, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const disabledWhen = yield* FiberRef.get(HttpClient.currentTracerDisabledWhen)
      const call = yield* Effect.fork(
        Effect.gen(function*() {
          const response = yield* hedged.get(url)
          return {
            text: yield* response.text,
            timeout: Context.getOption(yield* Effect.context<never>(), HttpRetry.AttemptTimeout),
            disabledWhen: yield* FiberRef.get(HttpClient.currentTracerDisabledWhen)
          }
        })
      )
      ;(yield* started(2)).answer(200)
      const after = yield* Fiber.join(call)
      assert.strictEqual(after.text, "2")
      assert.isTrue(Option.isNone(after.timeout))
      assert.strictEqual(after.disabledWhen, disabledWhen)
    }))

  it.live("a tracerDisabledWhen that throws: the call dies, and no timer is left to send a hedge", () =>
    Effect.gen(function*() {
      const { client, sends, url } = yield* makeClient
      const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: "20 millis" }))
      const exit = yield* Effect.exit(Effect.locally(hedged.get(url), HttpClient.currentTracerDisabledWhen, () => {
        throw new Error("predicate failed")
      }))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      // Past the delay, on the live clock: a timer armed before the attempt was built would have started a round.
      yield* Effect.sleep("60 millis")
      assert.strictEqual(yield* counted(Hedging.hedgesSent, url), 0)
      assert.strictEqual(sends.length, 0)
    }))
})
