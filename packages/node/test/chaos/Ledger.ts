/**
 * What the chaos suite counts, and the report it writes from those counts.
 *
 * Each chaos test file keeps one `Ledger` section: every call it makes goes through `observe`, which sorts the call's
 * end into success, typed error, interrupted (on purpose), lost (a defect or an untyped failure) or hung (still
 * running at a generous bound), and counts the fibers the call left alive. Under `pnpm reliability` the file writes
 * its section, at its end, to the directory the command gives it (`HTTP_RETRY_RELIABILITY_DIR`), and the command
 * writes RELIABILITY.md from the sections of both transports (scripts/reliability.mjs). Vitest runs test files in
 * separate workers, so a file's counts cannot reach another file in memory. `pnpm test` writes nothing.
 */
import { assert } from "@effect/vitest"
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
import * as path from "node:path"
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
  /**
   * Under `pnpm reliability`, writes the section for the report; then fails unless no call was lost or hung and no
   * fiber, socket, secret or unhandled rejection was found.
   */
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
      // What the report promises of every section: a file that leaves any of these behind fails.
      assert.deepStrictEqual(
        {
          lost: tally.lost,
          hung: tally.hung,
          fibersLeft: tally.fibersLeft,
          socketsLeft: tally.socketsLeft,
          secretsFound: tally.secretsFound,
          unhandledRejections: tally.unhandledRejections
        },
        { lost: 0, hung: 0, fibersLeft: 0, socketsLeft: 0, secretsFound: 0, unhandledRejections: 0 },
        `${tally.section}: calls lost or hung, fibers or sockets left, secrets found, unhandled rejections`
      )
    }
  }
}

// --- The report ---------------------------------------------------------------

/**
 * The directory `pnpm reliability` (scripts/reliability.mjs) gives the run: each file writes its section there, and
 * the script writes RELIABILITY.md from them once every file of both transports has passed. Unset in `pnpm test`,
 * which writes nothing, so the tracked report only changes when it is meant to.
 */
const reportDirectory = process.env.HTTP_RETRY_RELIABILITY_DIR

/** Which transport the file ran on: the platform-transport project sets it (vitest.config.ts). */
export const transport: "direct" | "platform" = process.env.HTTP_RETRY_TEST_TRANSPORT === "platform" ?
  "platform" :
  "direct"

const writeSection = (tally: Tally) => {
  if (reportDirectory === undefined || reportDirectory === "") return
  fs.mkdirSync(reportDirectory, { recursive: true })
  fs.writeFileSync(
    path.join(reportDirectory, `${transport}-${tally.section}.json`),
    JSON.stringify({ ...tally, title: SECTIONS[tally.section], transport, seed })
  )
}
