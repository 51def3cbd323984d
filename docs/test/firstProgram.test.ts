/**
 * The README's first program ("Use it in your app"), run: the region is the README's block, character for
 * character (`pnpm run docs` checks that); it runs when this module loads, and the test asserts what the README
 * says it prints.
 */
// #region first-program
import { HttpRetry, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { Effect } from "effect"
import * as http from "node:http"

// A server on 127.0.0.1 having a bad day: 503 twice, then the answer.
let requests = 0
const server = http.createServer((_request, response) => {
  requests++
  if (requests <= 2) response.writeHead(503).end("busy")
  else response.writeHead(200, { "content-type": "application/json" }).end(`{"items":[1,2,3]}`)
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const { port } = server.address() as { port: number }

const program = Effect.gen(function*() {
  const client = yield* HttpRetry.client
  const response = yield* client.get(`http://127.0.0.1:${port}/items`)
  return yield* response.json
}).pipe(
  Effect.provide(NodeHttpRetry.layer({ policy: RetryPolicy.make({ baseDelay: "100 millis", log: "Info" }) }))
)

const items = await Effect.runPromise(program)
console.log(items, `after ${requests} requests`)
server.close()
// #endregion first-program

import { assert, it } from "@effect/vitest"

it("the first program gets its answer on the third request", () => {
  assert.deepStrictEqual(items, { items: [1, 2, 3] })
  assert.strictEqual(requests, 3)
  assert.isFalse(server.listening)
})
