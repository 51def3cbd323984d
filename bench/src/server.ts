/**
 * The loopback server, run in its own child process so that it never shares a core's event loop with a client.
 *
 * Routes (the request id is `?id=N`, counters are per id and per route):
 * - /happy: 200
 * - /warmup/X: as /X (and /warmup as /happy), counted apart
 * - /fault: 503, 503, then 200
 * - /reset: the first attempt has its connection destroyed before any header is written, then 200
 * - /retry-after: 503 with `Retry-After: 1` on the first attempt, then 200
 * - /leak: ids divisible by 10 get 503 on the first attempt, then 200
 * - /down: 503, always (a backend that is down: the retry budget's storm, the circuit breaker's open state)
 * - /tail: every 50th request to arrive (2%, hedges included) is answered after 200 ms, the others at once
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { ownCpuList } from "./placement.js"
import type { FromServer, RouteStats, ServerStats, ToServer } from "./protocol.js"

const okBody = (id: string) => `{"ok":true,"id":${id}}`
const unavailableBody = "{\"ok\":false,\"error\":\"unavailable\"}"

/** The slow answers of /tail: one arrival in `TAIL_EVERY`, after `TAIL_DELAY_MS`. */
const TAIL_EVERY = 50
const TAIL_DELAY_MS = 200

interface Route {
  attempts: number
  /** Attempt timestamps per request id, for the gaps between retries. */
  readonly byId: Map<string, Array<number>>
}

let routes = new Map<string, Route>()
let connections = 0
let openConnections = 0
let maxOpenConnections = 0

const route = (path: string): Route => {
  let r = routes.get(path)
  if (r === undefined) {
    r = { attempts: 0, byId: new Map() }
    routes.set(path, r)
  }
  return r
}

/** Counts the attempt and returns its number for this id, 1-based. */
const attempt = (r: Route, id: string, tracked: boolean): number => {
  r.attempts++
  if (!tracked) return 1
  const times = r.byId.get(id)
  if (times === undefined) {
    r.byId.set(id, [performance.now()])
    return 1
  }
  times.push(performance.now())
  return times.length
}

const send = (res: Http.ServerResponse, status: number, body: string, headers: Http.OutgoingHttpHeaders = {}) => {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers
  })
  res.end(body)
}

const handle = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
  const url = req.url ?? "/"
  const q = url.indexOf("?id=")
  const path = q === -1 ? url : url.slice(0, q)
  const id = q === -1 ? "0" : url.slice(q + 4)
  const r = route(path)
  // /warmup/fault behaves as /fault, with counters of its own.
  const behaviour = path.startsWith("/warmup") ? path.slice("/warmup".length) || "/happy" : path
  switch (behaviour) {
    case "/happy": {
      attempt(r, id, false)
      return send(res, 200, okBody(id))
    }
    case "/fault": {
      return attempt(r, id, true) <= 2 ? send(res, 503, unavailableBody) : send(res, 200, okBody(id))
    }
    case "/reset": {
      if (attempt(r, id, true) === 1) {
        req.socket.destroy()
        return
      }
      return send(res, 200, okBody(id))
    }
    case "/retry-after": {
      return attempt(r, id, true) === 1
        ? send(res, 503, unavailableBody, { "retry-after": "1" })
        : send(res, 200, okBody(id))
    }
    case "/down": {
      attempt(r, id, true)
      return send(res, 503, unavailableBody)
    }
    case "/tail": {
      attempt(r, id, false)
      if (r.attempts % TAIL_EVERY !== 0) return send(res, 200, okBody(id))
      // A client that gave up on the answer (a hedge won) has closed the connection: nothing to write then.
      const timer = setTimeout(() => res.destroyed || send(res, 200, okBody(id)), TAIL_DELAY_MS)
      res.on("close", () => clearTimeout(timer))
      return
    }
    case "/leak": {
      const faulty = Number(id) % 10 === 0
      return attempt(r, id, faulty) === 1 && faulty ? send(res, 503, unavailableBody) : send(res, 200, okBody(id))
    }
    default: {
      attempt(r, id, false)
      return send(res, 404, "{\"ok\":false}")
    }
  }
}

/** [min, median] */
const minMedian = (xs: Array<number>) => {
  const s = xs.sort((a, b) => a - b)
  return [s[0], s[Math.floor((s.length - 1) / 2)]] as const
}

const routeStats = (r: Route): RouteStats => {
  const gaps: Array<Array<number>> = []
  let retriedIds = 0
  for (const times of r.byId.values()) {
    if (times.length > 1) retriedIds++
    for (let n = 1; n < times.length; n++) {
      ;(gaps[n - 1] ??= []).push(times[n] - times[n - 1])
    }
  }
  const all = [...r.byId.values()].flat().sort((a, b) => a - b)
  let afterFifty: RouteStats["afterFifty"]
  if (all.length >= 50) {
    const fiftieth = all[49]
    let ids = 0
    let attempts = 0
    for (const times of r.byId.values()) {
      if (times[0] > fiftieth) {
        ids++
        attempts += times.length
      }
    }
    afterFifty = { afterMs: fiftieth - all[0], ids, attempts }
  }
  return {
    attempts: r.attempts,
    retriedIds,
    gaps: gaps.map(minMedian),
    afterFifty
  }
}

const stats = (): ServerStats => ({
  connections,
  maxOpenConnections,
  routes: Object.fromEntries([...routes].map(([path, r]) => [path, routeStats(r)]))
})

const server = Http.createServer(handle)
// Longer than any run, so that no client ever races a server-side idle close.
server.keepAliveTimeout = 30 * 60_000
server.on("connection", (socket) => {
  connections++
  openConnections++
  maxOpenConnections = Math.max(maxOpenConnections, openConnections)
  socket.on("close", () => openConnections--)
})

const reply = (message: FromServer) => process.send!(message)

process.on("message", (message: ToServer) => {
  switch (message.type) {
    case "reset": {
      routes = new Map()
      connections = 0
      // The previous client has exited; give its sockets' close events a moment to arrive.
      const since = performance.now()
      const settle = () => {
        if (openConnections > 0 && performance.now() - since < 1000) return setTimeout(settle, 5)
        maxOpenConnections = openConnections
        reply({ type: "reset" })
      }
      return settle()
    }
    case "stats": {
      return reply({ type: "stats", stats: stats() })
    }
  }
})
// The parent going away (even by a crash) ends the server.
process.on("disconnect", () => process.exit(0))

server.listen(0, "127.0.0.1", () => {
  reply({ type: "listening", port: (server.address() as AddressInfo).port, cpus: ownCpuList() })
})
