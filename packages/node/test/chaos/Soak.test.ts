/**
 * The soak: 4,000 calls in `pnpm test` (20,000 under `pnpm reliability`, which sets `HTTP_RETRY_SOAK_CALLS`), 64 in
 * flight, through one retrying client over `NodeHttpRetry.layerClient` (what `NodeHttpRetry.layer` builds, with an
 * `onRetry` that records what the client saw of each attempt), against a chaos server that faults 30% of its answers.
 * Each attempt's fault is drawn from the seed and (call id, attempt number as the server counts arrivals), never from
 * arrival order across calls, so the end of every call is known in advance whatever the concurrency does. Each call's
 * attempts as the client saw them are matched one to one with the attempts the server served it: the answer or typed
 * error each served attempt implies, never more than maxAttempts, its own body and no other call's. Then: nothing lost,
 * nothing hung, nothing ended twice, no socket or fiber left once the layer's scope has closed, the heap after a full
 * GC flat and RSS growth bounded. 4,000 calls are enough for each of these: about 30 calls end with a typed error, and
 * the heap is measured over 3,000 calls after the first 1,000.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import { performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { eventually } from "../harness.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"
import * as Seed from "./Seed.js"

const ledger = Ledger.make("soak")
beforeAll(() => Seed.announce("Soak.test.ts"))
afterAll(() => ledger.flush())

const CALLS = ((raw) => {
  const calls = raw === undefined || raw === "" ? 4_000 : Number(raw)
  if (!Number.isInteger(calls) || calls < 2_000) {
    throw new Error(`HTTP_RETRY_SOAK_CALLS = ${JSON.stringify(raw)} (expected a whole number of at least 2000)`)
  }
  return calls
})(process.env.HTTP_RETRY_SOAK_CALLS)
const IN_FLIGHT = 64
const MAX_ATTEMPTS = 4
// Long enough that a stalled event loop (two cores, the test runner busy beside us) does not time out an answer the
// server sent in time: the counts in RELIABILITY.md should be the seed's, run after run.
const ATTEMPT_TIMEOUT = 1_000
/**
 * The whole soak must end within this, or the calls still running count as hung: 15 ms a call, at least 2 minutes.
 * The 4,000 calls of `pnpm test` take about 4 s on an idle machine, and took 53 s beside two busy loops with coverage
 * on: a hung call is one still running long after any machine would have ended it.
 */
const BOUND = Math.max(120_000, CALLS * 15)
const RSS_GROWTH_LIMIT = 256 * 1024 * 1024
/** What the run may retain on the heap after a full GC, beyond the test's own per-call records. */
const HEAP_GROWTH_LIMIT = 32 * 1024 * 1024

/** A fault and its share of all attempts; the rest (70%) are answered 200. */
const FAULTS = [
  ["503", 0.11],
  ["reset (RST) before the headers", 0.07],
  ["headers after 5 s, past the 1 s attemptTimeout", 0.02],
  ["503 with Retry-After: 0", 0.05],
  ["429 with Retry-After: 1", 0.01],
  ["503 reset mid-body", 0.04]
] as const

type Kind = typeof FAULTS[number][0] | "ok"

const kindOf = (id: number, attempt: number): Kind => {
  let r = Seed.keyed(id, attempt)
  for (const [kind, share] of FAULTS) {
    if (r < share) return kind
    r -= share
  }
  return "ok"
}

const bodyOf = (id: number) => `ok:${id}`

const faultOf = (kind: Kind, id: number): Chaos.Fault => {
  switch (kind) {
    case "ok":
      return Chaos.respond(200, { body: bodyOf(id) })
    case "503":
      return Chaos.respond(503, { body: "busy" })
    case "reset (RST) before the headers":
      return Chaos.resetBeforeHeaders()
    case "headers after 5 s, past the 1 s attemptTimeout":
      return Chaos.respond(200, { body: bodyOf(id), delay: 5_000 })
    case "503 with Retry-After: 0":
      return Chaos.respond(503, { headers: { "retry-after": "0" } })
    case "429 with Retry-After: 1":
      return Chaos.respond(429, { headers: { "retry-after": "1" } })
    case "503 reset mid-body":
      return Chaos.resetMidBody(503)
  }
}

/** What call `id` must end with, and after how many attempts. */
const expectedOf = (id: number): { readonly end: string; readonly attempts: number } => {
  let kind: Kind = "ok"
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    kind = kindOf(id, attempt)
    if (kind === "ok") return { end: "ok", attempts: attempt }
  }
  const end = kind === "reset (RST) before the headers" ?
    "RequestError" :
    kind === "headers after 5 s, past the 1 s attemptTimeout" ?
    "TimeoutException" :
    "HttpStatusError"
  return { end, attempts: MAX_ATTEMPTS }
}

// Every tenth call is a POST with an Idempotency-Key: retried too, its body resent on each attempt.
const isPost = (id: number) => id % 10 === 0

const requestOf = (url: string, id: number) =>
  isPost(id) ?
    HttpClientRequest.post(`${url}/orders`).pipe(
      HttpClientRequest.bodyText(`{"id":${id}}`, "application/json"),
      HttpClientRequest.setHeaders({ "x-call-id": String(id), "idempotency-key": `order-${id}` })
    ) :
    HttpClientRequest.get(`${url}/items/${id}`).pipe(HttpClientRequest.setHeader("x-call-id", String(id)))

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024)

/** A full garbage collection, so that heap figures show what is retained, not what is merely not yet collected. */
const collectGarbage: () => void = (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

const heapAfterGc = () => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/** How each call ended, as far as the test can tell: `ok`, a typed error's tag, or what made it lost. */
type Ending = string

/**
 * What the client saw of one attempt: `ok`, a status it retried or gave up on, `RequestError` or `TimeoutException`.
 */
type Seen = string

/** What the client can see of an attempt the server served with `kind`, unless its timer ended the attempt first. */
const seenOf = (kind: Kind): Seen | undefined => {
  switch (kind) {
    case "ok":
      return "ok"
    case "503":
    case "503 with Retry-After: 0":
    case "503 reset mid-body":
      return "503"
    case "429 with Retry-After: 1":
      return "429"
    case "reset (RST) before the headers":
      return "RequestError"
    case "headers after 5 s, past the 1 s attemptTimeout":
      return undefined
  }
}

/**
 * Whether the attempts the client saw (`seen`, in its order, the last one its end) and the attempts the server served
 * (`served`, in arrival order) explain each other, and if not, why. They are matched one to one, in any order: when an
 * attempt's timer fires (a stalled event loop can make it fire on an answer the server was about to send), the next
 * attempt may reach the server first, on another connection, or the timed-out request may never be written at all. So
 * a timeout may stand for any served attempt, or for none; every other attempt the client saw must be one the server
 * served, and every attempt the server served must be one the client saw.
 */
const consistent = (seen: ReadonlyArray<Seen>, served: ReadonlyArray<Kind>): string | undefined => {
  const why = () => `client saw ${seen.join(",")}; server served ${served.join(",")}`
  if (seen.length > MAX_ATTEMPTS || served.length > seen.length) return why()
  if (seen[seen.length - 1] !== "ok" && seen.length < MAX_ATTEMPTS) return `gave up early: ${why()}`
  const unmatched = [...served]
  let timeouts = 0
  for (const attempt of seen) {
    if (attempt === "TimeoutException") {
      timeouts++
      continue
    }
    const i = unmatched.findIndex((kind) => seenOf(kind) === attempt)
    if (i === -1) return why()
    unmatched.splice(i, 1)
  }
  return unmatched.length <= timeouts ? undefined : why()
}

describe("soak", () => {
  it.scopedLive(
    `${
      CALLS.toLocaleString("en-US")
    } calls, ${IN_FLIGHT} in flight, 30% of answers faulted: every call ends, once, typed`,
    () =>
      Effect.gen(function*() {
        for (const [kind] of FAULTS) ledger.fault(kind)
        const served = new Map<number, Array<Kind>>()
        const server = yield* Chaos.make((request) => {
          if (request.callId === undefined) return Chaos.respond(200, { body: "warm" })
          const id = Number(request.callId)
          // A resent POST must carry its own body: anything else is answered 400, which no call may end with.
          if (request.method === "POST" && request.body.toString() !== `{"id":${id}}`) return Chaos.respond(400)
          const kind = kindOf(id, request.attempt)
          const list = served.get(id)
          if (list === undefined) served.set(id, [kind])
          else list.push(kind)
          return faultOf(kind, id)
        }, { record: false })
        const policy = RetryPolicy.make({
          maxAttempts: MAX_ATTEMPTS,
          baseDelay: "5 millis",
          jitter: "full",
          attemptTimeout: `${ATTEMPT_TIMEOUT} millis`,
          maxElapsed: "30 seconds"
        })
        /** What the client saw of each failed attempt, per call, in order; the end is added when the call ends. */
        const seen = new Map<number, Array<Seen>>()
        const onRetry = (info: HttpRetry.RetryInfo<unknown>) =>
          Effect.sync(() => {
            const id = Number(info.request.headers["x-call-id"])
            const failure = info.failure
            const attempt = failure._tag === "Status" ?
              String(failure.response.status) :
              Predicate.isTagged(failure.error, "RequestError") ?
              "RequestError" :
              Predicate.isTagged(failure.error, "TimeoutException") ?
              "TimeoutException" :
              `untyped: ${String(failure.error)}`
            const list = seen.get(id)
            if (list === undefined) seen.set(id, [attempt])
            else list.push(attempt)
          })
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          HttpRetry.layer(policy, { onRetry }).pipe(Layer.provide(NodeHttpRetry.layerClient())),
          scope
        )
        const client = yield* Effect.provide(HttpClient.HttpClient, context)
        const supervisor = yield* Supervisor.track

        // Open the pool's connections and warm the JIT first: 64 connections opened at once on two cores can take
        // longer than an attempt timeout, which would time out answers the server sent in time. The warm-up is not
        // under test: on a busy machine its attempts get all the time they need.
        yield* Effect.forEach(
          Array.from({ length: 4 * IN_FLIGHT }),
          () => Effect.flatMap(client.get(`${server.url}/warm`), (response) => response.text),
          { concurrency: IN_FLIGHT, discard: true }
        ).pipe(HttpRetry.withPolicy({ attemptTimeout: "30 seconds", maxElapsed: "2 minutes" }))

        const ends = new Map<number, Ending>()
        let twice = 0
        let wrongBody = 0
        const memory = { rssBaseline: 0, rssPeak: 0, heapBaseline: 0 }
        const sampler = setInterval(() => {
          memory.rssPeak = Math.max(memory.rssPeak, process.memoryUsage().rss)
        }, 100)

        const call = (id: number) =>
          client.execute(requestOf(server.url, id)).pipe(
            Effect.flatMap((response) => response.text),
            Effect.exit,
            Effect.map((exit) => {
              if (ends.has(id)) twice++
              const list = seen.get(id) ?? []
              seen.set(id, list)
              if (Exit.isSuccess(exit)) {
                if (exit.value !== bodyOf(id)) wrongBody++
                ends.set(id, "ok")
                list.push("ok")
              } else {
                const end = Ledger.endOf(exit)
                const error = Cause.squash(exit.cause) as { readonly _tag?: string; readonly status?: number }
                ends.set(id, end === "typedError" ? String(error._tag) : `${end}: ${String(error)}`)
                list.push(error._tag === "HttpStatusError" ? String(error.status) : String(error._tag))
              }
              if (ends.size === 1_000) {
                memory.heapBaseline = heapAfterGc()
                memory.rssBaseline = process.memoryUsage().rss
              }
            })
          )

        const began = performance.now()
        const finished = yield* Effect.forEach(Array.from({ length: CALLS }, (_, i) => i + 1), call, {
          concurrency: IN_FLIGHT,
          discard: true
        }).pipe(
          Effect.supervised(supervisor),
          Effect.timeout(BOUND),
          Effect.as(true),
          Effect.catchTag("TimeoutException", () => Effect.succeed(false))
        )
        const seconds = (performance.now() - began) / 1000
        clearInterval(sampler)
        const heapEnd = heapAfterGc()
        const rssEnd = process.memoryUsage().rss

        yield* Scope.close(scope, Exit.void)
        yield* eventually(() => server.openSockets() === 0, 2_000).pipe(Effect.catchAllDefect(() => Effect.void))
        const fibers = yield* Ledger.fibersAlive(supervisor)

        let succeeded = 0
        let typed = 0
        let lost = 0
        let asSeeded = 0
        let mostAttempts = 0
        const inconsistent: Array<string> = []
        const notSeeded: Array<string> = []
        const notSeededUntimed: Array<string> = []
        for (let id = 1; id <= CALLS; id++) {
          const ending = ends.get(id)
          const attempts = served.get(id) ?? []
          mostAttempts = Math.max(mostAttempts, attempts.length)
          if (ending === undefined) continue
          if (ending === "ok") succeeded++
          else if (/^[A-Z]\w+$/.test(ending)) typed++
          else lost++
          ledger.end(ending === "ok" ? "success" : /^[A-Z]\w+$/.test(ending) ? "typedError" : "lost")
          const expected = expectedOf(id)
          const client = seen.get(id) ?? []
          if (ending === expected.end && attempts.length === expected.attempts) asSeeded++
          else {
            notSeeded.push(`call ${id} ended ${ending} after ${attempts}`)
            if (!client.includes("TimeoutException")) notSeededUntimed.push(`call ${id}: client saw ${client}`)
          }
          const why = consistent(client, attempts)
          if (why !== undefined) inconsistent.push(`call ${id}: ${why}`)
        }
        const hung = CALLS - ends.size
        ledger.tally.hung += hung
        ledger.tally.calls += hung
        ledger.tally.fibersLeft += fibers
        ledger.sockets(server.openSockets())

        console.log(
          `[chaos] soak: ${CALLS} calls in ${seconds.toFixed(1)} s (${Math.round(CALLS / seconds)}/s), ` +
            `${
              server.arrivals - 4 * IN_FLIGHT
            } attempts, ${succeeded} succeeded, ${typed} typed errors, ${lost} lost, ` +
            `${hung} hung, ${twice} ended twice, ${asSeeded} exactly as seeded; ` +
            `heap after GC ${mb(memory.heapBaseline)} MB after 1,000 calls, ${mb(heapEnd)} MB at the end; ` +
            `RSS ${mb(memory.rssBaseline)} MB after 1,000 calls, peak ${mb(memory.rssPeak)} MB, ${
              mb(rssEnd)
            } MB at the end; ` +
            `${server.connections} connections, ${server.openSockets()} left open, ${fibers} fibers left` +
            (asSeeded === CALLS ? "" : `; not as seeded: ${notSeeded.slice(0, 5).join("; ")}`)
        )

        assert.isTrue(finished, `the soak did not end within ${BOUND} ms`)
        assert.strictEqual(hung, 0, "calls that never ended")
        assert.strictEqual(lost, 0, "calls that ended with a defect or an untyped error")
        assert.strictEqual(twice, 0, "calls that ended twice")
        assert.strictEqual(ends.size, CALLS)
        assert.strictEqual(wrongBody, 0, "answers that reached the wrong call")
        assert.deepStrictEqual(inconsistent.slice(0, 10), [], "calls whose end the served attempts do not explain")
        assert.isAtMost(mostAttempts, MAX_ATTEMPTS)
        // A call ends otherwise than the seed says only when an attempt's timer fired first, however rare a stalled event
        // loop makes that: the count of such calls depends on the machine, so the log line shows it and only the cause
        // is asserted.
        assert.deepStrictEqual(notSeededUntimed.slice(0, 10), [], "calls not as seeded, with no attempt timed out")
        assert.isAbove(typed, 0, "the seed gave no call four faults: the typed errors went untested")
        assert.strictEqual(server.openSockets(), 0, "sockets left open after the layer's scope closed")
        assert.strictEqual(fibers, 0, "fibers left alive")
        assert.isBelow(heapEnd - memory.heapBaseline, HEAP_GROWTH_LIMIT, "heap retained")
        assert.isBelow(memory.rssPeak - memory.rssBaseline, RSS_GROWTH_LIMIT, "RSS growth")
      }),
    { timeout: BOUND + 60_000 }
  )
})
