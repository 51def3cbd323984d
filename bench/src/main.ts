/**
 * The benchmark harness. `pnpm bench` (full, writes BENCHMARKS.md), `pnpm bench --quick` (the issue's targets
 * only, writes BENCHMARKS.md) or `pnpm bench:smoke` (stdout only).
 *
 * Options: --smoke, --quick, --rounds=N, --scale=F, --placements=unpinned,pinned, --taskset=PATH,
 * --clients=a,b (adapter names in ./clients), --scenarios=a,b (`fleet`: the fleet rows on Redis), --leak-client=NAME,
 * --leak-count=N, --no-leak, --no-write. See bench/README.md.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Server } from "./children.js"
import { runChild, startServer } from "./children.js"
import type { CommandRun } from "./cold-commands.js"
import { buildCommand, commandSummary, runCommands } from "./cold-commands.js"
import type { ClientInfo, Scenario } from "./config.js"
import { clients as allClients, makeMode } from "./config.js"
import { fleetSizes, runFleet } from "./fleet.js"
import type { Placement, PlacementName } from "./placement.js"
import { detectPlacements } from "./placement.js"
import { buildDir, buildPackages, rootDir, transpile } from "./prepare.js"
import type { ClientJob } from "./protocol.js"
import type { ColdRun, LeakRun, Results, Run } from "./report.js"
import { environment, render } from "./report.js"

const args = process.argv.slice(2)
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]
const flag = (name: string) => args.includes(`--${name}`)

const positive = (name: string, fallback: number): number => {
  const text = option(name)
  if (text === undefined) return fallback
  const n = Number(text)
  if (!(n > 0)) throw new Error(`--${name}=${text}: expected a number greater than 0`)
  return n
}

const scale = positive("scale", 1)
const mode = makeMode(flag("smoke") ? "smoke" : flag("quick") ? "quick" : "full", scale)
const rounds = Math.round(positive("rounds", mode.rounds))
const wanted = option("clients")?.split(",")
for (const name of wanted ?? []) {
  if (!allClients.some((c) => c.name === name)) {
    throw new Error(`--clients: unknown client ${name} (known: ${allClients.map((c) => c.name).join(", ")})`)
  }
}
const wantedScenarios = option("scenarios")?.split(",")
for (const name of wantedScenarios ?? []) {
  if (name !== "fleet" && !mode.scenarios.some((s) => s.name === name)) {
    throw new Error(
      `--scenarios: ${name} is not a scenario of ${mode.name} mode (${
        [...mode.scenarios.map((s) => s.name), "fleet"].join(", ")
      })`
    )
  }
}
/** The fleet rows (fleet.ts): 4 processes on one Redis budget, and the happy path with it; in every mode. */
const fleetWanted = wantedScenarios === undefined || wantedScenarios.includes("fleet")
/**
 * Each scenario's clients: the mode's list, or the --clients given (the retry scenarios only take those that
 * retry).
 */
const scenarios: ReadonlyArray<Scenario> = mode.scenarios
  .filter((s) => wantedScenarios === undefined || wantedScenarios.includes(s.name))
  .map((s) =>
    wanted === undefined ? s : {
      ...s,
      clients: wanted.filter((name) =>
        s.kind === "open-state"
          ? s.clients.includes(name)
          : s.kind === "throughput" || s.kind === "cold-start" || allClients.find((c) => c.name === name)!.retries
      )
    }
  )
  .filter((s) => s.clients.length > 0)
const clients = allClients.filter((c) => scenarios.some((s) => s.clients.includes(c.name)))
const wantedPlacements = (option("placements")?.split(",") ?? ["unpinned", "pinned"]) as Array<PlacementName>
for (const p of wantedPlacements) {
  if (p !== "unpinned" && p !== "pinned") throw new Error(`--placements: unknown placement ${p}`)
}
const placements = detectPlacements(wantedPlacements, option("taskset"))
const leakClient = option("leak-client") ?? "ours"
if (!allClients.some((c) => c.name === leakClient)) throw new Error(`--leak-client: unknown client ${leakClient}`)
const leak = mode.leak === undefined || flag("no-leak")
  ? undefined
  : { ...mode.leak, count: Math.round(positive("leak-count", mode.leak.count)) }
const write = mode.name !== "smoke" && !flag("no-write")

const progress = (line: string) => process.stderr.write(`${line}\n`)
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

interface Placed {
  readonly placement: Placement
  readonly server: Server
}

const runScenario = async (
  { placement, server }: Placed,
  scenario: Scenario,
  client: ClientInfo,
  round: number
): Promise<Run> => {
  await server.reset()
  const job: ClientJob = {
    client: client.name,
    origin: server.origin,
    path: scenario.path,
    count: scenario.count,
    concurrency: scenario.concurrency,
    warmup: scenario.warmup,
    policy: scenario.policy,
    baseDelayMs: scenario.baseDelayMs
  }
  const exit = await runChild(buildDir, "run-client.js", [JSON.stringify(job)], {
    timeoutMs: mode.childTimeoutMs,
    taskset: placements.taskset,
    cpus: placement.clientCpus
  })
  const stats = await server.stats()
  const base = { round, placement: placement.name, scenario, client }
  if (exit.message?.type === "skipped") return { ...base, skipped: exit.message.reason }
  if (exit.message?.type !== "result") return { ...base, crashed: describeExit(exit) }
  return { ...base, result: exit.message, server: stats }
}

const runColdStart = async ({ placement, server }: Placed, client: ClientInfo, round: number): Promise<ColdRun> => {
  await server.reset()
  const exit = await runChild(buildDir, "cold-start.js", [client.name, server.origin], {
    timeoutMs: mode.childTimeoutMs,
    taskset: placements.taskset,
    cpus: placement.clientCpus
  })
  const base = { round, placement: placement.name, client }
  if (exit.message?.type === "skipped") return { ...base, skipped: exit.message.reason }
  if (exit.message?.type !== "cold-start") return { ...base, crashed: describeExit(exit) }
  return { ...base, result: exit.message }
}

const runLeak = async (
  { placement, server }: Placed,
  client: ClientInfo,
  size: { count: number; concurrency: number }
): Promise<LeakRun> => {
  await server.reset()
  const { concurrency, count } = size
  const exit = await runChild(buildDir, "leak.js", [client.name, server.origin, String(count), String(concurrency)], {
    timeoutMs: mode.leakTimeoutMs,
    execArgv: ["--expose-gc"],
    taskset: placements.taskset,
    cpus: placement.clientCpus
  })
  const stats = await server.stats()
  const base = { client, concurrency, placement: placement.name }
  if (exit.message?.type === "skipped") return { ...base, skipped: exit.message.reason }
  if (exit.message?.type !== "leak") return { ...base, crashed: describeExit(exit) }
  return { ...base, result: exit.message, server: stats }
}

const describeExit = (exit: { code: number | null; signal: string | null; timedOut: boolean }) =>
  exit.timedOut
    ? "timed out"
    : `exited with ${exit.code ?? exit.signal} before reporting`

const runSummary = (run: Run): string => {
  if (run.result === undefined) return run.skipped !== undefined ? `skipped: ${run.skipped}` : `CRASHED: ${run.crashed}`
  const r = run.result
  const attempts = run.server?.routes[run.scenario.path]?.attempts ?? 0
  const failed = r.failures > 0 ? `, ${r.failures} failed (${r.firstError})` : ""
  if (run.scenario.kind === "storm") {
    const fifty = run.server?.routes[run.scenario.path]?.afterFifty
    const drained = fifty === undefined || fifty.ids === 0 ?
      "" :
      `, ${(fifty.attempts / fifty.ids).toFixed(2)} per call after the first 50 (${fifty.afterMs.toFixed(0)} ms in)`
    return `${(attempts / r.count).toFixed(2)} attempts per call${drained}, ${r.failures} of ${r.count} failed`
  }
  const unit = run.scenario.attemptsPerRequest > 1 ? "calls/s" : "req/s"
  return `${fmt(r.count / (r.elapsedMs / 1000))} ${unit}, ${r.elapsedMs.toFixed(0)} ms, ${attempts} attempts${failed}`
}

const coldSummary = (run: ColdRun): string => {
  if (run.result === undefined) return run.skipped !== undefined ? `skipped: ${run.skipped}` : `CRASHED: ${run.crashed}`
  const failed = run.result.failed !== undefined ? `, request failed (${run.result.failed})` : ""
  return `${run.result.firstResponseMs.toFixed(0)} ms to first response${failed}`
}

const main = async () => {
  const started = performance.now()
  progress(
    `http-retry bench, ${mode.name} mode: ${rounds} round(s), placements ` +
      `${placements.placements.map((p) => p.name).join(", ")}, clients ${
        clients.map((c) => c.name).join(", ") || "none"
      }${fleetWanted ? ", then the fleet rows on Redis" : ""}`
  )
  if (placements.pinnedUnavailable !== undefined) {
    progress(`note: pinned placement not run (${placements.pinnedUnavailable}); every figure is unpinned`)
  }
  const buildError = buildPackages()
  if (buildError !== undefined) {
    progress(`warning: tsc -b packages/node packages/redis failed; going on with the dist/ there is:\n${buildError}`)
  }
  const commandError = scenarios.some((s) => s.kind === "cold-start") ? buildCommand(rootDir) : undefined
  if (commandError !== undefined) progress(`warning: bundling packages/cli failed:\n${commandError}`)
  await transpile()
  // One server per placement, started once: the pinned one under `taskset`, the unpinned one free.
  const placed: Array<Placed> = []
  const results: Results = {
    mode,
    rounds,
    clients,
    scenarios,
    placements,
    serverCpus: {},
    environment: environment(),
    runs: [],
    coldRuns: [],
    commandRuns: [],
    leak: undefined,
    fleet: undefined
  }
  // Once a client's import fails it will fail every time: skip it from then on instead of forking it again.
  const skipped = new Map<string, string>()
  try {
    for (const placement of placements.placements) {
      const server = await startServer(buildDir, placements.taskset, placement.serverCpus)
      placed.push({ placement, server })
      results.serverCpus[placement.name] = server.cpus
    }
    const runsStarted = performance.now()
    // Only the fleet rows asked for (--scenarios=fleet): no round of scenarios.
    for (let round = 1; round <= (scenarios.length === 0 ? 0 : rounds); round++) {
      if (round > 1) {
        const perRound = (performance.now() - runsStarted) / (round - 1) / 1000
        progress(
          `${(perRound * (round - 1)).toFixed(0)} s for ${round - 1} round(s); about ` +
            `${(perRound * (rounds - round + 1)).toFixed(0)} s to go${leak === undefined ? "" : ", then the leak run"}`
        )
      }
      // Alternate which placement goes first, and rotate the clients' order, so that no client always runs
      // right after the same neighbour or at the same point of a round.
      const order = round % 2 === 1 ? placed : [...placed].reverse()
      for (const at of order) {
        for (const scenario of scenarios) {
          // The shipped command, once a round (its figures are ratios against `node -e ""` in the same round).
          if (scenario.kind === "cold-start" && at === order[0]) {
            await at.server.reset()
            const runs: Array<CommandRun> = await runCommands(rootDir, at.server.origin, round, mode.childTimeoutMs)
            results.commandRuns.push(...runs)
            for (const run of runs) {
              progress(
                `[round ${round}/${rounds}] ${scenario.name.padEnd(11)} ${run.command.name.padEnd(12)} ${
                  commandSummary(run)
                }`
              )
            }
          }
          const names = scenario.clients
          const shift = (round - 1) % names.length
          const turn = [...names.slice(shift), ...names.slice(0, shift)]
          for (const name of turn) {
            const client = allClients.find((c) => c.name === name)!
            const label = `[round ${round}/${rounds} ${at.placement.name.padEnd(8)}] ${scenario.name.padEnd(11)} ` +
              `${client.name.padEnd(16)}`
            const skip = skipped.get(client.name)
            if (skip !== undefined) continue
            if (scenario.kind === "cold-start") {
              const run = await runColdStart(at, client, round)
              results.coldRuns.push(run)
              if (run.skipped !== undefined) skipped.set(client.name, run.skipped)
              progress(`${label} ${coldSummary(run)}`)
            } else {
              const run = await runScenario(at, scenario, client, round)
              results.runs.push(run)
              if (run.skipped !== undefined) skipped.set(client.name, run.skipped)
              progress(`${label} ${runSummary(run)}`)
            }
          }
        }
      }
    }
    if (leak !== undefined) {
      const client = allClients.find((c) => c.name === leakClient)
      if (client === undefined) throw new Error(`unknown --leak-client ${leakClient}`)
      // The leak run is about growth, not a ratio: once, on the first placement's server, the client placed alike.
      const at = placed[0]
      progress(`[leak] ${leak.count} requests through ${client.name}, 10% answered 503 once (${at.placement.name})`)
      results.leak = await runLeak(at, client, leak)
      const run = results.leak
      progress(
        `[leak] ${
          run.skipped !== undefined
            ? `skipped: ${run.skipped}`
            : run.crashed !== undefined
            ? `CRASHED: ${run.crashed}`
            : `${run.result!.elapsedMs.toFixed(0)} ms`
        }`
      )
    }
    if (fleetWanted) {
      // Smoke mode keeps the rows working in the first placement only, at a size whose figures mean nothing.
      const size = fleetSizes[mode.name]
      const n = (x: number) => Math.max(1, Math.round(x * scale))
      results.fleet = await runFleet({
        size: {
          fleetCalls: n(size.fleetCalls),
          happyCalls: n(size.happyCalls),
          happyWarmup: n(size.happyWarmup),
          rounds
        },
        placements: mode.name === "smoke" ? placed.slice(0, 1) : placed,
        taskset: placements.taskset,
        buildDir,
        timeoutMs: mode.childTimeoutMs,
        progress
      })
    }
  } finally {
    for (const { server } of placed) server.stop()
  }

  const markdown = render(results)
  process.stdout.write(markdown)
  if (write) {
    const out = Path.join(rootDir, "BENCHMARKS.md")
    Fs.writeFileSync(out, markdown)
    progress(`wrote ${out}`)
  }
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  const fleet = results.fleet?._tag === "Ran" ? results.fleet.placements : []
  const crashed = [...results.runs, ...results.coldRuns, ...results.commandRuns].some((r) => r.crashed !== undefined) ||
    results.leak?.crashed !== undefined ||
    fleet.some((p) => [...p.rows, ...p.happy].some((r) => r.crashed !== undefined))
  process.exitCode = crashed ? 1 : 0
}

await main()
