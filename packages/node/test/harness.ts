/**
 * What the Node layer's tests share: a fast policy, one request run through a layer whose scope closes when it ends,
 * polling for a condition the server reports, captured logs, environment overrides, and the two raw TCP situations the
 * HTTP fixtures cannot make (a closed port, a listener that never completes a TLS handshake).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { HttpRetry } from "@http-retry/core"
import { RetryPolicy } from "@http-retry/core"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import { performance } from "node:perf_hooks"
import * as TestProxy from "./utils/TestProxy.js"
import * as TestServer from "./utils/TestServer.js"
import type * as TlsFixtures from "./utils/TlsFixtures.js"

/** Four attempts, 20 / 40 / 80 ms apart, no jitter: the default policy's shape at test speed. */
export const fast = (options: RetryPolicy.Options = {}): RetryPolicy.RetryPolicy =>
  RetryPolicy.make({ baseDelay: "20 millis", jitter: "none", ...options })

/** What a request ended with, body read to the end. */
export interface Answer {
  readonly status: number
  readonly body: string
}

/**
 * Runs `request` through the `HttpClient` of `layer`, reads the body, and closes the layer (its undici dispatcher)
 * when done, whatever the outcome. The error type is widened to what the retrying client really fails with:
 * `HttpClient.HttpClient`'s type only lists `HttpClientError`.
 */
export const send = <E>(layer: Layer.Layer<HttpClient.HttpClient, E>, request: HttpClientRequest.HttpClientRequest) =>
  HttpClient.HttpClient.pipe(
    Effect.flatMap((client) => client.execute(request)),
    Effect.flatMap((response) => Effect.map(response.text, (body): Answer => ({ status: response.status, body }))),
    Effect.mapError((error): HttpRetry.RetryError<HttpClientError.HttpClientError> => error),
    Effect.provide(layer)
  )

/** Polls `condition` every 10 ms for up to `within` ms; dies if it never holds. */
export const eventually = (condition: () => boolean, within = 2_000) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("condition not met")).pipe(
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo(within))),
    Effect.orDieWith(() => new Error(`condition not met within ${within} ms: ${condition}`))
  )

/**
 * A socket still open when the test ends is a leak: fails the test unless every client socket is gone (within 5 s)
 * when its scope closes, before the server itself is closed. The server sees a close a turn of its event loop after
 * the client made it, later on a busy machine; a leaked socket stays open however long the wait.
 */
const noSocketsLeft = (peer: { readonly openSockets: () => number; readonly url: string }) =>
  Effect.addFinalizer(() =>
    Effect.suspend(() => peer.openSockets() === 0 ? Effect.void : Effect.fail(peer.openSockets())).pipe(
      Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo(5_000))),
      Effect.orDieWith((open) => new Error(`${peer.url}: ${open} socket(s) left open at the end of the test`))
    )
  )

/** `TestServer.make`, checking at the end of the scope that no socket was left open. */
export const serve = (script: TestServer.Script) => Effect.tap(TestServer.make(script), noSocketsLeft)

/** `TestServer.makeHttps`, checking at the end of the scope that no socket was left open. */
export const serveHttps = (script: TestServer.Script, keyPair?: TlsFixtures.KeyPair) =>
  Effect.tap(TestServer.makeHttps(script, keyPair), noSocketsLeft)

/** `TestProxy.make`, checking at the end of the scope that no socket was left open. */
export const serveProxy = (options?: TestProxy.Options) => Effect.tap(TestProxy.make(options), noSocketsLeft)

/** Runs `effect` and reports how long it took, in milliseconds. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, (a) => [a, performance.now() - start] as const)
  })

/** One captured log line. */
export interface LogLine {
  readonly level: LogLevel.LogLevel["label"]
  readonly message: string
}

/** A logger that records every line instead of printing it, and the layer that installs it as the only one. */
export const captureLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/**
 * Sets (a string) or unsets (`undefined`) environment variables for the scope, restoring every one afterwards. Both
 * spellings of the proxy variables matter: undici reads the lower-case one first.
 */
export const withEnv = (vars: Record<string, string | undefined>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const)
      for (const [name, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of saved) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

/** Every spelling of the proxy variables undici's EnvHttpProxyAgent reads, unset. */
export const noProxyEnv: Record<string, undefined> = {
  http_proxy: undefined,
  HTTP_PROXY: undefined,
  https_proxy: undefined,
  HTTPS_PROXY: undefined,
  no_proxy: undefined,
  NO_PROXY: undefined
}

export { closedPort } from "./utils/ClosedPort.js"

/** A TCP listener that accepts connections and never sends a byte: a TLS handshake with it never completes. */
export interface SilentListener {
  readonly port: number
  readonly connections: number
  readonly openSockets: () => number
}

/** `SilentListener` as a scoped resource: closed, with every socket destroyed, when the scope closes. */
export const silentListener: Effect.Effect<SilentListener, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly server: net.Server; readonly sockets: Set<net.Socket>; readonly listener: SilentListener }>(
      (resolve, reject) => {
        const sockets = new Set<net.Socket>()
        let connections = 0
        const server = net.createServer((socket) => {
          connections++
          sockets.add(socket)
          socket.on("error", () => {})
          socket.on("close", () => sockets.delete(socket))
          // Read and drop what arrives (a ClientHello): an unread socket would never see the client's FIN.
          socket.resume()
        })
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port
          resolve({
            server,
            sockets,
            listener: {
              port,
              get connections() {
                return connections
              },
              openSockets: () => sockets.size
            }
          })
        })
      }
    )
  ),
  ({ server, sockets }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
    )
).pipe(Effect.map(({ listener }) => listener))
