/**
 * The cold-start scenario's commands: `http-retry --version` and one GET through `http-retry`, each a fresh process,
 * timed from spawn to exit (wall), beside `node -e ""` (Node's own start) and curl in the same round. The command
 * keeps V8's code cache per user from its first run on; the GET is timed without it too, as a first run. The machine
 * may be busy: the ratio to `node -e ""` within a round is the figure that travels.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** `http-retry --version` and one GET, both within this on an idle machine (issue 13). */
export const TARGET_MS = 350

export interface CommandInfo {
  readonly name: "node" | "version" | "get" | "get-uncached" | "curl"
  readonly label: string
}

export const commandInfos: ReadonlyArray<CommandInfo> = [
  { name: "node", label: "`node -e \"\"`" },
  { name: "version", label: "`http-retry --version`" },
  { name: "get", label: "`http-retry <url>` (one GET)" },
  { name: "get-uncached", label: "the same GET, no code cache (a first run)" },
  { name: "curl", label: "`curl -s <url>`" }
]

export interface CommandRun {
  readonly round: number
  readonly command: CommandInfo
  readonly result?: { readonly wallMs: number }
  readonly skipped?: string
  readonly crashed?: string
}

const CURL = "/usr/bin/curl"

/** Bundles the command (packages/cli/dist/bin/http-retry.js), as the package ships it. */
export const buildCommand = (rootDir: string): string | undefined => {
  const result = ChildProcess.spawnSync(
    process.execPath,
    [Path.join(rootDir, "packages/cli/scripts/bundle.mjs")],
    { encoding: "utf8" }
  )
  return result.status === 0 ? undefined : (result.stdout + result.stderr).trim().split("\n").slice(0, 10).join("\n")
}

const time = (
  argv: ReadonlyArray<string>,
  timeoutMs: number,
  env: NodeJS.ProcessEnv
): Promise<{ wallMs: number; code: number | null }> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = ChildProcess.spawn(argv[0], argv.slice(1), { stdio: "ignore", env: { ...process.env, ...env } })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ wallMs: performance.now() - started, code })
    })
  })

/** One round: each command once, in the table's order. */
export const runCommands = async (
  rootDir: string,
  origin: string,
  round: number,
  timeoutMs: number
): Promise<Array<CommandRun>> => {
  const bin = Path.join(rootDir, "packages/cli/dist/bin/http-retry.cjs")
  const url = `${origin}/happy?id=0`
  const argvs: Record<CommandInfo["name"], ReadonlyArray<string> | string> = {
    node: [process.execPath, "-e", ""],
    version: Fs.existsSync(bin) ? [process.execPath, bin, "--version"] : `${bin} is not built`,
    get: Fs.existsSync(bin) ? [process.execPath, bin, url] : `${bin} is not built`,
    "get-uncached": Fs.existsSync(bin) ? [process.execPath, bin, url] : `${bin} is not built`,
    curl: Fs.existsSync(CURL) ? [CURL, "-s", "-o", "/dev/null", "--fail", url] : `no ${CURL} on this machine`
  }
  const runs: Array<CommandRun> = []
  for (const command of commandInfos) {
    const argv = argvs[command.name]
    if (typeof argv === "string") {
      runs.push({ round, command, skipped: argv })
      continue
    }
    const env = command.name === "get-uncached" ? { HTTP_RETRY_COMPILE_CACHE: "0" } : {}
    const { code, wallMs } = await time(argv, timeoutMs, env)
    runs.push(code === 0 ? { round, command, result: { wallMs } } : { round, command, crashed: `exited with ${code}` })
  }
  return runs
}

export const commandSummary = (run: CommandRun): string =>
  run.result !== undefined ?
    `${run.result.wallMs.toFixed(0)} ms wall` :
    run.skipped !== undefined ?
    `skipped: ${run.skipped}` :
    `CRASHED: ${run.crashed}`

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const figure = (xs: ReadonlyArray<number>, digits: number, suffix: string): string => {
  if (xs.length === 0) return "–"
  const f = (x: number) => `${x.toFixed(digits)}${suffix}`
  const [min, max] = [Math.min(...xs), Math.max(...xs)]
  return min === max ? f(xs[0]) : `${f(median(xs))} (${f(min)}–${f(max)})`
}

/** The markdown for BENCHMARKS.md's cold-start section. */
export const commandSection = (runs: ReadonlyArray<CommandRun>): string => {
  const of = (name: CommandInfo["name"]) => runs.filter((r) => r.command.name === name)
  const rows = commandInfos.map((command) => {
    const mine = of(command.name)
    const skipped = mine.find((r) => r.skipped !== undefined)?.skipped
    if (skipped !== undefined) return [command.label, `skipped: ${skipped}`, "", ""]
    const crashed = mine.find((r) => r.crashed !== undefined)?.crashed
    const walls = mine.flatMap((r) => r.result === undefined ? [] : [r.result.wallMs])
    const ratios = mine.flatMap((r) => {
      const node = of("node").find((n) => n.round === r.round)?.result
      return r.result === undefined || node === undefined ? [] : [r.result.wallMs / node.wallMs]
    })
    return [
      command.label,
      figure(walls, 0, ""),
      figure(ratios, 1, "×"),
      crashed !== undefined ? `CRASHED: ${crashed}` : "ok"
    ]
  })
  return [
    "### The `http-retry` command",
    "",
    "A fresh process per command and round, timed from spawn to exit (wall, milliseconds), beside Node's own start " +
    "(`node -e \"\"`) and curl in the same round; the ratio to `node -e \"\"` holds on a busy machine where the " +
    `milliseconds do not. Target: \`--version\` and one GET within ${TARGET_MS} ms on an idle machine.`,
    "",
    `| command | wall ms | × \`node -e ""\` | verdict |`,
    "| --- | ---: | ---: | --- |",
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`)
  ].join("\n")
}
