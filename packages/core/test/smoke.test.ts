import { assert, describe, it } from "@effect/vitest"
import { TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { runScript } from "./utils.js"

describe("smoke", () => {
  it.effect("503 503 200", () =>
    Effect.gen(function*() {
      const out = yield* runScript([TestHttpClient.respond(503), TestHttpClient.respond(503), TestHttpClient.ok("hi")])
      console.log(out.attempts, out.at, out.result._tag)
      assert.strictEqual(out.attempts, 3)
    }))
})
