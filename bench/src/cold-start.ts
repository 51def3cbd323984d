/**
 * Child process: time from process start until one client has imported its packages and parsed one response.
 * No warm-up, no other work. Timestamps are `performance.now()`, which counts from the process's start.
 */
import { isSkipped, loadAdapter } from "./load-adapter.js"
import type { FromClient } from "./protocol.js"

const bootMs = performance.now()
const [client, origin] = process.argv.slice(2)
const send = (message: FromClient) => new Promise<void>((resolve) => process.send!(message, () => resolve()))

const adapter = await loadAdapter(client)
const importMs = performance.now() - bootMs
if (isSkipped(adapter)) {
  await send({ type: "skipped", reason: adapter.skipped })
} else {
  const c = await adapter.make({ policy: "default" })
  const outcome = await c.run({ count: 1, concurrency: 1, url: () => `${origin}/happy?id=0` })
  const firstResponseMs = performance.now()
  await send({
    type: "cold-start",
    bootMs,
    importMs,
    firstResponseMs,
    failed: outcome.failures > 0 ? outcome.firstError ?? "failed" : undefined
  })
  await c.close()
}
process.exit(0)
