import { assert, describe, it } from "@effect/vitest"
import { Placeholder } from "@http-retry/core"
describe("p", () => {
  it("x", () => assert.strictEqual(Placeholder.x, 1))
})
