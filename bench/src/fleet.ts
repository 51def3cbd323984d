/**
 * The fleet bench (issue 15): `pnpm --filter @http-retry/bench run fleet` (or `--smoke`: one short round, stdout
 * only, as `pnpm bench:smoke` is for the main harness). On a `redis-server` of its own (a free port, no persistence):
 *
 * - fleet: 4 client processes (fleet-client.ts), 16 calls in flight each (64 for the fleet), against a backend that
 *   answers every request 503; each call up to 4 attempts. Fleet-wide attempts per call with no budget, with four
 *   budgets (one Redis key prefix per process: what a budget per process gives), and with one budget shared in
 *   Redis; "once drained" counts the calls started after the first retry the fleet saw refused. Target: at most
 *   1.2 once drained, drained within the first second.
 * - happy: one process, 64 in flight, every answer 200: req/s with the Redis budget on over off (rounds alternate,
 *   the ratio of the medians). Target: at least 0.97x.
 *
 * Options: --smoke, --rounds=N (happy path; default 5), --only=fleet|happy.
 *
 * The retry loop calls the `RetryBudget` service directly (record each attempt, acquire before a retry), as the
 * retrying clients do with their budget on; it measures the store, not the HTTP layer.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import type { ClientConfig, ClientResult } from "./fleet-client.js"

const args = process.argv.slice(2)
const smoke = args.includes("--smoke")
const rounds = Number(args.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? (smoke ? 1 : 5))
const fleetCalls = smoke ? 300 : 2000
const happyCalls = smoke ? 2000 : 20_000
const only = args.find((a) => a.startsWith("--only="))?.split("=")[1]
const here = Path.dirname(fileURLToPath(import.meta.url))

const redisBinary = process.env.REDIS_SERVER ?? "redis-server"
if (ChildProcess.spawnSync(redisBinary, ["--version"]).status !== 0) {
  console.log(`fleet bench: skipped, no ${redisBinary} here (apt-get install -y redis-server)`)
  process.exit(0)
}

const listen = (server: Http.Server | Net.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as Net.AddressInfo).port)))

// --- redis-server and the backend ----------------------------------------------------------------------------------

const probe = Http.createServer()
const redisPort = await listen(probe)
await new Promise((resolve) => probe.close(resolve))
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "http-retry-fleet-bench-"))
const redis = ChildProcess.spawn(redisBinary, [
  "--port",
  String(redisPort),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--dir",
  dir
], { stdio: "ignore" })
// Ready when it answers PING.
for (let tries = 0;; tries++) {
  const pong = await new Promise<boolean>((resolve) => {
    const socket = Net.connect(redisPort, "127.0.0.1", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
  })
  if (pong) break
  if (tries > 500 || redis.exitCode !== null) throw new Error(`redis-server did not start on ${redisPort}`)
  await new Promise((resolve) => setTimeout(resolve, 20))
}
let seen = 0
const backend = Http.createServer((request, response) => {
  seen++
  if (request.url === "/fail") response.writeHead(503).end("down")
  else response.writeHead(200, { "content-type": "text/plain" }).end("ok")
})
const backendPort = await listen(backend)
const cleanup = () => {
  redis.kill()
  backend.close()
  Fs.rmSync(dir, { recursive: true, force: true })
}
process.on("exit", cleanup)

// --- one run: N client processes, started together --------------------------------------------------------------

let runs = 0
const run = async (
  processes: number,
  config: Omit<ClientConfig, "redis" | "keyPrefix">,
  sharedPrefix: boolean
): Promise<
  {
    readonly results: ReadonlyArray<ClientResult>
    readonly start: number
    readonly seen: number
    readonly warnings: number
  }
> => {
  runs++
  const children = Array.from({ length: processes }, (_, i) => {
    const keyPrefix = sharedPrefix ? `bench:${runs}:` : `bench:${runs}:${i}:`
    const child = ChildProcess.spawn(process.execPath, [
      "--conditions=@http-retry/source",
      "--import",
      "tsx",
      Path.join(here, "fleet-client.ts"),
      JSON.stringify({ ...config, redis: `redis://127.0.0.1:${redisPort}`, keyPrefix })
    ], { cwd: Path.join(here, ".."), stdio: ["pipe", "pipe", "inherit"] })
    return { child, lines: Readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]() }
  })
  // The clients' log lines: a warning is a process that went on without Redis for a while.
  let warnings = 0
  const next = async (i: number): Promise<string> => {
    for (;;) {
      const line = await children[i].lines.next()
      if (line.done) throw new Error(`fleet client ${i} ended without a result`)
      if (!String(line.value).startsWith("timestamp=")) return String(line.value)
      if (String(line.value).includes("level=WARN") && warnings++ === 0) console.error(`(${String(line.value)})`)
    }
  }
  for (let i = 0; i < processes; i++) {
    if ((await next(i)) !== "ready") throw new Error(`fleet client ${i} did not start`)
  }
  const before = seen
  const start = Date.now()
  for (const { child } of children) child.stdin!.end("go\n")
  const results = await Promise.all(children.map((_, i) => next(i).then((line) => JSON.parse(line) as ClientResult)))
  await Promise.all(
    children.map(({ child }) =>
      child.exitCode !== null ? undefined : new Promise((resolve) => child.once("exit", resolve))
    )
  )
  return { results, start, seen: seen - before, warnings }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// --- fleet: a backend failing 100% ----------------------------------------------------------------------------------

const fleetRow = async (label: string, budget: ClientConfig["budget"], shared: boolean) => {
  const { results, seen: backendSaw, start, warnings } = await run(4, {
    backend: `http://127.0.0.1:${backendPort}/fail`,
    calls: fleetCalls,
    inFlight: 16,
    maxAttempts: 4,
    budget
  }, shared)
  const calls = results.flatMap((r) => r.calls)
  const attempts = calls.reduce((n, [, a]) => n + a, 0)
  if (attempts !== backendSaw) throw new Error(`${label}: the clients counted ${attempts}, the backend ${backendSaw}`)
  const refusals = results.map((r) => r.firstRefusal).filter((t): t is number => t !== undefined)
  const drained = refusals.length === 0 ? undefined : Math.min(...refusals)
  const after = drained === undefined ? [] : calls.filter(([s]) => s > drained)
  const afterAttempts = after.reduce((n, [, a]) => n + a, 0)
  return {
    label,
    calls: calls.length,
    perCall: attempts / calls.length,
    retries: attempts - calls.length,
    drainedMs: drained === undefined ? undefined : drained - start,
    afterCalls: after.length,
    afterPerCall: after.length === 0 ? undefined : afterAttempts / after.length,
    warnings
  }
}

console.log(`fleet bench: redis-server on 127.0.0.1:${redisPort}, ${smoke ? "smoke" : `${rounds} happy-path rounds`}`)
const fleet = only === "happy" ? [] : [
  await fleetRow("no budget", "off", false),
  await fleetRow("a budget per process (4 prefixes)", "redis", false),
  await fleetRow("one budget in Redis", "redis", true)
]

// --- happy path: every answer 200, one process, Redis budget on vs off -----------------------------------------------

const happy: Record<"on" | "off", Array<number>> = { on: [], off: [] }
const happyCpu: Record<"on" | "off", Array<number>> = { on: [], off: [] }
for (let round = 0; round < (only === "fleet" ? 0 : rounds); round++) {
  for (const budget of round % 2 === 0 ? ["off", "redis"] as const : ["redis", "off"] as const) {
    const { results } = await run(1, {
      backend: `http://127.0.0.1:${backendPort}/ok`,
      calls: happyCalls,
      inFlight: 64,
      maxAttempts: 4,
      budget
    }, true)
    happy[budget === "redis" ? "on" : "off"].push(happyCalls / (results[0].elapsedMs / 1000))
    happyCpu[budget === "redis" ? "on" : "off"].push(results[0].cpuMicros / happyCalls)
  }
}

// --- report ------------------------------------------------------------------------------------------------------------

const fixed = (n: number | undefined, digits = 2) => n === undefined ? "-" : n.toFixed(digits)
if (fleet.length > 0) {
  console.log(`
Fleet: 4 processes x 16 in flight, ${fleetCalls} calls each, backend answering 503 to everything, up to 4 attempts

| budget | calls | retries | attempts per call | drained after | calls once drained | attempts per call once drained | warnings (lost Redis for a while) |
| --- | --: | --: | --: | --: | --: | --: | --: |
${
    fleet.map((r) =>
      `| ${r.label} | ${r.calls} | ${r.retries} | ${fixed(r.perCall)} | ${
        r.drainedMs === undefined ? "-" : `${r.drainedMs} ms`
      } | ${r.afterCalls} | ${fixed(r.afterPerCall)} | ${r.warnings} |`
    ).join("\n")
  }
`)
  const shared = fleet[2]
  const met = shared.afterPerCall !== undefined && shared.afterPerCall <= 1.2 && (shared.drainedMs ?? Infinity) <= 1000
  console.log(
    `target: one shared budget, at most 1.2 attempts per call once drained, drained within 1 s: ${
      fixed(shared.afterPerCall)
    } after ${shared.drainedMs ?? "-"} ms -> ${met ? "met" : "NOT met"}`
  )
}
if (happy.off.length > 0) {
  const ratio = median(happy.on) / median(happy.off)
  console.log(`
Happy path: one process, 64 in flight, ${happyCalls} calls of 200, ${rounds} round(s), ratio of the medians

| budget | req/s, each round | CPU µs per call, each round |
| --- | --: | --: |
| off | ${happy.off.map((n) => fixed(n, 0)).join(", ")} | ${happyCpu.off.map((n) => fixed(n, 0)).join(", ")} |
| one budget in Redis | ${happy.on.map((n) => fixed(n, 0)).join(", ")} | ${
    happyCpu.on.map((n) => fixed(n, 0)).join(", ")
  } |

CPU per call, off / on (the req/s ratio a CPU-bound client would see): ${
    fixed(median(happyCpu.off) / median(happyCpu.on), 3)
  }x
target: Redis budget on / off >= 0.97x: ${fixed(ratio, 3)}x -> ${ratio >= 0.97 ? "met" : "NOT met"}${
    smoke ? " (smoke: short rounds, the figure means little)" : ""
  }`)
}
process.exit(0)
