/**
 * A loopback HTTP/1.1 server on raw `net` (and `tls`) sockets, scripted request by request, for faults that
 * `node:http` will not produce: a reset (TCP RST) before the headers, after them or mid-body, a malformed status
 * line, a Content-Length that lies either way, headers dripped a byte at a time, duplicate headers, or bytes smuggled
 * after a response. It parses requests itself, keeps connections alive between well-formed answers, records every
 * request with the connection it came on, and counts attempts per `x-call-id` header.
 *
 * `close()` destroys every socket and clears every timer, so it never waits on a client.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import { performance } from "node:perf_hooks"
import * as tls from "node:tls"
import * as TlsFixtures from "../utils/TlsFixtures.js"

/** A request as the server parsed it. */
export interface ChaosRequest {
  /** 1-based position among all requests to the server. */
  readonly index: number
  readonly method: string
  /** The request target, e.g. `/items?page=2`. */
  readonly path: string
  /** Lower-cased names; a repeated header's values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  /** `performance.now()` when the request head was complete. */
  readonly receivedAt: number
  /** 1-based number of the TCP connection it came on, in accept order. */
  readonly connectionId: number
  /** The `x-call-id` header, when the client sent one. */
  readonly callId: string | undefined
  /** How many requests with this `callId` arrived, this one included (1 without a call id). */
  readonly attempt: number
}

/** Header lines in order; a name may repeat. */
export type HeaderLines = ReadonlyArray<readonly [string, string | number]>

interface Head {
  readonly status: number
  readonly headers: HeaderLines
}

/** What the server does with one request. Build one with the constructors below. */
export type Fault =
  | { readonly _tag: "Respond"; readonly head: Head; readonly body: Buffer; readonly delay: number }
  | { readonly _tag: "ResetBeforeHeaders" }
  | { readonly _tag: "ResetAfterHeaders"; readonly head: Head; readonly length: number }
  | { readonly _tag: "ResetMidBody"; readonly head: Head; readonly body: Buffer; readonly sent: number }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "DripHeaders"; readonly head: Head; readonly body: Buffer; readonly every: number }
  | { readonly _tag: "DripBody"; readonly head: Head; readonly body: Buffer; readonly every: number }
  | {
    readonly _tag: "LyingLength"
    readonly head: Head
    readonly declared: number
    readonly body: Buffer
    readonly then: "close" | "hang"
  }
  | { readonly _tag: "Raw"; readonly bytes: Buffer; readonly then: "close" | "reset" | "keep" }

/** Decides the fault for each request. */
export type Script = (request: ChaosRequest) => Fault

export interface ReplyOptions {
  /** A record, or header lines in order (a name may repeat). */
  readonly headers?: Readonly<Record<string, string | number>> | HeaderLines
  readonly body?: string | Uint8Array
  /** Milliseconds to wait before the status line. */
  readonly delay?: number
}

const lines = (headers: ReplyOptions["headers"]): HeaderLines =>
  headers === undefined ? [] : Array.isArray(headers) ? headers as HeaderLines : Object.entries(headers)

const head = (status: number, options: ReplyOptions | undefined): Head => ({ status, headers: lines(options?.headers) })

const bodyOf = (options: ReplyOptions | undefined, fallback = ""): Buffer => Buffer.from(options?.body ?? fallback)

const partialBody = "0123456789abcdef"

/** Answer `status` with these headers and body, after `delay` ms. Content-Length is added unless given. */
export const respond = (status: number, options?: ReplyOptions): Fault => ({
  _tag: "Respond",
  head: head(status, options),
  body: bodyOf(options),
  delay: options?.delay ?? 0
})

/** Answer a 3xx with `location`. */
export const redirect = (location: string, status = 302, options?: ReplyOptions): Fault =>
  respond(status, { ...options, headers: [...lines(options?.headers), ["location", location]] })

/** Reset the connection (TCP RST) before any response byte. */
export const resetBeforeHeaders = (): Fault => ({ _tag: "ResetBeforeHeaders" })

/** Send the headers announcing a 16-byte body, then reset the connection without a body byte. */
export const resetAfterHeaders = (status: number, options?: ReplyOptions): Fault => ({
  _tag: "ResetAfterHeaders",
  head: head(status, options),
  length: bodyOf(options, partialBody).length
})

/** Send the headers and `sent` bytes of the body (half by default), then reset the connection. */
export const resetMidBody = (status: number, options?: ReplyOptions & { readonly sent?: number }): Fault => {
  const body = bodyOf(options, partialBody)
  return { _tag: "ResetMidBody", head: head(status, options), body, sent: options?.sent ?? body.length >> 1 }
}

/** Accept the request and never answer. */
export const hang = (): Fault => ({ _tag: "Hang" })

/** Send the status line and headers one byte every `every` ms, then the body at once. */
export const dripHeaders = (status: number, every: number, options?: ReplyOptions): Fault => ({
  _tag: "DripHeaders",
  head: head(status, options),
  body: bodyOf(options),
  every
})

/** Send the headers, then the body one byte every `every` ms. The body defaults to 16 bytes. */
export const dripBody = (status: number, every: number, options?: ReplyOptions): Fault => ({
  _tag: "DripBody",
  head: head(status, options),
  body: bodyOf(options, partialBody),
  every
})

/**
 * Announce `declared` bytes of body and send `body` (16 bytes by default). With fewer bytes than declared the
 * connection is then closed (`then: "close"`, the default) or left open (`"hang"`); with more, the excess follows the
 * response on the same connection, as if it were the start of the next one.
 */
export const lyingLength = (
  status: number,
  declared: number,
  options?: ReplyOptions & { readonly then?: "close" | "hang" }
): Fault => ({
  _tag: "LyingLength",
  head: head(status, options),
  declared,
  body: bodyOf(options, partialBody),
  then: options?.then ?? "close"
})

/** Send `bytes` as they are, then close, reset or keep the connection. */
export const raw = (bytes: string | Uint8Array, then: "close" | "reset" | "keep" = "close"): Fault => ({
  _tag: "Raw",
  bytes: Buffer.from(bytes),
  then
})

/** A status line no HTTP/1.1 parser accepts, then an empty header block, then close. */
export const malformedStatusLine = (line = "HTTP/1.1 2OO OK"): Fault => raw(`${line}\r\ncontent-length: 0\r\n\r\n`)

/**
 * The n-th request gets the n-th step; the last step repeats. A number is a status with an empty body.
 */
export const sequence = (steps: ReadonlyArray<number | Fault>): Script => {
  if (steps.length === 0) throw new Error("ChaosServer.sequence: steps must not be empty")
  return (request) => {
    const step = steps[Math.min(request.index, steps.length) - 1]
    return typeof step === "number" ? respond(step) : step
  }
}

/** Like `sequence`, but counted per `x-call-id`: each call's n-th attempt gets the n-th step. */
export const perCall = (steps: ReadonlyArray<number | Fault>): Script => {
  if (steps.length === 0) throw new Error("ChaosServer.perCall: steps must not be empty")
  return (request) => {
    const step = steps[Math.min(request.attempt, steps.length) - 1]
    return typeof step === "number" ? respond(step) : step
  }
}

export interface ChaosServer {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string
  readonly port: number
  /** Every request, in arrival order (none when made with `record: false`). */
  readonly requests: ReadonlyArray<ChaosRequest>
  /** Requests so far, recorded or not. */
  readonly arrivals: number
  /** Requests per `x-call-id`. */
  readonly attempts: ReadonlyMap<string, number>
  /** TCP connections accepted so far. */
  readonly connections: number
  /** TCP connections open right now. */
  readonly openSockets: () => number
  readonly close: () => Promise<void>
}

const REASONS: Record<number, string> = {
  200: "OK",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const headBytes = (h: Head, contentLength: number | undefined, close: boolean): Buffer => {
  let text = `HTTP/1.1 ${h.status} ${REASONS[h.status] ?? "Status"}\r\n`
  const names = new Set(h.headers.map(([name]) => name.toLowerCase()))
  for (const [name, value] of h.headers) text += `${name}: ${value}\r\n`
  if (contentLength !== undefined && !names.has("content-length") && !names.has("transfer-encoding")) {
    text += `content-length: ${contentLength}\r\n`
  }
  if (close && !names.has("connection")) text += "connection: close\r\n"
  return Buffer.from(`${text}\r\n`)
}

const MAX_HEAD = 64 * 1024

/** The request head and body at the start of `buffer`, or `undefined` while incomplete. */
const parseRequest = (buffer: Buffer): {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer
  readonly consumed: number
} | undefined => {
  const end = buffer.indexOf("\r\n\r\n")
  if (end === -1) return undefined
  const [requestLine, ...headerLines] = buffer.subarray(0, end).toString("latin1").split("\r\n")
  const [method, path] = requestLine.split(" ")
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(":")
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  let offset = end + 4
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const chunks: Array<Buffer> = []
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", offset)
      if (lineEnd === -1) return undefined
      const size = parseInt(buffer.subarray(offset, lineEnd).toString("latin1"), 16)
      if (buffer.length < lineEnd + 2 + size + 2) return undefined
      if (size === 0) return { method, path, headers, body: Buffer.concat(chunks), consumed: lineEnd + 4 }
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
      offset = lineEnd + 2 + size + 2
    }
  }
  const length = Number(headers["content-length"] ?? 0)
  if (buffer.length < offset + length) return undefined
  // A copy: a view would keep the whole socket chunk alive for as long as the request is recorded.
  return {
    method,
    path,
    headers,
    body: Buffer.from(buffer.subarray(offset, offset + length)),
    consumed: offset + length
  }
}

export interface Options {
  /** Keep every request in `requests` (default `true`); a soak keeps only the attempt counts. */
  readonly record?: boolean
}

/** Start a plain HTTP server; `close()` it when done. */
export const start = (script: Script, options?: Options): Promise<ChaosServer> => listen(script, undefined, options)

/** Start an HTTPS server with `keyPair` (by default the leaf that `TlsFixtures.ca` signed). */
export const startHttps = (script: Script, keyPair: TlsFixtures.KeyPair = TlsFixtures.server): Promise<ChaosServer> =>
  listen(script, tls.createSecureContext({ key: keyPair.key, cert: keyPair.cert }), undefined)

/** `start` as a scoped resource. */
export const make = (script: Script, options?: Options): Effect.Effect<ChaosServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(script, options)), (server) => Effect.promise(server.close))

/** `startHttps` as a scoped resource. */
export const makeHttps = (
  script: Script,
  keyPair?: TlsFixtures.KeyPair
): Effect.Effect<ChaosServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startHttps(script, keyPair)), (server) => Effect.promise(server.close))

const listen = (
  script: Script,
  secureContext: tls.SecureContext | undefined,
  options: Options | undefined
): Promise<ChaosServer> => {
  const record = options?.record ?? true
  const requests: Array<ChaosRequest> = []
  const attempts = new Map<string, number>()
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let connections = 0
  let arrivals = 0

  const server = net.createServer((socket) => {
    const connectionId = ++connections
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    // The raw socket is the one to reset: a TLS socket has no RST of its own.
    const io: net.Socket = secureContext === undefined ? socket : new tls.TLSSocket(socket, {
      isServer: true,
      secureContext
    })
    if (io !== socket) io.on("error", () => {})
    let buffer: Buffer = Buffer.alloc(0)
    let busy = false
    let closed = false
    io.on("close", () => {
      closed = true
    })

    const later = (ms: number, f: () => void) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!closed && !socket.destroyed) f()
      }, ms)
      timers.add(timer)
    }
    const reset = () => {
      if (!socket.destroyed) socket.resetAndDestroy()
    }
    // Give the client time to read what was written before the RST discards anything unread.
    const resetSoon = () => later(30, reset)

    const finish = (close: boolean) => {
      if (close) return void io.end()
      busy = false
      pump()
    }

    const perform = (fault: Fault, close: boolean): void => {
      switch (fault._tag) {
        case "Respond":
          return later(fault.delay, () => {
            io.write(Buffer.concat([headBytes(fault.head, fault.body.length, close), fault.body]))
            finish(close)
          })
        case "ResetBeforeHeaders":
          return reset()
        case "ResetAfterHeaders":
          io.write(headBytes(fault.head, fault.length, false))
          return resetSoon()
        case "ResetMidBody":
          io.write(Buffer.concat([headBytes(fault.head, fault.body.length, false), fault.body.subarray(0, fault.sent)]))
          return resetSoon()
        case "Hang":
          return
        case "DripHeaders": {
          const bytes = headBytes(fault.head, fault.body.length, close)
          const drip = (offset: number): void => {
            if (offset === bytes.length) {
              io.write(fault.body)
              return finish(close)
            }
            io.write(bytes.subarray(offset, offset + 1))
            later(fault.every, () => drip(offset + 1))
          }
          return drip(0)
        }
        case "DripBody": {
          io.write(headBytes(fault.head, fault.body.length, close))
          const drip = (offset: number): void => {
            if (offset === fault.body.length) return finish(close)
            io.write(fault.body.subarray(offset, offset + 1))
            later(fault.every, () => drip(offset + 1))
          }
          return later(fault.every, () => drip(0))
        }
        case "LyingLength": {
          const lying: Head = {
            status: fault.head.status,
            headers: [...fault.head.headers, ["content-length", fault.declared] as const]
          }
          io.write(Buffer.concat([headBytes(lying, undefined, false), fault.body]))
          if (fault.declared > fault.body.length) {
            if (fault.then === "close") io.end()
            return
          }
          // The excess went out after the response; keep reading as if nothing were wrong.
          return finish(close)
        }
        case "Raw":
          io.write(fault.bytes)
          if (fault.then === "close") return void io.end()
          if (fault.then === "reset") return resetSoon()
          return finish(close)
      }
    }

    const pump = (): void => {
      if (busy || closed) return
      const parsed = parseRequest(buffer)
      if (parsed === undefined) {
        if (buffer.length > MAX_HEAD) reset()
        return
      }
      buffer = buffer.subarray(parsed.consumed)
      busy = true
      const callId = parsed.headers["x-call-id"]
      const attempt = callId === undefined ? 1 : (attempts.get(callId) ?? 0) + 1
      if (callId !== undefined) attempts.set(callId, attempt)
      const request: ChaosRequest = {
        index: ++arrivals,
        method: parsed.method,
        path: parsed.path,
        headers: parsed.headers,
        body: parsed.body,
        receivedAt: performance.now(),
        connectionId,
        callId,
        attempt
      }
      if (record) requests.push(request)
      let fault: Fault
      try {
        fault = script(request)
      } catch (error) {
        fault = respond(500, { body: `ChaosServer script threw: ${String(error)}` })
      }
      perform(fault, /close/i.test(parsed.headers.connection ?? ""))
    }

    io.on("data", (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      pump()
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        url: `${secureContext === undefined ? "http" : "https"}://127.0.0.1:${port}`,
        port,
        requests,
        attempts,
        get connections() {
          return connections
        },
        get arrivals() {
          return arrivals
        },
        openSockets: () => sockets.size,
        close: () => {
          for (const timer of timers) clearTimeout(timer)
          timers.clear()
          const closedSockets = [...sockets].map((socket) =>
            new Promise((resolve) => socket.once("close", resolve).destroy())
          )
          return Promise.all([new Promise((resolve) => server.close(resolve)), ...closedSockets]).then(() => undefined)
        }
      })
    })
  })
}
