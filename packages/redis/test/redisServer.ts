/**
 * A real `redis-server` for the tests: its own instance on a free loopback port, persistence off, in a temp dir,
 * stopped (and its dir removed) when the scope closes. `stop` and `start` take it away and bring it back on the same
 * port, as a restart of the server does to its clients.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "../../node/test/utils/ClosedPort.js"

export const binary = process.env.REDIS_SERVER ?? "redis-server"

/** Whether `redis-server` runs here. */
export const available: boolean = (() => {
  const probe = child_process.spawnSync(binary, ["--version"], { encoding: "utf8" })
  return probe.status === 0 && /Redis server v=/.test(probe.stdout)
})()

export const skipLine = `@http-retry/redis: the Redis tests were skipped: no ${binary} here ` +
  "(install it with `apt-get install -y redis-server`, or set REDIS_SERVER to its path)"

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** A connection for the test itself (assertions, INFO, FLUSHALL). */
  readonly admin: Redis
  /** Stops the server (SIGKILL: no goodbye to its clients) and waits for it to be gone. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port, empty. */
  readonly start: Effect.Effect<void>
}

const launch = (port: number, dir: string): Promise<child_process.ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = child_process.spawn(binary, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--loglevel",
      "warning"
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const onData = (data: Buffer) => {
      output += data.toString()
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${output}`)))
    child.once("error", reject)
    // Ready when it answers on its port.
    const started = Date.now()
    const poll = () => {
      const socket = net.connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.write("PING\r\n")
        socket.once("data", (data) => {
          socket.destroy()
          if (data.toString().startsWith("+PONG")) {
            child.removeAllListeners("exit")
            resolve(child)
          } else setTimeout(poll, 20)
        })
      })
      socket.once("error", () => {
        socket.destroy()
        if (Date.now() - started > 15_000) reject(new Error(`redis-server did not answer on ${port}: ${output}`))
        else if (child.exitCode === null) setTimeout(poll, 20)
      })
    }
    poll()
  })

const kill = (child: child_process.ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function*() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "http-retry-redis-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  let child: child_process.ChildProcess | undefined
  let port = 0
  for (let attempt = 0; child === undefined; attempt++) {
    port = yield* Effect.promise(freePort)
    child = yield* Effect.promise(() =>
      launch(port, dir).catch((error) => {
        if (attempt >= 5) throw error
        return undefined
      })
    )
  }
  yield* Effect.addFinalizer(() => Effect.promise(() => child === undefined ? Promise.resolve() : kill(child)))
  const admin = yield* Effect.acquireRelease(
    Effect.sync(() => new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: null })),
    (admin) => Effect.sync(() => admin.disconnect())
  )
  admin.on("error", () => {})
  yield* Effect.promise(() => admin.connect())
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    admin,
    stop: Effect.promise(async () => {
      if (child !== undefined) await kill(child)
      child = undefined
    }),
    start: Effect.promise(async () => {
      child = await launch(port, dir)
    })
  }
})
