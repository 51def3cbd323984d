/**
 * A port on 127.0.0.1 that nothing listens on, for tests of a refused connection.
 *
 * Not a port bound with `listen(0)` and closed again: that port is back in the range the kernel hands out for
 * `listen(0)` (every test server's) and for outgoing connections, and a test running beside this one could take it
 * between the check and its use, so the "refused" request reached that test's server. This one is taken below
 * that range, where no test binds, and checked free.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as net from "node:net"

/** The lowest port of the kernel's ephemeral range (Linux's own default where it cannot be read). */
const ephemeralLow = (): number => {
  try {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 2048 ? low : 32768
  } catch {
    return 32768
  }
}

const isFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/**
 * A free port on 127.0.0.1 below the ephemeral range: nothing listens on it, and no test's `listen(0)` can take it
 * before whoever asked for it binds it (a Redis server started, stopped and started again on it).
 */
export const freePort = async (): Promise<number> => {
  const low = ephemeralLow()
  for (let tries = 0; tries < 100; tries++) {
    const port = 1024 + Math.floor(Math.random() * (low - 1024))
    if (await isFree(port)) return port
  }
  throw new Error(`ClosedPort: no free port found between 1024 and ${low}`)
}

/** A port on 127.0.0.1 that nothing listens on. */
export const closedPort: Effect.Effect<number> = Effect.promise(freePort)
