import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { forkUnder } from "./placement.js"
import type { FromClient, FromServer, ServerStats, ToServer } from "./protocol.js"

export interface ChildExit {
  readonly message: FromClient | undefined
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly timedOut: boolean
  readonly wallMs: number
}

/**
 * Forks one transpiled child script with plain `node` (no tsx loader: its hooks would weigh on cold starts and
 * memory), collects its one message and waits for it to exit.
 */
export const runChild = (
  buildDir: string,
  script: string,
  args: ReadonlyArray<string>,
  options: {
    readonly timeoutMs: number
    readonly execArgv?: ReadonlyArray<string>
    /** Run the child under `taskset -c cpus`. */
    readonly taskset?: string | undefined
    readonly cpus?: string | undefined
  }
): Promise<ChildExit> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    const child = ChildProcess.fork(Path.join(buildDir, script), [...args], {
      ...forkUnder(options.taskset, options.cpus, options.execArgv ?? []),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let message: FromClient | undefined
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, options.timeoutMs)
    child.on("message", (m: FromClient) => {
      message ??= m
    })
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ message, code, signal, timedOut, wallMs: performance.now() - start })
    })
  })

export interface Server {
  readonly origin: string
  /** The CPUs the server process may run on, as it reported them. */
  readonly cpus: string | undefined
  readonly reset: () => Promise<void>
  readonly stats: () => Promise<ServerStats>
  readonly stop: () => void
}

/** Starts the loopback server child (under `taskset -c cpus` if given) and talks to it one request at a time. */
export const startServer = (buildDir: string, taskset?: string, cpus?: string): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(Path.join(buildDir, "server.js"), [], {
      ...forkUnder(taskset, cpus, []),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const waiting: Array<(m: FromServer) => void> = []
    const ask = <T extends FromServer["type"]>(message: ToServer & { type: T }) =>
      new Promise<Extract<FromServer, { type: T }>>((res) => {
        waiting.push(res as (m: FromServer) => void)
        child.send(message)
      })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`server exited with code ${code}`)))
    child.on("message", (m: FromServer) => {
      if (m.type === "listening") {
        resolve({
          origin: `http://127.0.0.1:${m.port}`,
          cpus: m.cpus,
          reset: () => ask({ type: "reset" }).then(() => undefined),
          stats: () => ask({ type: "stats" }).then((r) => r.stats),
          stop: () => {
            child.removeAllListeners("exit")
            child.kill()
          }
        })
      } else {
        waiting.shift()?.(m)
      }
    })
  })
