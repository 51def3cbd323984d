/**
 * Child process (run with --expose-gc): `count` requests through one client on /leak, where every tenth id is
 * answered 503 once, then 200. Samples RSS and heap after a full GC every tenth of the run, and the number of open
 * TCP sockets all along.
 */
import { isSkipped, loadAdapter } from "./load-adapter.js"
import type { FromClient, LeakSample } from "./protocol.js"

const [client, origin, countArg, concurrencyArg] = process.argv.slice(2)
const count = Number(countArg)
const concurrency = Number(concurrencyArg)
const send = (message: FromClient) => new Promise<void>((resolve) => process.send!(message, () => resolve()))
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length

const adapter = await loadAdapter(client)
if (isSkipped(adapter)) {
  await send({ type: "skipped", reason: adapter.skipped })
} else {
  const c = await adapter.make({ policy: "fault", connections: concurrency })
  const step = count / 10
  const samples: Array<LeakSample> = []
  let maxOpenSockets = 0
  const sampleSockets = () => {
    maxOpenSockets = Math.max(maxOpenSockets, openSockets())
  }
  const timer = setInterval(sampleSockets, 5)
  const start = performance.now()
  const outcome = await c.run({
    count,
    concurrency,
    url: (i) => `${origin}/leak?id=${i}`,
    onDone: (done) => {
      if (done % 100 === 0) sampleSockets()
      // The last sample is taken while the last `concurrency` requests are in flight, as every other sample is.
      if (done % step === 0 && done < count || done === count - concurrency) {
        gc()
        const m = process.memoryUsage()
        samples.push({ done, rssBytes: m.rss, heapUsedBytes: m.heapUsed })
      }
    }
  })
  const elapsedMs = performance.now() - start
  clearInterval(timer)
  await send({
    type: "leak",
    count,
    failures: outcome.failures,
    firstError: outcome.firstError,
    elapsedMs,
    samples,
    maxOpenSockets
  })
  await c.close()
}
process.exit(0)
