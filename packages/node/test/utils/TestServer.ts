/**
 * A real HTTP (or HTTPS) server on 127.0.0.1 whose behaviour a test scripts request by request: answer, answer late,
 * stall or drip the body, hang up before or after the headers, or never answer. It records every request and counts
 * the TCP connections it accepted, so a test can see attempts, timing and connection reuse from the server's side.
 *
 * Keep-alive is on (idle sockets live for two minutes); a script that wants a connection closed after a response
 * sends `connection: close`. `close()` destroys every open socket, so it never waits on a client.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"
import * as TlsFixtures from "./TlsFixtures.js"

/** A request as the server received it. */
export interface TestRequest {
  /** 1-based position of this request among all requests to the server. */
  readonly index: number
  readonly method: string
  readonly url: string
  /** Lower-cased names, as node:http gives them. */
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  /** `performance.now()` when the request head arrived. */
  readonly receivedAt: number
  /** 1-based number of the TCP connection it came on, in accept order. */
  readonly connectionId: number
}

/** What the server does with one request. Build one with the constructors below. */
export type Behaviour =
  | { readonly _tag: "Respond"; readonly reply: Reply }
  | { readonly _tag: "StallBody"; readonly reply: Reply; readonly sent: number }
  | { readonly _tag: "DripBody"; readonly reply: Reply; readonly every: number }
  | { readonly _tag: "DestroyMidBody"; readonly reply: Reply; readonly sent: number }
  | { readonly _tag: "DestroyBeforeHeaders" }
  | { readonly _tag: "Hang" }

/** Decides the behaviour for each request. */
export type Script = (request: TestRequest) => Behaviour

/** The status line, headers and body a behaviour sends, and how long it waits first. */
export interface Reply {
  readonly status: number
  readonly headers: http.OutgoingHttpHeaders
  readonly body: Buffer
  readonly delay: number
}

export interface ReplyOptions {
  readonly headers?: http.OutgoingHttpHeaders
  readonly body?: string | Uint8Array
  /** Milliseconds to wait before sending the status line. */
  readonly delay?: number
}

export interface TestServer {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string
  readonly port: number
  readonly requests: ReadonlyArray<TestRequest>
  /** TCP connections accepted so far. */
  readonly connections: number
  /** TCP connections open right now. */
  readonly openSockets: () => number
  readonly close: () => Promise<void>
}

const partialBody = "0123456789abcdef"

const reply = (status: number, options: ReplyOptions | undefined, fallbackBody: string): Reply => ({
  status,
  headers: options?.headers ?? {},
  body: Buffer.from(options?.body ?? fallbackBody),
  delay: options?.delay ?? 0
})

/** Answer `status` with the given headers and body (a `Retry-After` is just a header). */
export const respond = (status: number, options?: ReplyOptions): Behaviour => ({
  _tag: "Respond",
  reply: reply(status, options, "")
})

/** Answer a 3xx with `location`. */
export const redirect = (location: string, status = 302, options?: ReplyOptions): Behaviour =>
  respond(status, { ...options, headers: { ...options?.headers, location } })

/**
 * Send the headers with the full `content-length`, then `sent` bytes of the body (half by default), then nothing,
 * forever. The body defaults to 16 bytes.
 */
export const stallBody = (status: number, options?: ReplyOptions & { readonly sent?: number }): Behaviour => {
  const res = reply(status, options, partialBody)
  return { _tag: "StallBody", reply: res, sent: options?.sent ?? Math.floor(res.body.length / 2) }
}

/** Send the headers, then one byte of the body every `every` milliseconds. The body defaults to 16 bytes. */
export const dripBody = (status: number, every: number, options?: ReplyOptions): Behaviour => ({
  _tag: "DripBody",
  reply: reply(status, options, partialBody),
  every
})

/** Send the headers and `sent` bytes of the body (half by default), then destroy the socket. */
export const destroyMidBody = (status: number, options?: ReplyOptions & { readonly sent?: number }): Behaviour => {
  const res = reply(status, options, partialBody)
  return { _tag: "DestroyMidBody", reply: res, sent: options?.sent ?? Math.floor(res.body.length / 2) }
}

/** Destroy the socket before any response byte is sent. */
export const destroyBeforeHeaders = (): Behaviour => ({ _tag: "DestroyBeforeHeaders" })

/** Accept the request and never answer. */
export const hang = (): Behaviour => ({ _tag: "Hang" })

/**
 * The n-th request gets the n-th step; the last step repeats. A number is a status with an empty body:
 * `sequence([503, 503, 200])`.
 */
export const sequence = (steps: ReadonlyArray<number | Behaviour>): Script => {
  if (steps.length === 0) throw new Error("TestServer.sequence: steps must not be empty")
  return (request) => {
    const step = steps[Math.min(request.index, steps.length) - 1]
    return typeof step === "number" ? respond(step) : step
  }
}

/** Start a plain HTTP server; `close()` it when done. */
export const start = (script: Script): Promise<TestServer> => listen(http.createServer(), "http", script)

/** Start an HTTPS server with `keyPair` (by default the leaf that `TlsFixtures.ca` signed). */
export const startHttps = (script: Script, keyPair: TlsFixtures.KeyPair = TlsFixtures.server): Promise<TestServer> =>
  listen(https.createServer({ key: keyPair.key, cert: keyPair.cert }), "https", script)

/** `start` as a scoped resource: closed when the scope closes. */
export const make = (script: Script): Effect.Effect<TestServer, never, Scope.Scope> => acquire(() => start(script))

/** `startHttps` as a scoped resource: closed when the scope closes. */
export const makeHttps = (
  script: Script,
  keyPair?: TlsFixtures.KeyPair
): Effect.Effect<TestServer, never, Scope.Scope> => acquire(() => startHttps(script, keyPair))

const acquire = (open: () => Promise<TestServer>) =>
  Effect.acquireRelease(Effect.promise(open), (server) => Effect.promise(server.close))

const listen = (server: http.Server, protocol: "http" | "https", script: Script): Promise<TestServer> => {
  const requests: Array<TestRequest> = []
  const sockets = new Set<net.Socket>()
  // An https request's socket is the TLS wrapper, not the accepted one; the client port names both.
  const connectionIds = new Map<number, number>()
  const timers = new Set<NodeJS.Timeout>()
  let connections = 0
  let arrivals = 0

  const later = (ms: number, f: () => void) => {
    if (ms <= 0) return f()
    const timer = setTimeout(() => {
      timers.delete(timer)
      f()
    }, ms)
    timers.add(timer)
  }

  server.keepAliveTimeout = 120_000
  server.on("connection", (socket: net.Socket) => {
    connections++
    connectionIds.set(socket.remotePort!, connections)
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const index = ++arrivals
    const receivedAt = performance.now()
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const request: TestRequest = {
        index,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt,
        connectionId: connectionIds.get(req.socket.remotePort!) ?? 0
      }
      requests.push(request)
      let behaviour: Behaviour
      try {
        behaviour = script(request)
      } catch (error) {
        behaviour = respond(500, { body: `TestServer script threw: ${String(error)}` })
      }
      perform(behaviour, res, later)
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        url: `${protocol}://127.0.0.1:${port}`,
        port,
        requests,
        get connections() {
          return connections
        },
        openSockets: () => sockets.size,
        close: () => {
          for (const timer of timers) clearTimeout(timer)
          return destroyAll(server, sockets)
        }
      })
    })
  })
}

// Resolves once the server has stopped listening and every socket has closed, however busy it was.
const destroyAll = (server: http.Server, sockets: Iterable<net.Socket>): Promise<void> => {
  const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once("close", resolve).destroy()))
  return Promise.all([new Promise((resolve) => server.close(resolve)), ...closed]).then(() => undefined)
}

const perform = (behaviour: Behaviour, res: http.ServerResponse, later: (ms: number, f: () => void) => void) => {
  if (behaviour._tag === "Hang") return
  if (behaviour._tag === "DestroyBeforeHeaders") return res.destroy()
  const { body, delay, headers, status } = behaviour.reply
  // The client may have gone while we waited; writing to it then is pointless.
  const send = (ms: number, f: () => void) => later(ms, () => res.destroyed || f())
  send(delay, () => {
    if (behaviour._tag === "Respond") return res.writeHead(status, headers).end(body)
    res.writeHead(status, withContentLength(headers, body.length))
    switch (behaviour._tag) {
      case "StallBody":
        return res.write(body.subarray(0, behaviour.sent))
      case "DestroyMidBody":
        return res.write(body.subarray(0, behaviour.sent), () => res.destroy())
      case "DripBody": {
        if (body.length === 0) return res.end()
        res.write(Buffer.alloc(0))
        const drip = (offset: number): void => {
          const byte = body.subarray(offset, offset + 1)
          if (offset === body.length - 1) return void res.end(byte)
          res.write(byte)
          send(behaviour.every, () => drip(offset + 1))
        }
        return send(behaviour.every, () => drip(0))
      }
    }
  })
}

// A client only notices a cut-short body when it knows how long the body should have been.
const withContentLength = (headers: http.OutgoingHttpHeaders, length: number): http.OutgoingHttpHeaders =>
  Object.keys(headers).some((name) => /^(content-length|transfer-encoding)$/i.test(name))
    ? headers
    : { ...headers, "content-length": length }
