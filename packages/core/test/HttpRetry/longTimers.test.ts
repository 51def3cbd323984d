import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { noJitter } from "../utils.js"

// Node's native timers take at most 2^31 - 1 ms (about 24.8 days) and fire a longer one after 1 ms. Effect's own
// clock never fires a sleep that long; the retry's and the hedge's native timers must do the same. On the live clock
// only: under TestClock these waits are Effect sleeps.

const THIRTY_DAYS = "30 days"

/** A client answering 200 after 30 ms, counting its sends; `abortable` marks it as the Node layer's transport is. */
const slowClient = (abortable: boolean) => {
  let sends = 0
  const base = HttpClient.make((request) =>
    Effect.sync(() => sends++).pipe(
      Effect.zipRight(Effect.sleep("30 millis")),
      Effect.as(HttpClientResponse.fromWeb(request, new Response("ok")))
    )
  )
  const client = abortable ? HttpRetry.readsAttemptTimeout(base, { abortable: true }) : base
  return { client, sends: () => sends }
}

describe("timers longer than Node's longest", () => {
  it.live("an attemptTimeout of 30 days does not cut an attempt after 1 ms", () =>
    Effect.gen(function*() {
      const { client, sends } = slowClient(false)
      const retrying = client.pipe(
        HttpRetry.withRetry(noJitter({ attemptTimeout: THIRTY_DAYS, maxElapsed: THIRTY_DAYS }))
      )
      const response = yield* retrying.get("http://long-timers.test/a")
      assert.strictEqual(yield* response.text, "ok")
      assert.strictEqual(sends(), 1)
    }))

  for (const abortable of [false, true]) {
    it.live(`a hedge delay of 30 days sends no hedge (${abortable ? "first attempt on the caller" : "forked round"})`, () =>
      Effect.gen(function*() {
        const { client, sends } = slowClient(abortable)
        const hedged = client.pipe(HttpRetry.withRetry(noJitter()), HttpRetry.withHedging({ delay: THIRTY_DAYS }))
        const response = yield* hedged.get(`http://long-timers.test/${abortable}`)
        assert.strictEqual(yield* response.text, "ok")
        assert.strictEqual(sends(), 1)
      }))
  }

  it.live("an adaptive delay with a floor of 30 days sends no hedge", () =>
    Effect.gen(function*() {
      const { client, sends } = slowClient(false)
      const hedged = client.pipe(
        HttpRetry.withRetry(noJitter()),
        HttpRetry.withHedging({ delay: { floor: THIRTY_DAYS } })
      )
      const response = yield* hedged.get("http://long-timers.test/adaptive")
      assert.strictEqual(yield* response.text, "ok")
      assert.strictEqual(sends(), 1)
    }))
})
