/**
 * The benchmark harness. `pnpm bench` (full, writes BENCHMARKS.md) or `pnpm bench:smoke` (stdout only).
 *
 * Options: --smoke, --rounds=N, --clients=a,b (adapter names in ./clients), --scenarios=a,b, --leak-client=NAME,
 * --leak-count=N, --no-leak, --no-write.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Server } from "./children.js"
import { runChild, startServer } from "./children.js"
import type { CommandRun } from "./cold-commands.js"
import { buildCommand, commandSummary, runCommands } from "./cold-commands.js"
import type { ClientInfo, Scenario } from "./config.js"
import { clients as allClients, modes } from "./config.js"
import { buildDir, buildPackages, rootDir, transpile } from "./prepare.js"
import type { ClientJob } from "./protocol.js"
import type { ColdRun, LeakRun, Results, Run } from "./report.js"
import { environment, render } from "./report.js"

const args = process.argv.slice(2)
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]
const flag = (name: string) => args.includes(`--${name}`)

const mode = modes[flag("smoke") ? "smoke" : "full"]
const rounds = Number(option("rounds") ?? mode.rounds)
const wanted = option("clients")?.split(",")
const clients = allClients.filter((c) => wanted === undefined ? !c.optIn : wanted.includes(c.name))
const wantedScenarios = option("scenarios")?.split(",")
const scenarios = mode.scenarios.filter((s) => wantedScenarios === undefined || wantedScenarios.includes(s.name))
const leakClient = option("leak-client") ?? "ours"
const leak = { ...mode.leak, count: Number(option("leak-count") ?? mode.leak.count) }
const write = mode.name === "full" && !flag("no-write")

const progress = (line: string) => process.stderr.write(`${line}\n`)
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

const runScenario = async (
  server: Server,
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
    policy: scenario.policy
  }
  const exit = await runChild(buildDir, "run-client.js", [JSON.stringify(job)], { timeoutMs: mode.childTimeoutMs })
  const stats = await server.stats()
  if (exit.message?.type === "skipped") return { round, scenario, client, skipped: exit.message.reason }
  if (exit.message?.type !== "result") {
    return { round, scenario, client, crashed: describeExit(exit) }
  }
  return { round, scenario, client, result: exit.message, server: stats }
}

const runColdStart = async (server: Server, client: ClientInfo, round: number): Promise<ColdRun> => {
  await server.reset()
  const exit = await runChild(buildDir, "cold-start.js", [client.name, server.origin], {
    timeoutMs: mode.childTimeoutMs
  })
  if (exit.message?.type === "skipped") return { round, client, skipped: exit.message.reason }
  if (exit.message?.type !== "cold-start") return { round, client, crashed: describeExit(exit) }
  return { round, client, result: exit.message }
}

const runLeak = async (server: Server, client: ClientInfo): Promise<LeakRun> => {
  await server.reset()
  const { concurrency, count } = leak
  const exit = await runChild(buildDir, "leak.js", [client.name, server.origin, String(count), String(concurrency)], {
    timeoutMs: mode.leakTimeoutMs,
    execArgv: ["--expose-gc"]
  })
  const stats = await server.stats()
  if (exit.message?.type === "skipped") return { client, concurrency, skipped: exit.message.reason }
  if (exit.message?.type !== "leak") return { client, concurrency, crashed: describeExit(exit) }
  return { client, concurrency, result: exit.message, server: stats }
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
  return `${fmt(r.count / (r.elapsedMs / 1000))} req/s, ${r.elapsedMs.toFixed(0)} ms, ${attempts} attempts${failed}`
}

const coldSummary = (run: ColdRun): string => {
  if (run.result === undefined) return run.skipped !== undefined ? `skipped: ${run.skipped}` : `CRASHED: ${run.crashed}`
  const failed = run.result.failed !== undefined ? `, request failed (${run.result.failed})` : ""
  return `${run.result.firstResponseMs.toFixed(0)} ms to first response${failed}`
}

const main = async () => {
  const started = performance.now()
  progress(`http-retry bench, ${mode.name} mode: ${rounds} round(s), clients ${clients.map((c) => c.name).join(", ")}`)
  const buildError = buildPackages()
  if (buildError !== undefined) {
    progress(`warning: tsc -b packages/node failed; going on with the dist/ there is:\n${buildError}`)
  }
  const commandError = scenarios.some((s) => s.kind === "cold-start") ? buildCommand(rootDir) : undefined
  if (commandError !== undefined) progress(`warning: bundling packages/cli failed:\n${commandError}`)
  await transpile()
  const server = await startServer(buildDir)
  const results: Results = {
    mode,
    rounds,
    clients,
    scenarios,
    environment: environment(),
    runs: [],
    coldRuns: [],
    commandRuns: [],
    leak: undefined
  }
  // Once a client's import fails it will fail every time: skip it from then on instead of forking it again.
  const skipped = new Map<string, string>()
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const scenario of scenarios) {
        if (scenario.kind === "cold-start") {
          await server.reset()
          const runs: Array<CommandRun> = await runCommands(rootDir, server.origin, round, mode.childTimeoutMs)
          results.commandRuns.push(...runs)
          for (const run of runs) {
            progress(
              `[round ${round}/${rounds}] ${scenario.name.padEnd(11)} ${run.command.name.padEnd(12)} ${
                commandSummary(run)
              }`
            )
          }
        }
        for (const client of clients) {
          const label = `[round ${round}/${rounds}] ${scenario.name.padEnd(11)} ${client.name.padEnd(12)}`
          const skip = skipped.get(client.name)
          if (skip !== undefined) {
            if (round === 1) progress(`${label} skipped: ${skip}`)
            continue
          }
          if (scenario.kind === "retry" && !client.retries) continue
          if (scenario.kind === "cold-start") {
            const run = await runColdStart(server, client, round)
            results.coldRuns.push(run)
            if (run.skipped !== undefined) skipped.set(client.name, run.skipped)
            progress(`${label} ${coldSummary(run)}`)
          } else {
            const run = await runScenario(server, scenario, client, round)
            results.runs.push(run)
            if (run.skipped !== undefined) skipped.set(client.name, run.skipped)
            progress(`${label} ${runSummary(run)}`)
          }
        }
      }
    }
    if (!flag("no-leak")) {
      const client = allClients.find((c) => c.name === leakClient)
      if (client === undefined) throw new Error(`unknown --leak-client ${leakClient}`)
      progress(`[leak] ${leak.count} requests through ${client.name}, 10% answered 503 once`)
      results.leak = await runLeak(server, client)
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
  } finally {
    server.stop()
  }

  const markdown = render(results)
  process.stdout.write(markdown)
  if (write) {
    const out = Path.join(rootDir, "BENCHMARKS.md")
    Fs.writeFileSync(out, markdown)
    progress(`wrote ${out}`)
  }
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  const crashed = [...results.runs, ...results.coldRuns, ...results.commandRuns].some((r) => r.crashed !== undefined) ||
    results.leak?.crashed !== undefined
  process.exitCode = crashed ? 1 : 0
}

await main()
