/**
 * What the chaos suite counts, and the report it writes from those counts.
 *
 * Each chaos test file keeps one `Ledger` section: every call it makes goes through `observe`, which sorts the call's
 * end into success, typed error, interrupted (on purpose), lost (a defect or an untyped failure) or hung (still
 * running at a generous bound), and counts the fibers the call left alive. At the end of the file the section is
 * written to a directory shared by the files of one vitest run; the file that completes the set writes RELIABILITY.md
 * at the repository root. Vitest runs test files in separate workers, so a file's counts cannot reach another file in
 * memory.
 *
 * The report holds only counts the seed decides, never times or memory, so a run that finds nothing new leaves the
 * committed file unchanged.
 */
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Supervisor from "effect/Supervisor"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { seed } from "./Seed.js"

/** The sections a full run of the chaos suite writes, in report order. */
export const SECTIONS = {
  faults: "Fault matrix (GET and POST, HTTP and HTTPS, timeouts, deadline)",
  retryAfter: "Retry-After abuse",
  interruption: "Interruption at random points",
  redirects: "Cross-origin redirects with credentials",
  secrets: "Secrets in every channel",
  badInput: "Bad input",
  soak: "Soak"
} as const

export type SectionName = keyof typeof SECTIONS

export interface Tally {
  readonly section: SectionName
  readonly faults: Array<string>
  calls: number
  succeeded: number
  typedErrors: number
  interrupted: number
  lost: number
  hung: number
  socketsLeft: number
  fibersLeft: number
  unhandledRejections: number
  /** Renderings of errors, logs and spans scanned for a secret. */
  renderingsScanned: number
  secretsFound: number
}

/** How a call ended. */
export type End = "success" | "typedError" | "interrupted" | "lost" | "hung"

/** The failures a caller of the library is promised: each is a tagged, typed error. */
const TYPED = new Set([
  "HttpStatusError",
  "RequestError",
  "ResponseError",
  "TimeoutException",
  "RetryPolicyError",
  "NodeHttpRetryOptionsError",
  "IllegalArgumentException"
])

/** The guard's own failure: the call was still running at its bound. */
export class Hung {
  readonly _tag = "Hung"
  constructor(readonly bound: number) {}
}

export const endOf = (exit: Exit.Exit<unknown, unknown>): End => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof Hung) return "hung"
    if (Predicate.hasProperty(error, "_tag") && TYPED.has(String(error._tag))) return "typedError"
    if (ConfigError.isConfigError(error)) return "typedError"
    return "lost"
  }
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "lost"
}

/** Fibers a supervisor saw forked that have not ended, after giving them `within` ms to end. */
export const fibersAlive = (supervisor: Supervisor.Supervisor<Array<unknown>>, within = 1_000) =>
  supervisor.value.pipe(
    Effect.map((fibers) => fibers.length),
    Effect.filterOrFail((n) => n === 0, (n) => n),
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo(Duration.millis(within)))),
    Effect.merge
  )

export interface Ledger {
  readonly tally: Tally
  readonly fault: (name: string) => void
  readonly end: (end: End) => void
  /**
   * Runs `effect` under a fiber supervisor and a bound (`Hung` past it), counts how it ended and how many fibers it
   * left, and returns its exit.
   */
  readonly observe: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: { readonly bound?: number }
  ) => Effect.Effect<Exit.Exit<A, E | Hung>, never, R>
  /** Counts `text` as scanned and returns the secrets it contains. */
  readonly scan: (text: string, secrets: ReadonlyArray<string>) => Array<string>
  /** Counts sockets still open (after every check that they close). */
  readonly sockets: (open: number) => void
  /** Writes the section for the report; the last section of a full run writes RELIABILITY.md. */
  readonly flush: () => void
}

export const make = (section: SectionName): Ledger => {
  const tally: Tally = {
    section,
    faults: [],
    calls: 0,
    succeeded: 0,
    typedErrors: 0,
    interrupted: 0,
    lost: 0,
    hung: 0,
    socketsLeft: 0,
    fibersLeft: 0,
    unhandledRejections: 0,
    renderingsScanned: 0,
    secretsFound: 0
  }
  const end = (end: End) => {
    tally.calls++
    if (end === "success") tally.succeeded++
    else if (end === "typedError") tally.typedErrors++
    else if (end === "interrupted") tally.interrupted++
    else if (end === "hung") tally.hung++
    else tally.lost++
  }
  const onUnhandled = () => {
    tally.unhandledRejections++
  }
  process.on("unhandledRejection", onUnhandled)
  return {
    tally,
    fault: (name) => {
      if (!tally.faults.includes(name)) tally.faults.push(name)
    },
    end,
    observe: (effect, options) =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        const bound = options?.bound ?? 30_000
        const exit = yield* effect.pipe(
          Effect.timeoutFail({ duration: Duration.millis(bound), onTimeout: () => new Hung(bound) }),
          Effect.supervised(supervisor),
          Effect.exit
        )
        end(endOf(exit))
        tally.fibersLeft += yield* fibersAlive(supervisor)
        return exit
      }),
    scan: (text, secrets) => {
      tally.renderingsScanned++
      const found = secrets.filter((secret) => text.includes(secret))
      tally.secretsFound += found.length
      return found
    },
    sockets: (open) => {
      tally.socketsLeft += open
    },
    flush: () => {
      process.off("unhandledRejection", onUnhandled)
      writeSection(tally)
    }
  }
}

// --- The report ---------------------------------------------------------------

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")

/** Where RELIABILITY.md goes: the repository root. */
export const reportPath = path.join(root, "RELIABILITY.md")

// Vitest runs each file in a child of its main process: the parent's pid names the run.
const runDirectory = path.join(os.tmpdir(), `http-retry-chaos-${process.ppid}`)

// A section older than this is from another run whose pid was reused: a whole run takes minutes.
const STALE_MILLIS = 30 * 60 * 1000

const fresh = (file: string) => {
  try {
    return Date.now() - fs.statSync(file).mtimeMs < STALE_MILLIS
  } catch {
    return false
  }
}

const writeSection = (tally: Tally) => {
  fs.mkdirSync(runDirectory, { recursive: true })
  fs.writeFileSync(path.join(runDirectory, `${tally.section}.json`), JSON.stringify(tally))
  const names = Object.keys(SECTIONS) as Array<SectionName>
  const files = names.map((name) => path.join(runDirectory, `${name}.json`))
  // Only a run of the whole suite writes the report; a run of some of its files leaves it as it is.
  if (!files.every(fresh)) return
  const tallies = files.map((file) => JSON.parse(fs.readFileSync(file, "utf8")) as Tally)
  const text = render(tallies)
  if (!fs.existsSync(reportPath) || fs.readFileSync(reportPath, "utf8") !== text) fs.writeFileSync(reportPath, text)
  fs.rmSync(runDirectory, { recursive: true, force: true })
}

const n = (value: number) => value.toLocaleString("en-US")

const sum = (tallies: ReadonlyArray<Tally>, field: keyof Omit<Tally, "section" | "faults">) =>
  tallies.reduce((total, tally) => total + tally[field], 0)

/** RELIABILITY.md from the sections' tallies. */
export const render = (tallies: ReadonlyArray<Tally>): string => {
  const faults = tallies.reduce((total, tally) => total + tally.faults.length, 0)
  const rows: ReadonlyArray<readonly [string, number]> = [
    ["Faults tried", faults],
    ["Calls made", sum(tallies, "calls")],
    ["Calls ended with success", sum(tallies, "succeeded")],
    ["Calls ended with a typed error", sum(tallies, "typedErrors")],
    ["Calls interrupted on purpose", sum(tallies, "interrupted")],
    ["Calls lost (a defect or an untyped failure)", sum(tallies, "lost")],
    ["Calls hung", sum(tallies, "hung")],
    ["Sockets left open", sum(tallies, "socketsLeft")],
    ["Fibers left alive", sum(tallies, "fibersLeft")],
    ["Unhandled rejections", sum(tallies, "unhandledRejections")],
    ["Renderings scanned for secrets", sum(tallies, "renderingsScanned")],
    ["Secrets found in any channel", sum(tallies, "secretsFound")]
  ]
  const lines = [
    "# Reliability",
    "",
    "<!-- Written by packages/node/test/chaos/Ledger.ts at the end of each full run of the chaos suite. Do not edit. -->",
    "",
    "What the chaos suite (`packages/node/test/chaos`, part of `pnpm test`) did to the library on its last full run,",
    "counted by the suite itself: real loopback servers that reset, stall, drip, lie and redirect; interruptions at",
    "random points; a soak of 20,000 requests with 30% of answers faulted; every error, log line and span scanned for",
    "secrets; bad input of every kind. Run it alone with `npx vitest run --project @http-retry/node test/chaos`.",
    "",
    `Seed: ${seed}. Replay a run with \`HTTP_RETRY_CHAOS_SEED=${seed}\`.`,
    "",
    "| | |",
    "| --- | ---: |",
    ...rows.map(([label, value]) => `| ${label} | ${n(value)} |`),
    "",
    "A call ends in exactly one way: with its answer, or with one of the library's typed errors (`HttpStatusError`,",
    "`RequestError`, `ResponseError`, `TimeoutException`, or a validation error naming the bad value). A call is lost if",
    "it ends any other way, and hung if it is still running at its bound (30 seconds a call; 55 seconds for the whole",
    "soak). Fibers are counted with a `Supervisor` around each call; sockets by the servers, after the client's scope",
    "has closed.",
    "",
    "## By part",
    "",
    "| Part | Faults | Calls | Success | Typed error | Interrupted | Lost | Hung | Sockets left | Fibers left | Secrets found |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...tallies.map((t) =>
      `| ${SECTIONS[t.section]} | ${t.faults.length} | ${n(t.calls)} | ${n(t.succeeded)} | ${n(t.typedErrors)} | ${
        n(t.interrupted)
      } | ${t.lost} | ${t.hung} | ${t.socketsLeft} | ${t.fibersLeft} | ${t.secretsFound} |`
    ),
    "",
    "## Faults tried",
    "",
    ...tallies.flatMap((t) => [`### ${SECTIONS[t.section]}`, "", ...t.faults.map((fault) => `- ${fault}`), ""])
  ]
  return lines.join("\n")
}
