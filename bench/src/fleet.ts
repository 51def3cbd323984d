/**
 * The fleet rows (issue 15), run by main.ts after the scenarios (`--scenarios=fleet` runs only them), in each
 * placement, on a `redis-server` the bench starts on a free port (no persistence, a temporary directory; with the
 * server's CPUs when pinned) and stops after; without `redis-server` they are skipped, and the report says so in one
 * line. The clients are fleet-client.ts processes on the real layer (`NodeHttpRetry.layer` over
 * `RedisRetryBudget.layer`), the backend is the placement's bench server (server.ts), which counts every attempt.
 *
 * - fleet: 4 processes, 16 calls in flight each (64 for the fleet), against /down (503 to everything), each call up
 *   to 4 attempts 1 ms, 2 ms, 4 ms apart. Rows: no budget; a budget per process (4 key prefixes); one budget shared
 *   in Redis. "Once drained": the calls started after the first call the fleet saw refused a retry
 *   (`BudgetExhausted`). The server's count must equal the sum of the calls' attempts. Once per placement.
 * - happy: one process, 64 in flight, /happy: the layer with the Redis budget and the breaker on, against the same
 *   layer without them, each round (the order alternating), the ratio taken within the round.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import type { Server } from "./children.js"
import type { ClientConfig, ClientKind, ClientResult } from "./fleet-client.js"
import type { Placement, PlacementName } from "./placement.js"
import type { RouteStats } from "./protocol.js"

export interface FleetSize {
  /** Calls per process in a fleet row. */
  readonly fleetCalls: number
  /** Calls in a happy-path run, after `happyWarmup`. */
  readonly happyCalls: number
  readonly happyWarmup: number
  readonly rounds: number
}

export const fleetSizes = {
  full: { fleetCalls: 2000, happyCalls: 8000, happyWarmup: 2000, rounds: 5 },
  quick: { fleetCalls: 1000, happyCalls: 6000, happyWarmup: 2000, rounds: 3 },
  smoke: { fleetCalls: 200, happyCalls: 400, happyWarmup: 64, rounds: 1 }
} as const satisfies Record<string, FleetSize>

export const FLEET_PROCESSES = 4
export const FLEET_IN_FLIGHT = 16
export const HAPPY_IN_FLIGHT = 64

export interface FleetRow {
  readonly label: string
  readonly calls: number
  readonly attempts: number
  /** What the backend counted on /down during the row. */
  readonly backendAttempts: number
  readonly failures: number
  readonly refused: number
  readonly drainedMs: number | undefined
  readonly afterCalls: number
  readonly afterAttempts: number
  /** Warnings the processes logged (a process that lost Redis for a while decided on its own view). */
  readonly warnings: number
  readonly cpus: ReadonlyArray<string>
  readonly crashed?: string | undefined
}

export interface HappyRun {
  readonly round: number
  readonly kind: "plain" | "guarded"
  readonly rps: number
  readonly cpuMicrosPerCall: number
  readonly failures: number
  readonly firstError: string | undefined
  readonly backendAttempts: number
  readonly calls: number
  readonly cpus: string | undefined
  readonly crashed?: string | undefined
}

export interface FleetPlacement {
  readonly placement: PlacementName
  readonly description: string
  readonly redisCpus: string | undefined
  readonly rows: ReadonlyArray<FleetRow>
  readonly happy: ReadonlyArray<HappyRun>
}

export type FleetResults =
  | { readonly _tag: "Skipped"; readonly reason: string }
  | {
    readonly _tag: "Ran"
    readonly size: FleetSize
    readonly redisVersion: string
    readonly placements: ReadonlyArray<FleetPlacement>
  }

export const redisBinary = process.env.REDIS_SERVER ?? "redis-server"

/** The version of `redis-server` here, or undefined when there is none. */
export const redisVersion = (): string | undefined => {
  const probe = ChildProcess.spawnSync(redisBinary, ["--version"], { encoding: "utf8" })
  if (probe.status !== 0) return undefined
  return /v=(\S+)/.exec(probe.stdout)?.[1] ?? "unknown"
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.once("error", () => {
      socket.destroy()
      resolve(false)
    })
  })

interface Redis {
  readonly url: string
  readonly stop: () => void
}

/** A redis-server of the bench's own: a free port, no persistence, a temporary directory; under `taskset -c cpus`. */
const startRedis = async (taskset: string | undefined, cpus: string | undefined): Promise<Redis> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "http-retry-bench-redis-"))
  const port = await freePort()
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]
  const child = taskset === undefined || cpus === undefined ?
    ChildProcess.spawn(redisBinary, args, { stdio: "ignore" }) :
    ChildProcess.spawn(taskset, ["-c", cpus, redisBinary, ...args], { stdio: "ignore" })
  const stop = () => {
    child.kill("SIGKILL")
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  for (let tries = 0; !(await ping(port)); tries++) {
    if (tries > 500 || child.exitCode !== null) {
      stop()
      throw new Error(`redis-server did not start on ${port}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { url: `redis://127.0.0.1:${port}`, stop }
}

export interface FleetOptions {
  readonly size: FleetSize
  readonly placements: ReadonlyArray<{ readonly placement: Placement; readonly server: Server }>
  readonly taskset: string | undefined
  /** The directory of the transpiled bench (fleet-client.js). */
  readonly buildDir: string
  readonly timeoutMs: number
  readonly progress: (line: string) => void
}

interface Spawned {
  readonly results: ReadonlyArray<ClientResult>
  readonly warnings: number
  readonly start: number
}

let runs = 0

/** Starts `configs.length` client processes, waits until each is ready, starts them together, collects results. */
const spawnClients = async (
  options: FleetOptions,
  cpus: string | undefined,
  configs: ReadonlyArray<ClientConfig>
): Promise<Spawned> => {
  const script = Path.join(options.buildDir, "fleet-client.js")
  const children = configs.map((config) => {
    const argv = [script, JSON.stringify(config)]
    const child = options.taskset === undefined || cpus === undefined ?
      ChildProcess.spawn(process.execPath, argv, { stdio: ["pipe", "pipe", "inherit"] }) :
      ChildProcess.spawn(options.taskset, ["-c", cpus, process.execPath, ...argv], {
        stdio: ["pipe", "pipe", "inherit"]
      })
    return { child, lines: Readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]() }
  })
  const timer = setTimeout(() => children.forEach(({ child }) => child.kill("SIGKILL")), options.timeoutMs)
  try {
    let warnings = 0
    const next = async (i: number): Promise<string> => {
      for (;;) {
        const line = await children[i].lines.next()
        if (line.done) throw new Error(`fleet client ${i} ended without a result`)
        const text = String(line.value)
        if (!text.startsWith("timestamp=")) return text
        if (text.includes("level=WARN") && warnings++ === 0) options.progress(`  (a fleet client: ${text})`)
      }
    }
    for (let i = 0; i < children.length; i++) {
      const line = await next(i)
      if (line !== "ready") throw new Error(`fleet client ${i} did not start: ${line}`)
    }
    const start = Date.now()
    for (const { child } of children) child.stdin!.end("go\n")
    const results = await Promise.all(children.map((_, i) => next(i).then((l) => JSON.parse(l) as ClientResult)))
    await Promise.all(
      children.map(({ child }) =>
        child.exitCode !== null || child.signalCode !== null ?
          undefined :
          new Promise((resolve) => child.once("exit", resolve))
      )
    )
    return { results, warnings, start }
  } finally {
    clearTimeout(timer)
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
}

const routeAttempts = (routes: Readonly<Record<string, RouteStats>>, path: string) => routes[path]?.attempts ?? 0

const fleetRow = async (
  options: FleetOptions,
  at: FleetOptions["placements"][number],
  redis: Redis,
  label: string,
  kind: ClientKind,
  shared: boolean
): Promise<FleetRow> => {
  const run = ++runs
  await at.server.reset()
  const configs = Array.from({ length: FLEET_PROCESSES }, (_, i): ClientConfig => ({
    kind,
    redis: redis.url,
    keyPrefix: shared ? `bench:${run}:` : `bench:${run}:${i}:`,
    origin: at.server.origin,
    path: "/down",
    tag: `${run}.${i}`,
    calls: options.size.fleetCalls,
    // No warm-up: on the same origin it would drain the budget before the run.
    warmup: 0,
    inFlight: FLEET_IN_FLIGHT,
    policy: "fast"
  }))
  const empty = {
    label,
    calls: 0,
    attempts: 0,
    backendAttempts: 0,
    failures: 0,
    refused: 0,
    drainedMs: undefined,
    afterCalls: 0,
    afterAttempts: 0,
    warnings: 0,
    cpus: []
  }
  let spawned: Spawned
  try {
    spawned = await spawnClients(options, at.placement.clientCpus, configs)
  } catch (error) {
    return { ...empty, crashed: error instanceof Error ? error.message : String(error) }
  }
  const stats = await at.server.stats()
  const calls = spawned.results.flatMap((r) => r.calls)
  const refusals = spawned.results.flatMap((r) => r.firstRefusal === undefined ? [] : [r.firstRefusal])
  const drained = refusals.length === 0 ? undefined : Math.min(...refusals)
  const after = drained === undefined ? [] : calls.filter(([start]) => start > drained)
  return {
    label,
    calls: calls.length,
    attempts: calls.reduce((n, [, a]) => n + a, 0),
    backendAttempts: routeAttempts(stats.routes, "/down"),
    failures: spawned.results.reduce((n, r) => n + r.failures, 0),
    refused: spawned.results.reduce((n, r) => n + r.refused, 0),
    drainedMs: drained === undefined ? undefined : drained - spawned.start,
    afterCalls: after.length,
    afterAttempts: after.reduce((n, [, a]) => n + a, 0),
    warnings: spawned.warnings,
    cpus: [...new Set(spawned.results.flatMap((r) => r.cpus === undefined ? [] : [r.cpus]))]
  }
}

const happyRun = async (
  options: FleetOptions,
  at: FleetOptions["placements"][number],
  redis: Redis,
  kind: "plain" | "guarded",
  round: number
): Promise<HappyRun> => {
  const run = ++runs
  await at.server.reset()
  const config: ClientConfig = {
    kind,
    redis: redis.url,
    keyPrefix: `bench:${run}:`,
    origin: at.server.origin,
    path: "/happy",
    tag: `${run}`,
    calls: options.size.happyCalls,
    warmup: options.size.happyWarmup,
    inFlight: HAPPY_IN_FLIGHT,
    policy: "default"
  }
  const empty = {
    round,
    kind,
    rps: NaN,
    cpuMicrosPerCall: NaN,
    failures: 0,
    firstError: undefined,
    backendAttempts: 0,
    calls: 0,
    cpus: undefined
  }
  let spawned: Spawned
  try {
    spawned = await spawnClients(options, at.placement.clientCpus, [config])
  } catch (error) {
    return { ...empty, crashed: error instanceof Error ? error.message : String(error) }
  }
  const stats = await at.server.stats()
  const [result] = spawned.results
  return {
    round,
    kind,
    rps: result.calls.length / (result.elapsedMs / 1000),
    cpuMicrosPerCall: result.cpuMicros / result.calls.length,
    failures: result.failures,
    firstError: result.firstError,
    backendAttempts: routeAttempts(stats.routes, "/happy"),
    calls: result.calls.length,
    cpus: result.cpus
  }
}

/** The fleet rows in every placement given; `Skipped` when there is no redis-server here. */
export const runFleet = async (options: FleetOptions): Promise<FleetResults> => {
  const version = redisVersion()
  if (version === undefined) {
    const reason = `no ${redisBinary} here (apt-get install -y redis-server, or set REDIS_SERVER to its path)`
    options.progress(`[fleet] skipped: ${reason}`)
    return { _tag: "Skipped", reason }
  }
  const placements: Array<FleetPlacement> = []
  for (const at of options.placements) {
    const name = at.placement.name.padEnd(8)
    const redis = await startRedis(options.taskset, at.placement.serverCpus)
    try {
      const rows: Array<FleetRow> = []
      for (
        const [label, kind, shared] of [
          ["no budget", "plain", false],
          ["a budget per process (4 key prefixes)", "budget", false],
          ["one budget in Redis", "budget", true]
        ] as const
      ) {
        const row = await fleetRow(options, at, redis, label, kind, shared)
        rows.push(row)
        options.progress(
          `[fleet ${name}] ${label.padEnd(38)} ${
            row.crashed !== undefined ?
              `CRASHED: ${row.crashed}` :
              `${(row.attempts / row.calls).toFixed(2)} attempts per call, ${
                row.afterCalls === 0 ? "never drained" : `${(row.afterAttempts / row.afterCalls).toFixed(2)} once ` +
                  `drained (${row.drainedMs} ms in)`
              }, backend saw ${row.backendAttempts}`
          }`
        )
      }
      const happy: Array<HappyRun> = []
      for (let round = 1; round <= options.size.rounds; round++) {
        const order = round % 2 === 1 ? ["plain", "guarded"] as const : ["guarded", "plain"] as const
        for (const kind of order) {
          const run = await happyRun(options, at, redis, kind, round)
          happy.push(run)
          options.progress(
            `[fleet ${name}] happy round ${round}/${options.size.rounds} ${kind.padEnd(7)} ${
              run.crashed !== undefined ?
                `CRASHED: ${run.crashed}` :
                `${Math.round(run.rps)} req/s, ${run.failures} failed`
            }`
          )
        }
      }
      placements.push({
        placement: at.placement.name,
        description: at.placement.description,
        redisCpus: at.placement.serverCpus,
        rows,
        happy
      })
    } finally {
      redis.stop()
    }
  }
  return { _tag: "Ran", size: options.size, redisVersion: version, placements }
}
