/**
 * Turns the runs into BENCHMARKS.md: figures per client and scenario (median and min–max over rounds, ratios taken
 * within a round), a verdict on every client's attempts, and the targets marked met or not met.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { CommandRun } from "./cold-commands.js"
import { commandSection } from "./cold-commands.js"
import type { ClientInfo, Mode, Scenario } from "./config.js"
import { rootDir, undiciOfPlatformNode, versionOf } from "./prepare.js"
import type { ClientResult, ColdStartResult, LeakResult, ServerStats } from "./protocol.js"
import type { Spread } from "./stats.js"
import { spread } from "./stats.js"

export interface Run {
  readonly round: number
  readonly scenario: Scenario
  readonly client: ClientInfo
  readonly skipped?: string
  readonly crashed?: string
  readonly result?: ClientResult
  readonly server?: ServerStats
}

export interface ColdRun {
  readonly round: number
  readonly client: ClientInfo
  readonly skipped?: string
  readonly crashed?: string
  readonly result?: ColdStartResult
}

export interface LeakRun {
  readonly client: ClientInfo
  readonly concurrency: number
  readonly skipped?: string
  readonly crashed?: string
  readonly result?: LeakResult
  readonly server?: ServerStats
}

export interface Environment {
  readonly date: string
  readonly node: string
  readonly nodeBundledUndici: string
  readonly cpus: number
  readonly cpuModel: string
  readonly os: string
  readonly versions: ReadonlyArray<readonly [name: string, version: string]>
  readonly undici: { readonly version: string; readonly same: boolean }
  readonly commit: string
  /** Another process busy on a 2-core machine moves every figure: the report says how busy it was. */
  readonly load: string
}

export interface Results {
  readonly mode: Mode
  readonly rounds: number
  readonly clients: ReadonlyArray<ClientInfo>
  readonly scenarios: ReadonlyArray<Scenario>
  readonly environment: Environment
  readonly runs: Array<Run>
  readonly coldRuns: Array<ColdRun>
  readonly commandRuns: Array<CommandRun>
  leak: LeakRun | undefined
}

const versionedPackages = [
  "@http-retry/node",
  "@http-retry/core",
  "effect",
  "@effect/platform",
  "@effect/platform-node",
  "undici",
  "got",
  "ky",
  "axios",
  "axios-retry"
]

export const environment = (): Environment => ({
  date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  node: process.version,
  nodeBundledUndici: process.versions.undici ?? "unknown",
  cpus: Os.availableParallelism(),
  cpuModel: Os.cpus()[0]?.model.trim() ?? "unknown",
  os: `${Os.type()} ${Os.release()} ${Os.arch()}`,
  versions: versionedPackages.map((name) => [name, versionOf(name)] as const),
  undici: undiciOfPlatformNode(),
  commit: commit(),
  load: Os.loadavg().map((l) => l.toFixed(2)).join(" / ")
})

/** The commit measured, and whether the packages or the bench had uncommitted changes. */
const commit = (): string => {
  const git = (...args: Array<string>) => ChildProcess.spawnSync("git", args, { encoding: "utf8" }).stdout.trim()
  const head = git("rev-parse", "--short", "HEAD")
  if (head === "") return "unknown"
  return git("status", "--porcelain", "--", rootDir + "/packages", rootDir + "/bench") === ""
    ? head
    : `${head} with uncommitted changes`
}

// ---------------------------------------------------------------------------------------------------------------
// Figures

/** How far a server-seen gap may fall short of the scheduled wait: Node's timers run on a millisecond clock. */
const TIMER_SLACK_MS = 2

const rps = (r: ClientResult) => r.count / (r.elapsedMs / 1000)

const attemptsOf = (run: Run) => run.server?.routes[run.scenario.path]?.attempts ?? 0

/** Everything wrong with one run, worded for the verdict column. An empty list is a correct run. */
export const problems = (run: Run): Array<string> => {
  if (run.crashed !== undefined) return [`CRASHED: ${run.crashed}`]
  if (run.result === undefined) return []
  const out: Array<string> = []
  const { result, scenario } = run
  if (result.failures > 0) {
    out.push(`WRONG: ${result.failures} of ${result.count} requests failed (${result.firstError})`)
  }
  const expected = result.count * scenario.attemptsPerRequest
  const attempts = attemptsOf(run)
  if (attempts !== expected) {
    out.push(`WRONG: the server saw ${attempts} attempts, the policy allows exactly ${expected}`)
  }
  const gaps = run.server?.routes[scenario.path]?.gaps ?? []
  scenario.waitsMs.forEach((wait, n) => {
    const seen = gaps[n]
    if (seen !== undefined && seen[0] < wait - TIMER_SLACK_MS) {
      out.push(
        `WRONG: retry ${n + 1} came ${seen[0].toFixed(1)} ms after the attempt before it; the schedule says ${wait}`
      )
    }
  })
  return out
}

const runsOf = (results: Results, scenario: string, client: string) =>
  results.runs.filter((r) => r.scenario.name === scenario && r.client.name === client)

const measured = (runs: ReadonlyArray<Run>) =>
  runs.filter((r): r is Run & { result: ClientResult } => r.result !== undefined)

/** Ratio of a figure between two clients, taken within each round, then summarised over rounds. */
const ratioWithinRounds = <A>(
  a: ReadonlyArray<{ round: number; result?: A }>,
  b: ReadonlyArray<{ round: number; result?: A }>,
  figure: (x: A) => number
): Spread => {
  const ratios: Array<number> = []
  for (const x of a) {
    const y = b.find((r) => r.round === x.round)
    if (x.result !== undefined && y?.result !== undefined) ratios.push(figure(x.result) / figure(y.result))
  }
  return spread(ratios)
}

/** What a retry scenario should take: the scheduled waits plus each attempt's own time, per request in a row. */
const expectedRetryMs = (results: Results, run: Run & { result: ClientResult }): number => {
  const { scenario } = run
  const attemptMs = runsOf(results, "happy-1", run.client.name).find((r) => r.round === run.round)?.result?.p50Ms ?? 0
  const perRequest = scenario.waitsMs.reduce((a, b) => a + b, 0) + scenario.attemptsPerRequest * attemptMs
  return (scenario.count / scenario.concurrency) * perRequest
}

const overRetrySchedule = (results: Results, runs: ReadonlyArray<Run>): Spread =>
  spread(measured(runs).map((r) => r.result.elapsedMs / expectedRetryMs(results, r) - 1))

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const num = (n: number, digits = 0) =>
  Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const withRange = (s: Spread, digits = 0, suffix = "") =>
  s.n === 0
    ? "–"
    : s.n === 1 || s.min === s.max
    ? `${num(s.median, digits)}${suffix}`
    : `${num(s.median, digits)}${suffix} (${num(s.min, digits)}–${num(s.max, digits)})`

const pct = (s: Spread) =>
  s.n === 0 ?
    "–" :
    `${s.median >= 0 ? "+" : ""}${num(s.median * 100, 1)}% (${num(s.min * 100, 1)}–${num(s.max * 100, 1)})`

const mb = (bytes: number) => bytes / 1024 / 1024

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => i === 0 ? "---" : "---:").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`)
  ].join("\n")

const verdict = (runs: ReadonlyArray<Run>): string => {
  const seen = new Map<string, Array<number>>()
  for (const run of runs) for (const p of problems(run)) seen.set(p, [...(seen.get(p) ?? []), run.round])
  if (seen.size === 0) return runs.some((r) => r.result !== undefined) ? "ok" : "–"
  return [...seen].map(([p, rounds]) => runs.length > 1 ? `${p} (round ${rounds.join(", ")})` : p).join("; ")
}

const skippedNote = (runs: ReadonlyArray<{ skipped?: string }>) => runs.find((r) => r.skipped !== undefined)?.skipped

// ---------------------------------------------------------------------------------------------------------------
// Sections

const throughputSection = (results: Results, scenario: Scenario): string => {
  const undici = runsOf(results, scenario.name, "undici")
  const effect = runsOf(results, scenario.name, "effect")
  const rows = results.clients.map((client) => {
    const runs = runsOf(results, scenario.name, client.name)
    const skipped = skippedNote(runs)
    if (skipped !== undefined) return [client.label, `skipped: ${skipped}`, ...Array(9).fill("")]
    const m = measured(runs)
    return [
      client.label,
      withRange(spread(m.map((r) => rps(r.result)))),
      withRange(ratioWithinRounds(runs, undici, rps), 2, "×"),
      withRange(ratioWithinRounds(runs, effect, rps), 2, "×"),
      num(spread(m.map((r) => r.result.cpuUs / r.result.count)).median),
      num(spread(m.map((r) => r.result.p50Ms)).median, 2),
      num(spread(m.map((r) => r.result.p99Ms)).median, 2),
      num(spread(m.map((r) => mb(r.result.maxRssBytes))).median),
      withRange(spread(m.map((r) => r.server?.connections ?? NaN))),
      withRange(spread(m.map(attemptsOf))),
      verdict(runs)
    ]
  })
  return [
    `## ${scenario.title}`,
    "",
    `${num(scenario.count)} requests after ${num(scenario.warmup)} warm-up requests, per round.`,
    "",
    table(
      [
        "client",
        "req/s",
        "× undici",
        "× plain Effect",
        "client CPU µs/req",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "connections",
        "attempts",
        "verdict"
      ],
      rows
    )
  ].join("\n")
}

const retrySection = (results: Results, scenario: Scenario): string => {
  const rows = results.clients.filter((c) => c.retries).map((client) => {
    const runs = runsOf(results, scenario.name, client.name)
    const skipped = skippedNote(runs)
    if (skipped !== undefined) return [client.label, `skipped: ${skipped}`, ...Array(9).fill("")]
    const m = measured(runs)
    const gaps = scenario.waitsMs.map((_, n) =>
      num(spread(m.map((r) => r.server?.routes[scenario.path]?.gaps[n]?.[1] ?? NaN)).median, 1)
    )
    return [
      client.label,
      withRange(spread(m.map((r) => r.result.elapsedMs))),
      num(spread(m.map((r) => expectedRetryMs(results, r))).median),
      pct(overRetrySchedule(results, runs)),
      num(spread(m.map((r) => r.result.p50Ms)).median, 1),
      num(spread(m.map((r) => r.result.p99Ms)).median, 1),
      gaps.join(" / "),
      num(spread(m.map((r) => r.result.cpuUs / r.result.count)).median),
      withRange(spread(m.map((r) => r.server?.connections ?? NaN))),
      withRange(spread(m.map(attemptsOf))),
      verdict(runs)
    ]
  })
  const waits = scenario.waitsMs.map((w) => `${w} ms`).join(" then ")
  return [
    `## ${scenario.title}`,
    "",
    `${scenario.count} request ids, ${scenario.attemptsPerRequest} attempts each, waits of ${waits} scheduled ` +
    `between them. "expected" is (ids / in flight) × (scheduled waits + ${scenario.attemptsPerRequest} × the ` +
    `client's own happy-path p50 at 1 in flight, same round). "waits seen" is the median gap between attempts of ` +
    `one id at the server. Clients without retry (undici, plain Effect) are not run here.`,
    "",
    table(
      [
        "client",
        "total ms",
        "expected ms",
        "over expected",
        "p50 ms",
        "p99 ms",
        "waits seen ms",
        "client CPU µs/req",
        "connections",
        "attempts",
        "verdict"
      ],
      rows
    )
  ].join("\n")
}

const coldSection = (results: Results): string => {
  const cold = (client: string) => results.coldRuns.filter((r) => r.client.name === client)
  const rows = results.clients.map((client) => {
    const runs = cold(client.name)
    const skipped = skippedNote(runs)
    if (skipped !== undefined) return [client.label, `skipped: ${skipped}`, "", "", ""]
    const m = runs.flatMap((r) => r.result === undefined ? [] : [r.result])
    const failed = m.find((r) => r.failed !== undefined)?.failed
    const crashed = runs.find((r) => r.crashed !== undefined)?.crashed
    return [
      client.label,
      withRange(spread(m.map((r) => r.firstResponseMs))),
      withRange(spread(m.map((r) => r.importMs))),
      withRange(ratioWithinRounds(runs, cold("effect"), (r) => r.firstResponseMs), 2, "×"),
      crashed !== undefined ? `CRASHED: ${crashed}` : failed !== undefined ? `WRONG: request failed (${failed})` : "ok"
    ]
  })
  return [
    "## Cold start",
    "",
    "A fresh `node` process per client and round: import the client's modules, build the client, parse one " +
    "response. Milliseconds since the process started (Node's own boot included), and the import alone.",
    "",
    table(["client", "first response ms", "import ms", "× plain Effect", "verdict"], rows),
    "",
    commandSection(results.commandRuns)
  ].join("\n")
}

const leakGrowth = (result: LeakResult) => {
  const first = result.samples[0]
  const last = result.samples[result.samples.length - 1]
  return {
    first,
    last,
    rss: last.rssBytes / first.rssBytes - 1,
    heap: last.heapUsedBytes / first.heapUsedBytes - 1
  }
}

const leakProblems = (leak: LeakRun): Array<string> => {
  if (leak.crashed !== undefined) return [`CRASHED: ${leak.crashed}`]
  if (leak.result === undefined) return []
  const { result } = leak
  const out: Array<string> = []
  if (result.failures > 0) out.push(`WRONG: ${result.failures} requests failed (${result.firstError})`)
  const expected = result.count + result.count / 10
  const attempts = leak.server?.routes["/leak"]?.attempts ?? 0
  if (attempts !== expected) out.push(`WRONG: the server saw ${attempts} attempts, expected exactly ${expected}`)
  return out
}

const leakSection = (leak: LeakRun | undefined): string => {
  if (leak === undefined) return ""
  const head = `## Leak run\n\n`
  if (leak.skipped !== undefined) return `${head}${leak.client.label}: skipped: ${leak.skipped}`
  if (leak.result === undefined) return `${head}${leak.client.label}: CRASHED: ${leak.crashed}`
  const { result, server } = leak
  const g = leakGrowth(result)
  const issues = leakProblems(leak)
  return [
    `${head}${num(result.count)} requests through ${leak.client.label} (fault policy), ${leak.concurrency} in ` +
    `flight; every tenth id is answered 503 once, then 200. RSS and heap are sampled after a full GC every ` +
    `tenth of the run, the last one while the last ${leak.concurrency} requests are still in flight so that every ` +
    `sample sees the same load; open sockets (the client's TCP handles) every 5 ms and every 100 requests.`,
    "",
    `- time: ${num(result.elapsedMs / 1000, 1)} s (${num(result.count / (result.elapsedMs / 1000))} req/s)`,
    `- RSS ${num(mb(g.first.rssBytes), 1)} MB at ${num(g.first.done)} → ${num(mb(g.last.rssBytes), 1)} MB at ` +
    `${num(g.last.done)}: ${g.rss >= 0 ? "+" : ""}${num(g.rss * 100, 1)}%`,
    `- heap used ${num(mb(g.first.heapUsedBytes), 1)} MB → ${num(mb(g.last.heapUsedBytes), 1)} MB: ` +
    `${g.heap >= 0 ? "+" : ""}${num(g.heap * 100, 1)}%`,
    `- open sockets, most at once: ${result.maxOpenSockets} at the client, ` +
    `${server?.maxOpenConnections ?? "?"} at the server; connections opened: ${server?.connections ?? "?"} ` +
    `(pool size: ${leak.concurrency}, one per request in flight)`,
    `- attempts the server saw: ${num(server?.routes["/leak"]?.attempts ?? 0)} ` +
    `(exactly ${num(result.count * 1.1)} expected)`,
    `- verdict: ${issues.length === 0 ? "ok" : issues.join("; ")}`,
    "",
    table(
      ["requests done", "RSS MB", "heap used MB"],
      result.samples.map((s) => [num(s.done), num(mb(s.rssBytes), 1), num(mb(s.heapUsedBytes), 1)])
    )
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// Targets

interface Target {
  readonly text: string
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined
  readonly figure: string
}

const targets = (results: Results): Array<Target> => {
  const out: Array<Target> = []
  const ours = (scenario: string) => runsOf(results, scenario, "ours")
  const oursMeasured = (scenario: string) => measured(ours(scenario)).length > 0
  const allCorrect = (runs: ReadonlyArray<Run>) => runs.every((r) => problems(r).length === 0)

  const speedTarget = (scenario: string, other: string, otherLabel: string, floor: number, inFlight: number) => {
    const ratio = ratioWithinRounds(ours(scenario), runsOf(results, scenario, other), rps)
    const correct = allCorrect(ours(scenario))
    out.push({
      text: `@http-retry/node ≥ ${floor}× ${otherLabel}, ${inFlight} in flight (req/s, ratio within a round)`,
      met: ratio.n === 0 ? undefined : ratio.median >= floor && correct,
      figure: `${withRange(ratio, 2, "×")}${correct ? "" : ", and ours is WRONG there"}`
    })
  }
  speedTarget("happy-1", "effect", "the plain platform-node client", 0.97, 1)
  speedTarget("happy-64", "effect", "the plain platform-node client", 0.97, 64)
  speedTarget("happy-64", "got", "got", 1.15, 64)
  speedTarget("happy-64", "axios", "axios + axios-retry", 1.15, 64)
  speedTarget("happy-64", "ky", "ky", 1.4, 64)

  {
    const lean = runsOf(results, "happy-64", "ours-lean")
    const ratio = ratioWithinRounds(lean, runsOf(results, "happy-64", "undici"), rps)
    out.push({
      text: "stretch: the lean path (`tracing: false`) ≥ 0.35× raw undici, 64 in flight (req/s, ratio within a round)",
      met: ratio.n === 0 ? undefined : ratio.median >= 0.35 && allCorrect(lean),
      figure: withRange(ratio, 2, "×")
    })
  }

  const fault = ours("fault")
  const over = overRetrySchedule(results, fault)
  const exact = allCorrect(fault)
  out.push({
    text: "fault path: total time within 5% of the scheduled waits plus the attempts' own time, exact attempts",
    met: oursMeasured("fault") ? over.median <= 0.05 && exact : undefined,
    figure: `${pct(over)} over; attempts ${exact ? "exact" : verdict(fault)}`
  })

  const leak = results.leak
  if (leak?.result !== undefined) {
    const g = leakGrowth(leak.result)
    const from = num(g.first.done)
    const to = num(g.last.done)
    out.push({
      text: `leak run: RSS growth < 10% from ${from} to ${to} requests`,
      met: g.rss < 0.1 && leakProblems(leak).length === 0,
      figure: `${g.rss >= 0 ? "+" : ""}${num(g.rss * 100, 1)}%`
    })
    const most = Math.max(leak.result.maxOpenSockets, leak.server?.maxOpenConnections ?? 0)
    out.push({
      text: `leak run: open sockets never above the pool size (${leak.concurrency})`,
      met: most <= leak.concurrency,
      figure: `${leak.result.maxOpenSockets} at the client, ${leak.server?.maxOpenConnections} at the server`
    })
  } else {
    out.push({ text: "leak run: RSS growth < 10% from 10k to 100k requests", met: undefined, figure: "" })
    out.push({ text: "leak run: open sockets never above the pool size", met: undefined, figure: "" })
  }

  const coldOurs = results.coldRuns.filter((r) => r.client.name === "ours")
  const coldEffect = results.coldRuns.filter((r) => r.client.name === "effect")
  const cold = ratioWithinRounds(coldOurs, coldEffect, (r) => r.firstResponseMs)
  out.push({
    text: "cold start of @http-retry/node within 1.1× of the platform-node modules it uses",
    met: cold.n === 0 ? undefined : cold.median <= 1.1,
    figure: withRange(cold, 2, "×")
  })
  return out
}

const targetsSection = (results: Results): string =>
  [
    "## Targets",
    "",
    ...targets(results).map((t) =>
      `- **${t.met === undefined ? "not measured" : t.met ? "met" : "not met"}**: ${t.text}` +
      (t.figure === "" ? "" : `: ${t.figure}`)
    )
  ].join("\n")

// ---------------------------------------------------------------------------------------------------------------

const headerSection = (results: Results): string => {
  const env = results.environment
  const versions = env.versions.map(([name, version]) => `${name} ${version}`).join(", ")
  return [
    "# Benchmarks",
    "",
    `Written by \`pnpm ${results.mode.name === "smoke" ? "bench:smoke" : "bench"}\` on ${env.date}: ` +
    `${results.rounds} round(s), ${results.mode.name} mode, commit ${env.commit}. ` +
    `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), ${env.os}, load average ${env.load} at the start.`,
    "",
    `Versions: ${versions}. undici as @effect/platform-node resolves it: ${env.undici.version}` +
    `${env.undici.same ? " (the same copy undici.request uses here)" : " (NOT the copy undici.request uses here)"}. ` +
    `ky runs on Node's global fetch, whose bundled undici is ${env.nodeBundledUndici}.`,
    "",
    ...(results.mode.name === "smoke"
      ? ["Smoke mode: a few hundred requests in one round, to show the harness works. These figures mean nothing.", ""]
      : []),
    "got 14 and ky 1.14 are the newest majors that run on Node 20: got 15 and later and ky 2 require Node 22.",
    "",
    "Everything runs on this machine: one loopback HTTP server (node:http, keep-alive, in its own process) and, " +
    "for every client, scenario and round, a fresh client process. Rounds are interleaved (each scenario runs " +
    "every client in turn, then the next scenario, then the next round). Figures are the median over rounds with " +
    "min–max in brackets; ratios are taken within a round, then summarised. Connections and attempts are counted " +
    "by the server. A client whose attempts differ from what its policy allows, or whose retries come sooner than " +
    "the schedule, is marked WRONG, whatever its speed.",
    "",
    "N requests in flight: Promise clients run N async workers, Effect clients N worker fibers in one " +
    "`ManagedRuntime`; each worker takes the next request id until all are done. Client CPU is " +
    "`process.cpuUsage()` of the client process over the measured requests (JIT and GC threads included); peak " +
    "RSS is over the client process's whole life. The server is one Node process: on 2 cores, the fastest " +
    "client at 64 in flight may be measuring it rather than itself.",
    "",
    "### Clients and their retry settings",
    "",
    table(["client", "retry settings"], results.clients.map((c) => [c.label, c.retryConfig])),
    "",
    "Where the semantics differ: got and ky let a Retry-After value replace the backoff, axios-retry waits the " +
    "larger of the two; ky retries any network error (fetch only says TypeError), got only its `errorCodes`, " +
    "axios-retry what `isNetworkError` accepts; our policy's own defaults (attempts, statuses) are whatever " +
    "`RetryPolicy` says, only the base delay and jitter are set here."
  ].join("\n")
}

export const render = (results: Results): string => {
  const sections = [headerSection(results), targetsSection(results)]
  for (const scenario of results.scenarios) {
    if (scenario.kind === "throughput") sections.push(throughputSection(results, scenario))
    if (scenario.kind === "retry") sections.push(retrySection(results, scenario))
    if (scenario.kind === "cold-start") sections.push(coldSection(results))
  }
  sections.push(leakSection(results.leak))
  sections.push(profileSection())
  return sections.filter((s) => s !== "").join("\n\n") + "\n"
}

/** What profiling found and what each change bought: written by hand in bench/PROFILE.md, carried into every report. */
const profileSection = (): string => {
  const file = Path.join(rootDir, "bench", "PROFILE.md")
  return Fs.existsSync(file) ? Fs.readFileSync(file, "utf8").trim() : ""
}
