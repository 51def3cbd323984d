/**
 * What the fleet tests stand up beside Redis: a real HTTP backend on a free loopback port, and real child processes
 * running a fixture (fixtures/*.ts) that talk to the test one line at a time on stdin and stdout.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as child_process from "node:child_process"
import * as http from "node:http"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"

/** An HTTP server on 127.0.0.1 answering with `handler`, closed with every connection when the scope closes: its origin. */
export const backendServer = (handler: http.RequestListener): Effect.Effect<string, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<http.Server>((resolve) => {
          const server = http.createServer(handler)
          server.listen(0, "127.0.0.1", () => resolve(server))
        })
      ),
      (server) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          })
        )
    ),
    (server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`
  )

export interface Fixtures {
  /** The next protocol line of process `i` (its log lines, `timestamp=...`, are passed over). */
  readonly next: (i: number) => Effect.Effect<string>
  /** Writes `line` to process `i`. */
  readonly send: (i: number, line: string) => void
  /** Ends every process's stdin, after `line` when given. */
  readonly endInput: (line?: string) => void
  /** Waits for every process to exit by itself: the exit codes. */
  readonly exits: Effect.Effect<ReadonlyArray<number | null>>
}

const here = path.dirname(fileURLToPath(import.meta.url))

/**
 * One process per config, each running `fixtures/<fixture>` on the package's sources with its config as JSON;
 * killed when the scope closes if still running.
 */
export const spawnFixtures = (
  fixture: string,
  configs: ReadonlyArray<unknown>
): Effect.Effect<Fixtures, never, Scope.Scope> =>
  Effect.gen(function*() {
    const children = configs.map((config) =>
      child_process.spawn(process.execPath, [
        "--conditions=@http-retry/source",
        "--import",
        "tsx",
        path.join(here, "fixtures", fixture),
        JSON.stringify(config)
      ], { cwd: path.join(here, ".."), stdio: ["pipe", "pipe", "inherit"] })
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((child) => child.kill())))
    const lines = children.map((child) => readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]())
    const next = (i: number): Effect.Effect<string> =>
      Effect.promise(() => lines[i].next()).pipe(
        Effect.flatMap((r) => String(r.value).startsWith("timestamp=") ? next(i) : Effect.succeed(String(r.value)))
      )
    return {
      next,
      send: (i, line) => void children[i].stdin!.write(line),
      endInput: (line) => children.forEach((child) => child.stdin!.end(line)),
      exits: Effect.forEach(children, (child) =>
        Effect.promise(() =>
          new Promise<number | null>((resolve) =>
            child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) =>
              resolve(code))
          )
        ), { concurrency: "unbounded" })
    }
  })
