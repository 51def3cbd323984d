/**
 * Child process: one client, one scenario. Warms up on /warmup/PATH (the same behaviour, counted apart), then
 * measures `job.count` requests on `job.path` and sends one ClientResult to the parent.
 */
import { isSkipped, loadAdapter } from "./load-adapter.js"
import { ownCpuList } from "./placement.js"
import type { ClientJob, FromClient } from "./protocol.js"
import { percentile } from "./stats.js"

const job = JSON.parse(process.argv[2]) as ClientJob
const send = (message: FromClient) => new Promise<void>((resolve) => process.send!(message, () => resolve()))

const adapter = await loadAdapter(job.client)
if (isSkipped(adapter)) {
  await send({ type: "skipped", reason: adapter.skipped })
} else {
  const client = await adapter.make({ policy: job.policy, baseDelayMs: job.baseDelayMs })
  const work = (path: string, count: number) => ({
    count,
    concurrency: job.concurrency,
    url: (i: number) => `${job.origin}${path}?id=${i}`
  })
  if (job.warmup > 0) await client.run(work(`/warmup${job.path}`, job.warmup))

  const cpu = process.cpuUsage()
  const start = performance.now()
  const outcome = await client.run(work(job.path, job.count))
  const elapsedMs = performance.now() - start
  const { system, user } = process.cpuUsage(cpu)

  const sorted = Float64Array.from(outcome.latenciesMs).sort()
  await send({
    type: "result",
    count: job.count,
    failures: outcome.failures,
    firstError: outcome.firstError,
    elapsedMs,
    cpuUs: user + system,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpus: ownCpuList()
  })
  await client.close()
}
process.exit(0)
