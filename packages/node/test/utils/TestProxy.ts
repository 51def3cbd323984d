/**
 * A real forwarding HTTP proxy on 127.0.0.1. It forwards absolute-form requests (`GET http://host:port/path`) with
 * node:http and opens CONNECT tunnels (https upstreams, and undici's `ProxyAgent`, which tunnels plain http too unless
 * `proxyTunnel: false`). It records what it was asked for and counts the TCP connections it accepted.
 *
 * It only reaches loopback targets; anything else gets a 403, so a test can never leak to the internet. With
 * `credentials`, a request without the matching `Proxy-Authorization: Basic ...` gets a 407. `close()` destroys every
 * socket, client side and upstream side.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as net from "node:net"
import { pipeline } from "node:stream"

/** One request the proxy received, whether or not it forwarded it. */
export interface ProxiedRequest {
  /** `CONNECT`, or the method of a forwarded request. */
  readonly method: string
  /** The request-target as received: `host:port` for CONNECT, an absolute URL otherwise. */
  readonly url: string
  /** The upstream as `host:port`. */
  readonly target: string
  /** Lower-cased names, as node:http gives them. */
  readonly headers: http.IncomingHttpHeaders
  /** 1-based number of the TCP connection it came on, in accept order. */
  readonly connectionId: number
}

export interface Options {
  /** Require these in `Proxy-Authorization: Basic ...`. */
  readonly credentials?: { readonly username: string; readonly password: string }
  /** Close every CONNECT's connection without an answer, as a proxy that drops tunnels does. */
  readonly dropTunnels?: boolean
}

export interface TestProxy {
  /** `http://127.0.0.1:PORT`, without credentials or a trailing slash. */
  readonly url: string
  readonly port: number
  readonly requests: ReadonlyArray<ProxiedRequest>
  /** TCP connections accepted so far from clients. */
  readonly connections: number
  /** Client TCP connections open right now. */
  readonly openSockets: () => number
  readonly close: () => Promise<void>
}

/** Start a proxy; `close()` it when done. */
export const start = (options: Options = {}): Promise<TestProxy> => {
  const server = http.createServer()
  const upstreamAgent = new http.Agent({ keepAlive: true })
  const requests: Array<ProxiedRequest> = []
  const sockets = new Set<net.Socket>()
  const tunnels = new Set<net.Socket>()
  const connectionIds = new WeakMap<net.Socket, number>()
  let connections = 0

  const expected = options.credentials &&
    `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}`

  // Records the request and returns the status that refuses it, if any.
  const admit = (req: http.IncomingMessage, target: Target | undefined): number | undefined => {
    requests.push({
      method: req.method!,
      url: req.url!,
      target: target ? `${target.host}:${target.port}` : "",
      headers: req.headers,
      connectionId: connectionIds.get(req.socket) ?? 0
    })
    if (expected !== undefined && req.headers["proxy-authorization"] !== expected) return 407
    if (target === undefined) return 400
    if (!loopback.has(target.host)) return 403
    return undefined
  }

  server.keepAliveTimeout = 120_000
  server.on("connection", (socket: net.Socket) => {
    connectionIds.set(socket, ++connections)
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const target = absoluteForm(req.url!)
    const refusal = admit(req, target)
    if (refusal !== undefined) return refuse(res, refusal)
    const upstream = http.request({
      agent: upstreamAgent,
      host: target!.host,
      port: target!.port,
      method: req.method!,
      path: target!.path,
      headers: withoutHopByHop(req.headers)
    })
    upstream.on("response", (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode!, upstreamRes.statusMessage, withoutHopByHop(upstreamRes.headers))
      pipeline(upstreamRes, res, () => {})
    })
    upstream.on("error", () => (res.headersSent ? res.destroy() : refuse(res, 502)))
    pipeline(req, upstream, () => {})
  })

  server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const target = authorityForm(req.url!)
    const refusal = admit(req, target)
    socket.on("error", () => {})
    if (options?.dropTunnels === true) return socket.destroy()
    if (refusal !== undefined) {
      return socket.end(`HTTP/1.1 ${refusal} ${http.STATUS_CODES[refusal]}\r\n${challenge(refusal)}\r\n`)
    }
    const upstream = net.connect(target!.port, target!.host)
    let established = false
    tunnels.add(upstream)
    upstream.on("connect", () => {
      established = true
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      upstream.write(head)
      socket.pipe(upstream)
      upstream.pipe(socket)
    })
    upstream.on("error", () => (established ? socket.destroy() : socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n")))
    upstream.on("close", () => tunnels.delete(upstream))
    socket.on("close", () => upstream.destroy())
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        get connections() {
          return connections
        },
        openSockets: () => sockets.size,
        close: () => {
          upstreamAgent.destroy()
          return destroyAll(server, [...sockets, ...tunnels])
        }
      })
    })
  })
}

/** `start` as a scoped resource: closed when the scope closes. */
export const make = (options?: Options): Effect.Effect<TestProxy, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (proxy) => Effect.promise(proxy.close))

// Resolves once the server has stopped listening and every socket has closed, however busy it was.
const destroyAll = (server: http.Server, sockets: Iterable<net.Socket>): Promise<void> => {
  const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once("close", resolve).destroy()))
  return Promise.all([new Promise((resolve) => server.close(resolve)), ...closed]).then(() => undefined)
}

const loopback = new Set(["127.0.0.1", "localhost"])

interface Target {
  readonly host: string
  readonly port: number
  readonly path: string
}

// `http://host[:port]/path?query`, the form a client sends to a forwarding proxy.
const absoluteForm = (requestTarget: string): Target | undefined => {
  if (!/^http:\/\//i.test(requestTarget) || !URL.canParse(requestTarget)) return undefined
  const url = new URL(requestTarget)
  return { host: url.hostname, port: Number(url.port || 80), path: url.pathname + url.search }
}

// `host:port`, the form of a CONNECT.
const authorityForm = (requestTarget: string): Target | undefined => {
  const match = /^([^:/\s]+):(\d+)$/.exec(requestTarget)
  return match ? { host: match[1], port: Number(match[2]), path: "" } : undefined
}

const refuse = (res: http.ServerResponse, status: number) => {
  const challengeHeaders: http.OutgoingHttpHeaders = status === 407
    ? { "proxy-authenticate": "Basic realm=\"test\"" }
    : {}
  res.writeHead(status, { ...challengeHeaders, "content-length": 0 }).end()
}

const challenge = (status: number) => status === 407 ? "Proxy-Authenticate: Basic realm=\"test\"\r\n" : ""

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade"
])

const withoutHopByHop = (headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders => {
  const out: http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name)) out[name] = value
  }
  return out
}
