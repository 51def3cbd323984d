/**
 * Runs the bundled commands (`dist/bin/*.js`, bundled by the global setup) as child processes, the way a shell or a CI
 * script would: pipes for stdin, stdout and stderr, so stderr is never a terminal.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"

export const httpRetryBin = fileURLToPath(new URL("../dist/bin/http-retry.cjs", import.meta.url))
export const demoBin = fileURLToPath(new URL("../dist/bin/demo.cjs", import.meta.url))
/** The package's version, which the command reports and sends in its User-Agent. */
export const version: string = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).version
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
  /** Milliseconds from spawn to exit. */
  readonly elapsed: number
  /** `performance.now()` at exit. */
  readonly exitedAt: number
}

export interface Running {
  readonly child: child_process.ChildProcess
  readonly stderrSoFar: () => string
  readonly finished: Effect.Effect<Finished>
}

const childEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  for (const name of Object.keys(env)) {
    if (/^(http_proxy|https_proxy|no_proxy|all_proxy|HTTP_RETRY_.*)$/i.test(name)) delete env[name]
  }
  return env
}

/** Starts `node <script> ...args`; the child is killed if the test ends first. */
export const spawn = (
  args: ReadonlyArray<string>,
  options: {
    readonly script?: string
    readonly command?: string
    readonly cwd?: string
    /** Set on top of the test's environment, after the proxy and HTTP_RETRY_* variables are removed. */
    readonly env?: NodeJS.ProcessEnv
    readonly input?: Uint8Array
    /** Leave the child's stdin open (ended when the test's scope closes), as a producer that has not finished. */
    readonly holdStdin?: boolean
  } = {}
) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const started = performance.now()
      const child = options.command === undefined ?
        child_process.spawn(process.execPath, [options.script ?? httpRetryBin, ...args], {
          cwd: options.cwd,
          env: { ...childEnv(), ...options.env },
          stdio: "pipe"
        }) :
        child_process.spawn(options.command, args, {
          cwd: options.cwd ?? repoRoot,
          env: { ...childEnv(), ...options.env },
          stdio: "pipe"
        })
      const stdout: Array<Buffer> = []
      const stderr: Array<Buffer> = []
      child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk))
      child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk))
      if (options.holdStdin === true) child.stdin!.write(options.input ?? new Uint8Array())
      else child.stdin!.end(options.input)
      const exited = new Promise<Finished>((resolve, reject) => {
        child.once("error", reject)
        child.once("close", (code, signal) =>
          resolve({
            code,
            signal,
            stdout: Buffer.concat(stdout),
            stderr: Buffer.concat(stderr).toString(),
            elapsed: performance.now() - started,
            exitedAt: performance.now()
          }))
      })
      return {
        child,
        stderrSoFar: () => Buffer.concat(stderr).toString(),
        finished: Effect.promise(() => exited)
      }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** Runs `http-retry ...args` (or another script) to the end. */
export const run = (
  args: ReadonlyArray<string>,
  options?: {
    readonly script?: string
    readonly command?: string
    readonly cwd?: string
    readonly env?: NodeJS.ProcessEnv
    readonly input?: Uint8Array
  }
) => Effect.flatMap(spawn(args, options), (running) => running.finished)

/** Polls `condition` every 10 ms until it holds (or fails after `timeout` ms). */
export const eventually = (condition: () => boolean, timeout = 5_000) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet" as const)).pipe(
    Effect.retry(Schedule.intersect(Schedule.spaced("10 millis"), Schedule.recurUpTo(`${timeout} millis`))),
    Effect.orDie
  )

/** A scratch directory, removed when the test's scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "http-retry-cli-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** All 256 byte values, then the same reversed: a body no text decoding survives unchanged. */
export const binaryBody = Buffer.from([
  ...Array.from({ length: 256 }, (_, i) => i),
  ...Array.from({ length: 256 }, (_, i) => 255 - i)
])
