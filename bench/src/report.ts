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
import type { FleetPlacement, FleetResults, FleetRow, HappyRun } from "./fleet.js"
import { FLEET_IN_FLIGHT, FLEET_PROCESSES, HAPPY_IN_FLIGHT } from "./fleet.js"
import type { PlacementName, Placements } from "./placement.js"
import { rootDir, undiciOfPlatformNode, versionOf } from "./prepare.js"
import type { ClientResult, ColdStartResult, LeakResult, ServerStats } from "./protocol.js"
import type { Spread } from "./stats.js"
import { spread } from "./stats.js"

export interface Run {
  readonly round: number
  readonly placement: PlacementName
  readonly scenario: Scenario
  readonly client: ClientInfo
  readonly skipped?: string
  readonly crashed?: string
  readonly result?: ClientResult
  readonly server?: ServerStats
}

export interface ColdRun {
  readonly round: number
  readonly placement: PlacementName
  readonly client: ClientInfo
  readonly skipped?: string
  readonly crashed?: string
  readonly result?: ColdStartResult
}

export interface LeakRun {
  readonly client: ClientInfo
  readonly placement: PlacementName
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
  readonly placements: Placements
  /** The CPUs each placement's server reported it may run on. */
  readonly serverCpus: Partial<Record<PlacementName, string | undefined>>
  readonly environment: Environment
  readonly runs: Array<Run>
  readonly coldRuns: Array<ColdRun>
  readonly commandRuns: Array<CommandRun>
  leak: LeakRun | undefined
  /** The fleet rows on Redis (fleet.ts); undefined when not asked for. */
  fleet: FleetResults | undefined
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

/** The default hedge budget's ratio, and the hedges its minimum (1 per 10 s window) adds over a run. */
const HEDGE_BUDGET = 0.05
const HEDGE_WINDOWS_SLACK = 10

const attemptsOf = (run: Run) => run.server?.routes[run.scenario.path]?.attempts ?? 0

/** Everything wrong with one run, worded for the verdict column. An empty list is a correct run. */
export const problems = (run: Run): Array<string> => {
  if (run.crashed !== undefined) return [`CRASHED: ${run.crashed}`]
  if (run.result === undefined) return []
  const out: Array<string> = []
  const { result, scenario } = run
  if (scenario.kind === "storm") return stormProblems(run as Run & { result: ClientResult })
  if (scenario.kind === "open-state") return openStateProblems(run as Run & { result: ClientResult })
  if (result.failures > 0) {
    out.push(`WRONG: ${result.failures} of ${result.count} requests failed (${result.firstError})`)
  }
  const expected = result.count * scenario.attemptsPerRequest
  const attempts = attemptsOf(run)
  if (run.client.hedges === true) {
    // A hedge is an extra attempt, up to the hedge budget: 5% of requests, at least 1 per 10 s window.
    const most = Math.floor(expected * HEDGE_BUDGET) + HEDGE_WINDOWS_SLACK
    if (attempts < expected || attempts > expected + most) {
      out.push(`WRONG: the server saw ${attempts} attempts, the hedge budget allows ${expected} to ${expected + most}`)
    }
  } else if (attempts !== expected) {
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

/**
 * Against a backend that is down every call fails. Without a budget each makes the policy's attempts; with one
 * (100 tokens, a fresh process per run), at most 49 retries are made in all: each failure that leaves more than 50
 * tokens lets one through.
 */
const stormProblems = (run: Run & { result: ClientResult }): Array<string> => {
  const out: Array<string> = []
  const { result, scenario } = run
  if (result.failures !== result.count) {
    out.push(
      `WRONG: ${result.count - result.failures} of ${result.count} calls succeeded against a backend that is down`
    )
  }
  const attempts = attemptsOf(run)
  if (run.client.budget === true) {
    if (attempts < result.count || attempts > result.count + 49) {
      out.push(
        `WRONG: the server saw ${attempts} attempts; a budget of 100 tokens allows ${result.count} to ${
          result.count + 49
        }`
      )
    }
  } else if (attempts !== result.count * scenario.attemptsPerRequest) {
    out.push(
      `WRONG: the server saw ${attempts} attempts, the policy makes exactly ${
        result.count * scenario.attemptsPerRequest
      }`
    )
  }
  return out
}

/** While the breaker is open every call fails with CircuitOpenError, and the server sees none of them. */
const openStateProblems = (run: Run & { result: ClientResult }): Array<string> => {
  const out: Array<string> = []
  const { result } = run
  if (result.failures !== result.count || !(result.firstError ?? "").includes("CircuitOpenError")) {
    out.push(
      `WRONG: ${result.failures} of ${result.count} calls failed (${result.firstError}); all must fail with ` +
        "CircuitOpenError"
    )
  }
  const attempts = attemptsOf(run)
  if (attempts !== 0) out.push(`WRONG: the server saw ${attempts} requests while the breaker was open`)
  return out
}

const runsOf = (results: Results, scenario: string, client: string, placement: PlacementName) =>
  results.runs.filter((r) => r.scenario.name === scenario && r.client.name === client && r.placement === placement)

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

/**
 * What a retry scenario should take: the scheduled waits plus each attempt's own time, per request in a row.
 * An attempt's own time is the client's happy-path p50 at 1 in flight, same round and placement.
 */
const expectedRetryMs = (results: Results, run: Run & { result: ClientResult }): number => {
  const { scenario } = run
  const attemptMs = runsOf(results, "happy-1", run.client.name, run.placement).find((r) => r.round === run.round)
    ?.result?.p50Ms ?? NaN
  const perRequest = scenario.waitsMs.reduce((a, b) => a + b, 0) + scenario.attemptsPerRequest * attemptMs
  return (scenario.count / scenario.concurrency) * perRequest
}

const overRetrySchedule = (results: Results, runs: ReadonlyArray<Run>): Spread =>
  spread(measured(runs).map((r) => r.result.elapsedMs / expectedRetryMs(results, r) - 1))

/** The same client without retry, for the rows that are a retry over a client of their own. */
const withoutRetry: Readonly<Record<string, string>> = {
  "effect-withretry": "effect",
  "fetch-withretry": "fetch",
  "ours-platform": "effect"
}

const placementsOf = (results: Results) => results.placements.placements.map((p) => p.name)

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const num = (n: number, digits = 0) =>
  Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const withRange = (s: Spread, digits = 0, suffix = "") => {
  if (s.n === 0) return "–"
  const [median, min, max] = [num(s.median, digits), num(s.min, digits), num(s.max, digits)]
  return s.n === 1 || min === max ? `${median}${suffix}` : `${median}${suffix} (${min}–${max})`
}

const pct = (s: Spread) => {
  if (s.n === 0) return "–"
  const p = (x: number) => `${x >= 0 ? "+" : ""}${num(x * 100, 1)}%`
  const [min, max] = [num(s.min * 100, 1), num(s.max * 100, 1)]
  return s.n === 1 || min === max ? p(s.median) : `${p(s.median)} (${min}–${max})`
}

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

const clientInfo = (results: Results, name: string) => results.clients.find((c) => c.name === name)

const label = (results: Results, name: string) => clientInfo(results, name)?.label ?? name

// ---------------------------------------------------------------------------------------------------------------
// Sections

const throughputSection = (results: Results, scenario: Scenario): string => {
  const tables = placementsOf(results).map((placement) => {
    const of = (client: string) => runsOf(results, scenario.name, client, placement)
    const rows = scenario.clients.map((name) => {
      const runs = of(name)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, ...Array(10).fill("")]
      const m = measured(runs)
      const base = withoutRetry[name]
      return [
        label(results, name),
        withRange(spread(m.map((r) => rps(r.result)))),
        withRange(ratioWithinRounds(runs, of("undici"), rps), 2, "×"),
        withRange(ratioWithinRounds(runs, of("effect"), rps), 2, "×"),
        base === undefined ? "" : withRange(ratioWithinRounds(runs, of(base), rps), 2, "×"),
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
      `### ${placement}`,
      "",
      table(
        [
          "client",
          "req/s",
          "× undici",
          "× plain Effect",
          "× same client without retry",
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
  })
  return [
    `## ${scenario.title}`,
    "",
    `${num(scenario.count)} requests after ${num(scenario.warmup)} warm-up requests, per round and placement. ` +
    `"× same client without retry": platform-node + HttpRetry.withRetry and @http-retry/node, platform transport ` +
    `against platform-node (no retry); FetchHttpClient + HttpRetry.withRetry against FetchHttpClient (no retry).`,
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

/** Extra requests the server saw, as a fraction of the requests made. */
const extraOf = (run: Run & { result: ClientResult }) => attemptsOf(run) / run.result.count - 1

const tailSection = (results: Results, scenario: Scenario): string => {
  const tables = placementsOf(results).map((placement) => {
    const of = (client: string) => runsOf(results, scenario.name, client, placement)
    const rows = scenario.clients.map((name) => {
      const runs = of(name)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, ...Array(6).fill("")]
      const m = measured(runs)
      return [
        label(results, name),
        withRange(spread(m.map((r) => rps(r.result)))),
        withRange(spread(m.map((r) => r.result.p50Ms)), 2),
        withRange(spread(m.map((r) => r.result.p99Ms)), 1),
        name === "ours" ? "" : withRange(ratioWithinRounds(runs, of("ours"), (r) => r.p99Ms), 2, "×"),
        withRange(spread(m.map(attemptsOf))),
        pct(spread(m.map(extraOf))),
        verdict(runs)
      ]
    })
    return [
      `### ${placement}`,
      "",
      table(
        ["client", "req/s", "p50 ms", "p99 ms", "p99 × without hedging", "attempts", "extra requests", "verdict"],
        rows
      )
    ].join("\n")
  })
  return [
    `## ${scenario.title}`,
    "",
    `${num(scenario.count)} requests after ${num(scenario.warmup)} warm-up requests, per round and placement. ` +
    `The server answers every 50th request to arrive (hedges included) after 200 ms and the others at once; ` +
    `"extra requests": what reached the server beyond one per request, the hedges.`,
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

const retrySection = (results: Results, scenario: Scenario): string => {
  const tables = placementsOf(results).map((placement) => {
    const rows = scenario.clients.map((name) => {
      const runs = runsOf(results, scenario.name, name, placement)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, ...Array(9).fill("")]
      const m = measured(runs)
      const gaps = scenario.waitsMs.map((_, n) =>
        num(spread(m.map((r) => r.server?.routes[scenario.path]?.gaps[n]?.[1] ?? NaN)).median, 1)
      )
      return [
        label(results, name),
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
    return [
      `### ${placement}`,
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
  })
  const waits = scenario.waitsMs.map((w) => `${w} ms`).join(" then ")
  return [
    `## ${scenario.title}`,
    "",
    `${scenario.count} request ids, ${scenario.attemptsPerRequest} attempts each, waits of ${waits} scheduled ` +
    `between them. "expected" is (ids / in flight) × (scheduled waits + ${scenario.attemptsPerRequest} × the ` +
    `client's own happy-path p50 at 1 in flight, same round and placement). "waits seen" is the median gap ` +
    `between attempts of one id at the server.`,
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

/** Calls per second through a retry schedule with short waits: what the retry's own work costs. */
const retryRateSection = (results: Results, scenario: Scenario): string => {
  const tables = placementsOf(results).map((placement) => {
    const of = (client: string) => runsOf(results, scenario.name, client, placement)
    const rows = scenario.clients.map((name) => {
      const runs = of(name)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, ...Array(10).fill("")]
      const m = measured(runs)
      const gaps = scenario.waitsMs.map((_, n) =>
        num(spread(m.map((r) => r.server?.routes[scenario.path]?.gaps[n]?.[1] ?? NaN)).median, 1)
      )
      return [
        label(results, name),
        withRange(spread(m.map((r) => rps(r.result)))),
        withRange(ratioWithinRounds(runs, of("got"), rps), 2, "×"),
        withRange(ratioWithinRounds(runs, of("ky"), rps), 2, "×"),
        withRange(ratioWithinRounds(runs, of("platform-retry"), rps), 2, "×"),
        num(spread(m.map((r) => r.result.cpuUs / r.result.count)).median),
        num(spread(m.map((r) => r.result.p50Ms)).median, 2),
        num(spread(m.map((r) => r.result.p99Ms)).median, 2),
        gaps.join(" / "),
        withRange(spread(m.map((r) => r.server?.connections ?? NaN))),
        withRange(spread(m.map(attemptsOf))),
        verdict(runs)
      ]
    })
    return [
      `### ${placement}`,
      "",
      table(
        [
          "client",
          "calls/s",
          "× got",
          "× ky",
          "× platform HttpClient.retry",
          "client CPU µs/call",
          "p50 ms",
          "p99 ms",
          "waits seen ms",
          "connections",
          "attempts",
          "verdict"
        ],
        rows
      )
    ].join("\n")
  })
  const waits = scenario.waitsMs.map((w) => `${w} ms`).join(" then ")
  return [
    `## ${scenario.title}`,
    "",
    `${num(scenario.count)} calls after ${num(scenario.warmup)} warm-up calls, per round and placement; each ` +
    `call is answered 503, 503, 200 (${scenario.attemptsPerRequest} attempts), with waits of ${waits} scheduled ` +
    `between them, so the figure is mostly the retry's own work. Every client retries 503 with base ` +
    `${scenario.baseDelayMs} ms, factor 2, no jitter (settings above). "waits seen" is the median gap between ` +
    `attempts of one call at the server.`,
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

/** Issue 15's target for the budget: at most this many attempts per call once drained, within the first second. */
const STORM_DRAINED_TARGET = 1.2

const stormSection = (results: Results, scenario: Scenario): string => {
  const readings: Array<string> = []
  const tables = placementsOf(results).map((placement) => {
    const rows = scenario.clients.map((name) => {
      const runs = runsOf(results, scenario.name, name, placement)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, ...Array(5).fill("")]
      const m = measured(runs)
      const fifty = m.map((r) => r.server?.routes[scenario.path]?.afterFifty)
      const drained = spread(fifty.map((f) => f === undefined || f.ids === 0 ? NaN : f.attempts / f.ids))
      const drainedAfter = spread(fifty.map((f) => f?.afterMs ?? NaN))
      if (clientInfo(results, name)?.budget === true && drained.n > 0) {
        const met = drained.max <= STORM_DRAINED_TARGET && drainedAfter.max <= 1000 && allCorrect(runs)
        readings.push(
          `${placement}: ${met ? "met" : "not met"}, ${withRange(drained, 2)} attempts per call after the 50th ` +
            `attempt, which came ${withRange(drainedAfter, 1)} ms after the first`
        )
      }
      return [
        label(results, name),
        withRange(spread(m.map((r) => attemptsOf(r) / r.result.count)), 2),
        withRange(drained, 2),
        withRange(drainedAfter, 1),
        num(spread(m.map((r) => r.result.p50Ms)).median, 2),
        withRange(spread(m.map(attemptsOf))),
        verdict(runs)
      ]
    })
    return [
      `### ${placement}`,
      "",
      table(
        [
          "client",
          "attempts per call",
          "after the first 50 attempts",
          "50th attempt after, ms",
          "p50 ms to fail",
          "attempts",
          "verdict"
        ],
        rows
      )
    ].join("\n")
  })
  return [
    `## ${scenario.title}`,
    "",
    `${num(scenario.count)} calls, ${scenario.concurrency} in flight, to a route that answers 503 to every request; ` +
    `each run in a fresh process. The policy is the default's shape (4 attempts, factor 2, no jitter) with a ` +
    `${scenario.baseDelayMs} ms base backoff, so the run measures attempts rather than waits. "after the first 50 ` +
    `attempts" counts, at the server, the calls whose first attempt came after the route's 50th attempt (once ` +
    `those 50 have failed, the budget's 100 tokens are down to 50) and divides their attempts by them.`,
    "",
    `Issue 15's target, at most ${STORM_DRAINED_TARGET} attempts per call once the budget has drained, drained ` +
    `within the first second: ${readings.length === 0 ? "not measured" : readings.join("; ")}.`,
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

const coldSection = (results: Results, scenario: Scenario): string => {
  const tables = placementsOf(results).map((placement) => {
    const cold = (client: string) =>
      results.coldRuns.filter((r) => r.client.name === client && r.placement === placement)
    const rows = scenario.clients.map((name) => {
      const runs = cold(name)
      const skipped = skippedNote(runs)
      if (skipped !== undefined) return [label(results, name), `skipped: ${skipped}`, "", "", ""]
      const m = runs.flatMap((r) => r.result === undefined ? [] : [r.result])
      const failed = m.find((r) => r.failed !== undefined)?.failed
      const crashed = runs.find((r) => r.crashed !== undefined)?.crashed
      return [
        label(results, name),
        withRange(spread(m.map((r) => r.firstResponseMs))),
        withRange(spread(m.map((r) => r.importMs))),
        withRange(ratioWithinRounds(runs, cold("effect"), (r) => r.firstResponseMs), 2, "×"),
        crashed !== undefined
          ? `CRASHED: ${crashed}`
          : failed !== undefined
          ? `WRONG: request failed (${failed})`
          : "ok"
      ]
    })
    return [
      `### ${placement}`,
      "",
      table(["client", "first response ms", "import ms", "× plain Effect", "verdict"], rows)
    ].join("\n")
  })
  return [
    "## Cold start",
    "",
    "A fresh `node` process per client and round: import the client's modules, build the client, parse one " +
    "response. Milliseconds since the process started (Node's own boot included), and the import alone.",
    "",
    ...tables.flatMap((t) => [t, ""]),
    commandSection(results.commandRuns)
  ].join("\n").trimEnd()
}

/** The issue's table: each retry against the client it wraps (or the client it is compared to), per placement. */
/**
 * The circuit breaker and the retry budget (issue 15): what the two cost together on the happy path (the same layer
 * with and without them), and how fast a call fails while the breaker is open.
 */
const breakerSection = (results: Results): string => {
  const open = results.scenarios.find((s) => s.kind === "open-state")
  const happy = results.scenarios.filter((s) => s.kind === "throughput" && s.clients.includes("ours-guarded"))
  if (open === undefined && happy.length === 0) return ""
  const rows = placementsOf(results).flatMap((placement) => {
    const out: Array<Array<string>> = []
    for (const scenario of happy) {
      const on = runsOf(results, scenario.name, "ours-guarded", placement)
      const off = runsOf(results, scenario.name, "ours", placement)
      const ratio = ratioWithinRounds(on, off, rps)
      const correct = allCorrect(on) && allCorrect(off)
      out.push([
        placement,
        `happy path, ${scenario.concurrency} in flight: req/s budget and breaker on ÷ off`,
        withRange(ratio, 2, "×"),
        "≥ 0.97×",
        ratio.n === 0 ? "not measured" : ratio.median >= 0.97 && correct ? "met" : "NOT met"
      ])
    }
    if (open !== undefined) {
      const runs = measured(runsOf(results, open.name, "ours-breaker", placement))
      const p50 = spread(runs.map((r) => r.result.p50Ms))
      const p99 = spread(runs.map((r) => r.result.p99Ms))
      const sent = spread(runs.map(attemptsOf))
      const correct = allCorrect(runs)
      out.push([
        placement,
        `open: time per call, p50 / p99 ms (${num(open.count)} calls, ${open.concurrency} in flight)`,
        `${withRange(p50, 3)} / ${withRange(p99, 3)}`,
        "p50 < 1 ms",
        runs.length === 0 ? "not measured" : p50.max < 1 && correct ? "met" : "NOT met"
      ])
      out.push([
        placement,
        "open: requests the server saw meanwhile",
        withRange(sent),
        "0",
        runs.length === 0 ? "not measured" : sent.max === 0 && correct ? "met" : "NOT met"
      ])
    }
    return out
  })
  return [
    "## Circuit breaker (and retry budget) on the happy path",
    "",
    "`NodeHttpRetry.layer({ budget: true, breaker: true })` (both at their defaults) against " +
    "`NodeHttpRetry.layer()`, the same round and placement; and, with `breaker: true`, against /down (503 to everything) once five failing calls on the same origin have " +
    "opened it: every call must fail with `CircuitOpenError` without a request, in under a millisecond (the " +
    "median call, worst round). A rejected call never waits on I/O, so its 64 fibers share one thread: the p99 " +
    "is the time the other fibers' turns take (Effect yields every 2048 operations), not the breaker's work.",
    "",
    table(["placement", "figure", "measured", "target", ""], rows)
  ].join("\n")
}

const retryCostSection = (results: Results): string => {
  const pairs: ReadonlyArray<readonly [text: string, a: string, b: string, target: string]> = [
    [
      "`NodeHttpClient.layerUndici` + `HttpRetry.withRetry()` (default policy, tracing on), against `layerUndici`",
      "effect-withretry",
      "effect",
      "≥ 0.95× at 1 and 64"
    ],
    [
      "`FetchHttpClient.layer` + `HttpRetry.withRetry()` (default policy, tracing on), against `FetchHttpClient.layer`",
      "fetch-withretry",
      "fetch",
      "≥ 0.95× at 1 and 64"
    ],
    ["`NodeHttpRetry.layer({ transport: \"platform\" })`, against `layerUndici`", "ours-platform", "effect", ""],
    ["`NodeHttpRetry.layer()`, against the plain platform client (`layerUndici`)", "ours", "effect", "≥ 1.3× at 64"],
    [
      "`NodeHttpRetry.layer({ tracing: false })` (the lean path), against raw `undici.request`",
      "ours-lean",
      "undici",
      "≥ 0.5× at 64"
    ]
  ]
  const placements = placementsOf(results)
  const columns = placements.flatMap((p) => [`1 in flight, ${p}`, `64 in flight, ${p}`])
  const cell = (scenario: string, a: string, b: string, placement: PlacementName) =>
    withRange(
      ratioWithinRounds(runsOf(results, scenario, a, placement), runsOf(results, scenario, b, placement), rps),
      2,
      "×"
    )
  const rows = pairs.map(([text, a, b, target]) => [
    text,
    ...placements.flatMap((p) => [cell("happy-1", a, b, p), cell("happy-64", a, b, p)]),
    target
  ]).filter((row) => row.slice(1, -1).some((c) => c !== "–"))
  const retryPairs: ReadonlyArray<readonly [text: string, a: string, b: string, target: string]> = [
    ["`NodeHttpRetry.layer()` against got", "ours", "got", "≥ 1×"],
    ["`NodeHttpRetry.layer()` against ky", "ours", "ky", "≥ 1×"],
    [
      "`HttpRetry.withRetry` over `layerUndici` against the platform's own `HttpClient.retry` over it",
      "effect-withretry",
      "platform-retry",
      "≥ 0.9×"
    ]
  ]
  const retryRows = retryPairs.map((
    [text, a, b, target]
  ) => [text, ...placements.map((p) => cell("retry-64", a, b, p)), target])
    .filter((row) => row.slice(1, -1).some((c) => c !== "–"))
  if (rows.length === 0 && retryRows.length === 0) return ""
  return [
    "## What the retry costs",
    "",
    "Happy path, req/s of each row's client against the client named after it, the ratio taken within a round " +
    "and a placement, then the median over rounds (min–max in brackets).",
    "",
    table(["req/s against", ...columns, "target (both placements)"], rows),
    "",
    "Retry path (503, 503, 200 per call, 1 ms base backoff, no jitter, 64 in flight), calls/s:",
    "",
    table(["calls/s against", ...placements.map((p) => `64 in flight, ${p}`), "target (both placements)"], retryRows)
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
    `${head}${num(result.count)} requests through ${leak.client.label} (fault policy, ${leak.placement}), ` +
    `${leak.concurrency} in ` +
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

/** One placement's reading of a target. `met` undefined: not measured there. */
interface Reading {
  readonly placement: PlacementName
  readonly met: boolean | undefined
  readonly figure: string
}

interface Target {
  readonly text: string
  /** The figure when the issue was filed, where it gave one. */
  readonly was?: string | undefined
  readonly readings: ReadonlyArray<Reading>
}

/** Met when it holds in every placement run; not met when it fails in one; else not measured. */
const overall = (t: Target): boolean | undefined =>
  t.readings.some((r) => r.met === false)
    ? false
    : t.readings.length > 0 && t.readings.every((r) => r.met === true)
    ? true
    : undefined

const allCorrect = (runs: ReadonlyArray<Run>) => runs.every((r) => problems(r).length === 0)

/** A ratio target: `a`'s req/s (or calls/s) at least `floor` times `b`'s, in the same scenario. */
const ratioTarget = (
  results: Results,
  options: {
    readonly text: string
    readonly was?: string | undefined
    readonly scenario: string
    readonly a: string
    readonly b: string
    readonly floor: number
  }
): Target => ({
  text: options.text,
  was: options.was,
  readings: placementsOf(results).map((placement) => {
    const a = runsOf(results, options.scenario, options.a, placement)
    const b = runsOf(results, options.scenario, options.b, placement)
    const ratio = ratioWithinRounds(a, b, rps)
    const wrong = [a, b].flatMap((runs) => allCorrect(runs) ? [] : [label(results, runs[0].client.name)])
    return {
      placement,
      met: ratio.n === 0 ? undefined : ratio.median >= options.floor && wrong.length === 0,
      figure: `${withRange(ratio, 2, "×")}${wrong.length === 0 ? "" : `, and ${wrong.join(", ")} WRONG there`}`
    }
  })
})

const targets = (results: Results): { readonly issue: Array<Target>; readonly earlier: Array<Target> } => {
  const issue: Array<Target> = []
  const ratio = (options: Parameters<typeof ratioTarget>[1]) => issue.push(ratioTarget(results, options))

  for (
    const [scenario, inFlight, was] of [["happy-1", 1, "0.76× / 0.75×"], ["happy-64", 64, "0.91× / 0.63×"]] as const
  ) {
    ratio({
      text: `\`NodeHttpClient.layerUndici\` + \`HttpRetry.withRetry()\` (default policy, tracing on) ≥ 0.95× ` +
        `\`layerUndici\` without retry, ${inFlight} in flight (req/s)`,
      was,
      scenario,
      a: "effect-withretry",
      b: "effect",
      floor: 0.95
    })
  }
  for (const [scenario, inFlight] of [["happy-1", 1], ["happy-64", 64]] as const) {
    ratio({
      text: `\`FetchHttpClient\` + \`HttpRetry.withRetry()\` (default policy, tracing on) ≥ 0.95× ` +
        `\`FetchHttpClient\` without retry, ${inFlight} in flight (req/s)`,
      scenario,
      a: "fetch-withretry",
      b: "fetch",
      floor: 0.95
    })
  }
  ratio({
    text: "`NodeHttpRetry.layer()` ≥ 1.3× the plain platform client (`layerUndici`), 64 in flight (req/s; the " +
      "conformance suite it must also pass is judged by `pnpm test`, not here)",
    was: "1.75× / 1.43×",
    scenario: "happy-64",
    a: "ours",
    b: "effect",
    floor: 1.3
  })
  ratio({
    text: "the lean path (`NodeHttpRetry.layer({ tracing: false })`) ≥ 0.5× raw `undici.request`, 64 in flight (req/s)",
    was: "0.56× / 0.41×",
    scenario: "happy-64",
    a: "ours-lean",
    b: "undici",
    floor: 0.5
  })
  ratio({
    text: "retry path (503, 503, 200; 1 ms base, no jitter; 64 in flight): `NodeHttpRetry.layer()` ≥ 1× got (calls/s)",
    was: "– / 0.73×",
    scenario: "retry-64",
    a: "ours",
    b: "got",
    floor: 1
  })
  ratio({
    text: "retry path: `NodeHttpRetry.layer()` ≥ 1× ky (calls/s)",
    was: "– / 0.71×",
    scenario: "retry-64",
    a: "ours",
    b: "ky",
    floor: 1
  })
  ratio({
    text: "retry path: `HttpRetry.withRetry` over `layerUndici` ≥ 0.9× the platform's own `HttpClient.retry` with " +
      "the same schedule (calls/s)",
    was: "– / 0.53×",
    scenario: "retry-64",
    a: "effect-withretry",
    b: "platform-retry",
    floor: 0.9
  })
  issue.push({
    text: "fault path (503, 503, 200; 50 ms base; 8 in flight): `NodeHttpRetry.layer()`'s total time within 5% of " +
      "the scheduled waits plus the attempts' own time, exact attempts",
    was: "+6.2% / –",
    readings: placementsOf(results).map((placement) => {
      const fault = runsOf(results, "fault", "ours", placement)
      const over = overRetrySchedule(results, fault)
      const exact = allCorrect(fault)
      return {
        placement,
        met: over.n === 0 ? undefined : over.median <= 0.05 && exact,
        figure: over.n === 0 ? "–" : `${pct(over)} over; attempts ${exact ? "exact" : verdict(fault)}`
      }
    })
  })

  const earlier: Array<Target> = []
  const earlierRatio = (scenario: string, b: string, floor: number, inFlight: number) =>
    earlier.push(ratioTarget(results, {
      text: `@http-retry/node ≥ ${floor}× ${label(results, b)}, ${inFlight} in flight (req/s)`,
      scenario,
      a: "ours",
      b,
      floor
    }))
  earlierRatio("happy-1", "effect", 0.97, 1)
  earlierRatio("happy-64", "effect", 0.97, 64)
  earlierRatio("happy-64", "got", 1.15, 64)
  earlierRatio("happy-64", "axios", 1.15, 64)
  earlierRatio("happy-64", "ky", 1.4, 64)

  const leak = results.leak
  if (leak?.result !== undefined) {
    const g = leakGrowth(leak.result)
    const most = Math.max(leak.result.maxOpenSockets, leak.server?.maxOpenConnections ?? 0)
    earlier.push({
      text: `leak run: RSS growth < 10% from ${num(g.first.done)} to ${num(g.last.done)} requests`,
      readings: [{
        placement: leak.placement,
        met: g.rss < 0.1 && leakProblems(leak).length === 0,
        figure: `${g.rss >= 0 ? "+" : ""}${num(g.rss * 100, 1)}%`
      }]
    })
    earlier.push({
      text: `leak run: open sockets never above the pool size (${leak.concurrency})`,
      readings: [{
        placement: leak.placement,
        met: most <= leak.concurrency,
        figure: `${leak.result.maxOpenSockets} at the client, ${leak.server?.maxOpenConnections} at the server`
      }]
    })
  } else {
    earlier.push({ text: "leak run: RSS growth < 10% from 10k to 100k requests", readings: [] })
    earlier.push({ text: "leak run: open sockets never above the pool size", readings: [] })
  }

  earlier.push({
    text: "cold start of @http-retry/node within 1.1× of the platform-node modules it uses",
    readings: placementsOf(results).map((placement) => {
      const cold = (client: string) =>
        results.coldRuns.filter((r) => r.client.name === client && r.placement === placement)
      const ratio = ratioWithinRounds(cold("ours"), cold("effect"), (r) => r.firstResponseMs)
      return { placement, met: ratio.n === 0 ? undefined : ratio.median <= 1.1, figure: withRange(ratio, 2, "×") }
    })
  })
  return { issue, earlier }
}

/** Issue 16's targets: hedging against the tail, side by side with the same client without it. */
const hedgingTargets = (results: Results): Array<Target> => {
  const both = (placement: PlacementName) => ({
    on: runsOf(results, "tail-64", "ours-hedged", placement),
    off: runsOf(results, "tail-64", "ours", placement)
  })
  const wrongOf = (runs: ReadonlyArray<ReadonlyArray<Run>>) =>
    runs.flatMap((r) => r.length > 0 && !allCorrect(r) ? [label(results, r[0].client.name)] : [])
  const wrongNote = (wrong: ReadonlyArray<string>) => wrong.length === 0 ? "" : `, and ${wrong.join(", ")} WRONG there`
  return [
    {
      text: "2% of answers after 200 ms, 64 in flight: p99 with hedging ≤ 1/5 of p99 without it",
      readings: placementsOf(results).map((placement) => {
        const { off, on } = both(placement)
        const ratio = ratioWithinRounds(on, off, (r) => r.p99Ms)
        const p99 = (runs: ReadonlyArray<Run>) => withRange(spread(measured(runs).map((r) => r.result.p99Ms)), 1)
        const wrong = wrongOf([on, off])
        return {
          placement,
          met: ratio.n === 0 ? undefined : ratio.median <= 0.2 && wrong.length === 0,
          figure: `${withRange(ratio, 2, "×")} (${p99(on)} ms against ${p99(off)} ms)${wrongNote(wrong)}`
        }
      })
    },
    {
      text: "the same run: requests reaching the server with hedging ≤ 6% more than without",
      readings: placementsOf(results).map((placement) => {
        const { on } = both(placement)
        const extra = spread(measured(on).map(extraOf))
        const wrong = wrongOf([on])
        return {
          placement,
          met: extra.n === 0 ? undefined : extra.median <= 0.06 && wrong.length === 0,
          figure: `${pct(extra)}${wrongNote(wrong)}`
        }
      })
    },
    ratioTarget(results, {
      text: "happy path, 64 in flight: @http-retry/node with hedging on ≥ 0.95× the req/s with it off",
      scenario: "happy-64",
      a: "ours-hedged",
      b: "ours",
      floor: 0.95
    })
  ]
}

const targetLine = (t: Target): string => {
  const met = overall(t)
  const word = met === undefined ? "not measured" : met ? "met" : "not met"
  const figures = t.readings.map((r) => `${r.placement} ${r.met === undefined ? "not measured" : r.figure}`)
  return `- **${word}**: ${t.text}: ${figures.length === 0 ? "not run" : figures.join("; ")}` +
    (t.was === undefined ? "" : ` (when the issue was filed, unpinned / pinned: ${t.was})`)
}

const hedgingLines = (results: Results): Array<string> => {
  const hedging = hedgingTargets(results).filter((t) => t.readings.some((r) => r.met !== undefined))
  if (hedging.length === 0) return []
  const met = hedging.filter((t) => overall(t) === true).length
  return [`### Issue 16, hedging: ${met} of ${hedging.length} met`, "", ...hedging.map(targetLine), ""]
}

const targetsSection = (results: Results): string => {
  const { earlier, issue } = targets(results)
  const placements = placementsOf(results)
  const rule = placements.length > 1
    ? `A target is met when it holds in both placements (${placements.join(" and ")}); each figure is the median ` +
      `over rounds of the ratio taken within a round and a placement (min–max in brackets), and a WRONG run on ` +
      `either side fails it.`
    : `Only the ${placements[0]} placement ran` +
      (results.placements.pinnedUnavailable === undefined ? "" : ` (pinned: ${results.placements.pinnedUnavailable})`) +
      `, so a target is marked met on that placement alone.`
  const met = issue.filter((t) => overall(t) === true).length
  const unmeasured = (t: Target) => t.readings.every((r) => r.met === undefined)
  const earlierRun = earlier.filter((t) => !unmeasured(t))
  const earlierNot = earlier.filter(unmeasured)
  return [
    "## Targets",
    "",
    rule,
    "",
    `### Issue 12: ${met} of ${issue.length} met`,
    "",
    ...issue.map(targetLine),
    "",
    ...hedgingLines(results),
    ...fleetLines(results.fleet),
    "### Earlier targets",
    "",
    ...earlierRun.map(targetLine),
    ...(earlierNot.length === 0 ? [] : [
      `- **not measured in this run**: ${earlierNot.map((t) => t.text).join("; ")}`
    ])
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------------

const placementNote = (results: Results): string => {
  const lines = results.placements.placements.map((p) => {
    const seen = new Set(
      results.runs.filter((r) => r.placement === p.name).flatMap((r) =>
        r.result?.cpus === undefined ? [] : [r.result.cpus]
      )
    )
    const server = results.serverCpus[p.name]
    const reported = server === undefined && seen.size === 0
      ? ""
      : ` (as the processes reported it: server on CPUs ${server ?? "?"}, clients on CPUs ${
        [...seen].join(", ") || "?"
      })`
    return `- ${p.description}${reported}.`
  })
  if (results.placements.pinnedUnavailable !== undefined) {
    lines.push(`- pinned: not run, ${results.placements.pinnedUnavailable}; every figure here is unpinned.`)
  }
  return ["How the processes sat on the CPUs (every scenario runs in each placement, each round):", "", ...lines]
    .join("\n")
}

const headerSection = (results: Results): string => {
  const env = results.environment
  const versions = env.versions.map(([name, version]) => `${name} ${version}`).join(", ")
  const command = results.mode.name === "smoke"
    ? "bench:smoke"
    : results.mode.name === "quick"
    ? "bench --quick"
    : "bench"
  return [
    "# Benchmarks",
    "",
    `Written by \`pnpm ${command}\` on ${env.date}: ` +
    `${results.rounds} round(s), ${results.mode.name} mode, commit ${env.commit}. ` +
    `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), ${env.os}, load average ${env.load} at the start.`,
    "",
    `Versions: ${versions}. undici as @effect/platform-node resolves it: ${env.undici.version}` +
    `${env.undici.same ? " (the same copy undici.request uses here)" : " (NOT the copy undici.request uses here)"}. ` +
    `ky and FetchHttpClient run on Node's global fetch, whose bundled undici is ${env.nodeBundledUndici}.`,
    "",
    ...(results.mode.name === "smoke"
      ? ["Smoke mode: a few hundred requests in one round, to show the harness works. These figures mean nothing.", ""]
      : results.mode.name === "quick"
      ? [
        "Quick mode: only the scenarios and clients the issue's targets read, fewer requests and rounds than the " +
        "full run; the other sections are absent.",
        ""
      ]
      : []),
    "got 14 and ky 1.14 are the newest majors that run on Node 20: got 15 and later and ky 2 require Node 22.",
    "",
    "Everything runs on this machine: one loopback HTTP server (node:http, keep-alive, in its own process) per " +
    "placement and, for every client, scenario, placement and round, a fresh client process. Rounds are " +
    "interleaved (each scenario runs every client in turn, then the next scenario, then the other placement, then " +
    "the next round; the placements' order alternates and the clients' order rotates from round to round). " +
    "Figures are the median over rounds with min–max in brackets; ratios are taken within a round and a " +
    "placement, then summarised. Connections and attempts are counted by the server. A client whose attempts " +
    "differ from what its policy allows, or whose retries come sooner than the schedule, is marked WRONG, " +
    "whatever its speed.",
    "",
    placementNote(results),
    "",
    "N requests in flight: Promise clients run N async workers, Effect clients N worker fibers in one " +
    "`ManagedRuntime`; each worker takes the next request id until all are done. Client CPU is " +
    "`process.cpuUsage()` of the client process over the measured requests (JIT and GC threads included); peak " +
    "RSS is over the client process's whole life. The server is one Node process: on 2 cores, the fastest " +
    "client at 64 in flight may be measuring it rather than itself.",
    "",
    "Every Effect client reads the body in one step that first compares the status (a non-2xx fails the " +
    "request): the baselines (`layerUndici`, `FetchHttpClient`) get no `HttpClient.filterStatusOk`, which would " +
    "add a `transformResponse` and an Effect step per request that the retrying clients (which check the status " +
    "themselves) do not pay. Only the platform's `HttpClient.retry` row has it, since its retry needs it.",
    "",
    "### Clients and their retry settings",
    "",
    table(["client", "retry settings"], results.clients.map((c) => [c.label, c.retryConfig])),
    "",
    "Where the semantics differ: got and ky let a Retry-After value replace the backoff, axios-retry waits the " +
    "larger of the two, the platform's `HttpClient.retry` ignores it; ky retries any network error (fetch only " +
    "says TypeError), got only its `errorCodes`, axios-retry what `isNetworkError` accepts; got, ky and axios " +
    "allow 2 retries, our policy and the platform's `HttpClient.retry` row 3 (503, 503, 200 needs 2); our " +
    "policy's own defaults (attempts, statuses) are whatever `RetryPolicy` says, only the base delay and jitter " +
    "are set here."
  ].join("\n")
}

export const render = (results: Results): string => {
  const sections = [
    headerSection(results),
    targetsSection(results),
    retryCostSection(results),
    breakerSection(results)
  ]
  for (const scenario of results.scenarios) {
    if (scenario.kind === "throughput") sections.push(throughputSection(results, scenario))
    if (scenario.kind === "retry") sections.push(retrySection(results, scenario))
    if (scenario.kind === "retry-rate") sections.push(retryRateSection(results, scenario))
    if (scenario.kind === "storm") sections.push(stormSection(results, scenario))
    if (scenario.kind === "cold-start") sections.push(coldSection(results, scenario))
    if (scenario.kind === "tail") sections.push(tailSection(results, scenario))
  }
  sections.push(leakSection(results.leak))
  sections.push(fleetSection(results.fleet))
  sections.push(profileSection())
  return sections.filter((s) => s !== "").join("\n\n") + "\n"
}

/** What profiling found and what each change bought: written by hand in bench/PROFILE.md, carried into every report. */
const profileSection = (): string => {
  const file = Path.join(rootDir, "bench", "PROFILE.md")
  return Fs.existsSync(file) ? Fs.readFileSync(file, "utf8").trim() : ""
}

// ---------------------------------------------------------------------------------------------------------------
// Fleet (Redis)

/** Issue 15's fleet target: fleet-wide attempts per call once the shared budget has drained, within the first second. */
const FLEET_DRAINED_TARGET = 1.2
const FLEET_HAPPY_FLOOR = 0.97

const fleetRowProblems = (row: FleetRow, shape: "plain" | "budget"): Array<string> => {
  if (row.crashed !== undefined) return [`CRASHED: ${row.crashed}`]
  const out: Array<string> = []
  if (row.backendAttempts !== row.attempts) {
    out.push(`WRONG: the calls counted ${row.attempts} attempts, the backend ${row.backendAttempts}`)
  }
  if (row.failures !== row.calls) {
    out.push(`WRONG: ${row.calls - row.failures} of ${row.calls} calls succeeded against a backend that is down`)
  }
  if (shape === "plain" && row.attempts !== 4 * row.calls) {
    out.push(`WRONG: ${row.attempts} attempts; without a budget the policy makes exactly ${4 * row.calls}`)
  }
  return out
}

const happyProblems = (run: HappyRun): Array<string> => {
  if (run.crashed !== undefined) return [`CRASHED: ${run.crashed}`]
  const out: Array<string> = []
  if (run.failures > 0) out.push(`WRONG: ${run.failures} of ${run.calls} calls failed (${run.firstError})`)
  if (run.backendAttempts !== run.calls) {
    out.push(`WRONG: the server saw ${run.backendAttempts} requests for ${run.calls} calls`)
  }
  return out
}

const perCall = (attempts: number, calls: number) => calls === 0 ? NaN : attempts / calls

const happyRatio = (p: FleetPlacement): Spread => {
  const ratios: Array<number> = []
  for (const on of p.happy.filter((r) => r.kind === "guarded")) {
    const off = p.happy.find((r) => r.kind === "plain" && r.round === on.round)
    if (off !== undefined && on.crashed === undefined && off.crashed === undefined) ratios.push(on.rps / off.rps)
  }
  return spread(ratios)
}

const fleetTargets = (fleet: Extract<FleetResults, { _tag: "Ran" }>): Array<Target> => [
  {
    text: `the fleet (${FLEET_PROCESSES} processes × ${FLEET_IN_FLIGHT} in flight, one budget in Redis, a backend ` +
      `failing 100%): fleet-wide attempts per call ≤ ${FLEET_DRAINED_TARGET} once drained, drained within 1 s`,
    readings: fleet.placements.map((p) => {
      const row = p.rows.find((r) => r.label === "one budget in Redis")
      if (row === undefined || row.crashed !== undefined) {
        return { placement: p.placement, met: row === undefined ? undefined : false, figure: row?.crashed ?? "–" }
      }
      const after = perCall(row.afterAttempts, row.afterCalls)
      const correct = fleetRowProblems(row, "budget").length === 0
      return {
        placement: p.placement,
        met: !Number.isNaN(after) && after <= FLEET_DRAINED_TARGET && (row.drainedMs ?? Infinity) <= 1000 && correct,
        figure: row.drainedMs === undefined ?
          "never drained" :
          `${num(after, 2)} after ${num(row.drainedMs)} ms${correct ? "" : ", WRONG"}`
      }
    })
  },
  {
    text: `happy path, ${HAPPY_IN_FLIGHT} in flight: \`NodeHttpRetry.layer({ budget: true, breaker: true })\` over ` +
      `\`RedisRetryBudget.layer\` ≥ ${FLEET_HAPPY_FLOOR}× the req/s of \`NodeHttpRetry.layer()\``,
    readings: fleet.placements.map((p) => {
      const ratio = happyRatio(p)
      const correct = p.happy.every((r) => happyProblems(r).length === 0)
      return {
        placement: p.placement,
        met: ratio.n === 0 ? (p.happy.length === 0 ? undefined : false) : ratio.median >= FLEET_HAPPY_FLOOR && correct,
        figure: `${withRange(ratio, 2, "×")}${correct ? "" : ", WRONG runs"}`
      }
    })
  }
]

const fleetSection = (fleet: FleetResults | undefined): string => {
  if (fleet === undefined) return ""
  if (fleet._tag === "Skipped") return `## Fleet (Redis)\n\nNot run: ${fleet.reason}.`
  const targets = fleetTargets(fleet)
  const tables = fleet.placements.map((p) => {
    const rows = p.rows.map((row) => {
      const problems = fleetRowProblems(row, row.label === "no budget" ? "plain" : "budget")
      return [
        row.label,
        num(row.calls),
        num(perCall(row.attempts, row.calls), 2),
        num(row.attempts - row.calls),
        num(row.refused),
        row.drainedMs === undefined ? "–" : `${num(row.drainedMs)} ms`,
        num(row.afterCalls),
        num(perCall(row.afterAttempts, row.afterCalls), 2),
        num(row.backendAttempts),
        num(row.warnings),
        problems.length === 0 ? "ok" : problems.join("; ")
      ]
    })
    const ofKind = (kind: HappyRun["kind"]) => p.happy.filter((r) => r.kind === kind)
    const happyRows = (["plain", "guarded"] as const).map((kind) => {
      const runs = ofKind(kind)
      const problems = [...new Set(runs.flatMap(happyProblems))]
      return [
        kind === "plain" ?
          "`NodeHttpRetry.layer()`" :
          "`NodeHttpRetry.layer({ budget: true, breaker: true })` over `RedisRetryBudget.layer`",
        withRange(spread(runs.map((r) => r.rps))),
        runs.map((r) => num(r.rps)).join(", "),
        num(spread(runs.map((r) => r.cpuMicrosPerCall)).median),
        kind === "plain" ? "" : withRange(happyRatio(p), 2, "×"),
        problems.length === 0 ? (runs.length === 0 ? "–" : "ok") : problems.join("; ")
      ]
    })
    const cpus = [...new Set([...p.rows.flatMap((r) => r.cpus), ...p.happy.flatMap((r) => r.cpus ?? [])])]
    return [
      `### ${p.placement}`,
      "",
      `${p.description}; redis-server ${p.redisCpus === undefined ? "free as well" : `on CPU ${p.redisCpus}`}, ` +
      `beside the server. The ${FLEET_PROCESSES} fleet processes all sit where one client sits` +
      `${cpus.length === 0 ? "" : ` (as they reported it: CPUs ${cpus.join(", ")})`}.`,
      "",
      table(
        [
          "budget",
          "calls",
          "attempts per call",
          "retries",
          "calls refused a retry",
          "drained after",
          "calls once drained",
          "attempts per call once drained",
          "backend saw",
          "warnings",
          "verdict"
        ],
        rows
      ),
      "",
      table(["happy path", "req/s", "each round", "client CPU µs/call", "× without", "verdict"], happyRows)
    ].join("\n")
  })
  const met = targets.filter((t) => overall(t) === true).length
  return [
    "## Fleet (Redis)",
    "",
    `On a redis-server ${fleet.redisVersion} the bench started for the rows (a free port, no persistence), one per ` +
    `placement. Every client is a process of its own on the real layer, \`NodeHttpRetry.layer\` (direct ` +
    `transport) with \`RedisRetryBudget.layer\` provided where a budget is on.`,
    "",
    `- The fleet: ${FLEET_PROCESSES} processes × ${num(fleet.size.fleetCalls)} calls, ${FLEET_IN_FLIGHT} in flight ` +
    `each (${FLEET_PROCESSES * FLEET_IN_FLIGHT} for the fleet), to /down (503 to everything), each call up to 4 ` +
    `attempts 1, 2 and 4 ms apart (\`RetryPolicy.make({ baseDelay: "1 millis", jitter: "none" })\`), once per ` +
    `placement. Rows: no budget; a budget per process (the Redis budget under 4 key prefixes: what one budget per ` +
    `process gives); one budget in Redis for the fleet (100 tokens, 0.1 back per success). "Drained after": from ` +
    `the start to the first call that ended with \`BudgetExhausted\`; "once drained": the calls started after it. ` +
    `"Warnings": log lines of processes that lost Redis for a while (no answer within 100 ms) and decided on their ` +
    `own view meanwhile. The backend's count must equal the calls' attempts (from each \`HttpStatusError\`).`,
    `- The happy path: one process, ${HAPPY_IN_FLIGHT} in flight, ${
      num(fleet.size.happyCalls)
    } calls to /happy after ` +
    `${num(fleet.size.happyWarmup)} warm-up calls, default policy: the layer with the Redis budget and the breaker ` +
    `on against the same layer without them, ${fleet.size.rounds} round(s), their order alternating; the ratio is ` +
    `taken within a round, then the median (min–max).`,
    "",
    `Targets, met when they hold in every placement run: ${met} of ${targets.length} met.`,
    "",
    ...targets.map(fleetTargetLine),
    "",
    ...tables.flatMap((t) => [t, ""])
  ].join("\n").trimEnd()
}

/** As `targetLine`, in the words of the breaker's section: met, NOT met. */
const fleetTargetLine = (t: Target): string => {
  const met = overall(t)
  const word = met === undefined ? "not measured" : met ? "met" : "NOT met"
  return `- **${word}**: ${t.text}: ${t.readings.map((r) => `${r.placement} ${r.figure}`).join("; ") || "not run"}`
}

/** The fleet's targets in the Targets section, pointing at the section with the tables. */
const fleetLines = (fleet: FleetResults | undefined): Array<string> => {
  if (fleet === undefined) return []
  if (fleet._tag === "Skipped") return ["### Issue 15, the fleet on Redis: not run", "", `- ${fleet.reason}`, ""]
  const targets = fleetTargets(fleet)
  const met = targets.filter((t) => overall(t) === true).length
  return [
    `### Issue 15, the fleet on Redis: ${met} of ${targets.length} met (tables: "Fleet (Redis)")`,
    "",
    ...targets.map(fleetTargetLine),
    ""
  ]
}
