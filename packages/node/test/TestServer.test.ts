import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"
import * as tls from "node:tls"
import * as TestProxy from "./utils/TestProxy.js"
import * as TestServer from "./utils/TestServer.js"
import * as TlsFixtures from "./utils/TlsFixtures.js"

interface Exchange {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

// One request with node:http (or node:https when `protocol` is "https:"), body read to the end.
const send = (options: https.RequestOptions, body?: string) =>
  Effect.async<Exchange, Error>((resume) => {
    const request = options.protocol === "https:" ? https.request : http.request
    const req = request(options, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", (error) => resume(Effect.fail(error)))
      res.on("end", () =>
        resume(
          Effect.succeed({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() })
        ))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(body)
  })

const connect = (proxy: TestProxy.TestProxy, authority: string, headers: http.OutgoingHttpHeaders = {}) =>
  Effect.async<{ readonly status: number; readonly socket: net.Socket }, Error>((resume) => {
    http.request({ host: "127.0.0.1", port: proxy.port, method: "CONNECT", path: authority, headers })
      .on(
        "connect",
        (res: http.IncomingMessage, socket: net.Socket) => resume(Effect.succeed({ status: res.statusCode!, socket }))
      )
      .on("error", (error) => resume(Effect.fail(error)))
      .end()
  })

// Reads a fetch body until it ends or fails: what arrived, and the failure if any.
const readBody = (response: Response) =>
  Effect.promise(async () => {
    const chunks: Array<Uint8Array> = []
    const reader = response.body!.getReader()
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value)
      return { body: Buffer.concat(chunks).toString(), error: undefined }
    } catch (error) {
      return { body: Buffer.concat(chunks).toString(), error: error as Error }
    }
  })

const fetchEffect = (url: string, init?: RequestInit) => Effect.tryPromise(() => fetch(url, init))

const eventually = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("condition not met")).pipe(
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("2 seconds"))),
    Effect.orDie
  )

const elapsedSince = (start: number) => performance.now() - start

describe("TestServer", () => {
  it.scopedLive("sequence answers each status in turn, then repeats the last", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([503, 503, 200]))
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) {
        statuses.push((yield* send({ host: "127.0.0.1", port: server.port })).status)
      }
      assert.deepStrictEqual(statuses, [503, 503, 200, 200])
      assert.deepStrictEqual(server.requests.map((request) => request.index), [1, 2, 3, 4])
    }))

  it.scopedLive("counts TCP connections: one for keep-alive requests, one per request without", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(200))
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new http.Agent({ keepAlive: true, maxSockets: 1 })),
        (agent) => Effect.sync(() => agent.destroy())
      )
      for (let i = 0; i < 3; i++) yield* send({ host: "127.0.0.1", port: server.port, agent })
      assert.strictEqual(server.connections, 1)
      assert.strictEqual(server.openSockets(), 1)
      for (let i = 0; i < 2; i++) yield* send({ host: "127.0.0.1", port: server.port, agent: false })
      assert.strictEqual(server.connections, 3)
      assert.deepStrictEqual(server.requests.map((request) => request.connectionId), [1, 1, 1, 2, 3])
      agent.destroy()
      yield* eventually(() => server.openSockets() === 0)
    }))

  it.scopedLive("records method, url, headers, body and arrival time", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make((request) => TestServer.respond(201, { body: `got ${request.body}` }))
      const before = performance.now()
      const response = yield* send(
        { host: "127.0.0.1", port: server.port, method: "POST", path: "/items?x=1", headers: { "x-test": "yes" } },
        "payload"
      )
      assert.deepStrictEqual([response.status, response.body], [201, "got payload"])
      const [request] = server.requests
      assert.deepStrictEqual(
        [request.method, request.url, request.headers["x-test"], request.body.toString()],
        ["POST", "/items?x=1", "yes", "payload"]
      )
      assert.isTrue(request.receivedAt >= before && request.receivedAt <= performance.now())
    }))

  it.scopedLive("answers with headers, and redirects with Location", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(TestServer.sequence([
        TestServer.redirect("/new", 307),
        TestServer.respond(503, { headers: { "retry-after": "7" } })
      ]))
      const response = yield* fetchEffect(`${server.url}/old`)
      assert.deepStrictEqual([response.status, response.headers.get("retry-after")], [503, "7"])
      assert.deepStrictEqual(server.requests.map((request) => request.url), ["/old", "/new"])
    }))

  it.scopedLive("delays the headers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(200, { delay: 100 }))
      const start = performance.now()
      yield* send({ host: "127.0.0.1", port: server.port })
      assert.isAtLeast(elapsedSince(start), 95)
    }))

  it.scopedLive("drips the body one byte per interval", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.dripBody(200, 20, { body: "abcde" }))
      const start = performance.now()
      const response = yield* send({ host: "127.0.0.1", port: server.port })
      assert.strictEqual(response.body, "abcde")
      assert.isAtLeast(elapsedSince(start), 95)
    }))

  it.scopedLive("stalls the body after half of it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.stallBody(200))
      // The body never ends, so the caller's timeout does: 2 s, by which the first half is read even on a busy machine.
      const response = yield* fetchEffect(server.url, { signal: AbortSignal.timeout(2_000) })
      const { body, error } = yield* readBody(response)
      assert.deepStrictEqual([response.headers.get("content-length"), body, error?.name], [
        "16",
        "01234567",
        "TimeoutError"
      ])
    }))

  it.scopedLive("destroys the socket mid-body", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.destroyMidBody(200, { body: "abcdef", sent: 2 }))
      const response = yield* fetchEffect(server.url)
      const { body, error } = yield* readBody(response)
      assert.strictEqual(body, "ab")
      assert.isDefined(error)
    }))

  it.scopedLive("destroys the socket before the headers", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.destroyBeforeHeaders())
      const error = yield* Effect.flip(send({ host: "127.0.0.1", port: server.port }))
      assert.strictEqual((error as NodeJS.ErrnoException).code, "ECONNRESET")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.live("close() ends a request that would hang forever", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => TestServer.start(() => TestServer.hang()))
      const pending = yield* Effect.fork(Effect.flip(send({ host: "127.0.0.1", port: server.port })))
      yield* eventually(() => server.requests.length === 1)
      yield* Effect.promise(server.close)
      const error = yield* pending
      assert.strictEqual((error as NodeJS.ErrnoException).code, "ECONNRESET")
      assert.strictEqual(server.openSockets(), 0)
    }))
})

describe("TestServer over https", () => {
  it.scopedLive("the fixture CA trusts the server certificate, not the self-signed one", () =>
    Effect.gen(function*() {
      const trusted = yield* TestServer.makeHttps(() => TestServer.respond(200, { body: "secure" }))
      const untrusted = yield* TestServer.makeHttps(() => TestServer.respond(200), TlsFixtures.selfSigned)
      assert.isTrue(trusted.url.startsWith("https://127.0.0.1:"))
      const ok = yield* send({ protocol: "https:", host: "127.0.0.1", port: trusted.port, ca: TlsFixtures.ca })
      assert.deepStrictEqual([ok.status, ok.body], [200, "secure"])
      const error = yield* Effect.flip(
        send({ protocol: "https:", host: "127.0.0.1", port: untrusted.port, ca: TlsFixtures.ca })
      )
      assert.strictEqual((error as NodeJS.ErrnoException).code, "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.deepStrictEqual([untrusted.connections, untrusted.requests.length], [1, 0])
    }))
})

describe("TestProxy", () => {
  it.scopedLive("tunnels CONNECT to the https server and counts it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.makeHttps(() => TestServer.respond(200, { body: "through" }))
      const proxy = yield* TestProxy.make()
      const authority = `127.0.0.1:${server.port}`
      const { socket, status } = yield* connect(proxy, authority)
      assert.strictEqual(status, 200)
      const response = yield* send({
        protocol: "https:",
        host: "127.0.0.1",
        port: server.port,
        path: "/tunnelled",
        createConnection: () => tls.connect({ socket, host: "127.0.0.1", ca: TlsFixtures.ca })
      })
      assert.deepStrictEqual([response.status, response.body], [200, "through"])
      assert.deepStrictEqual(proxy.requests.map((request) => [request.method, request.target]), [[
        "CONNECT",
        authority
      ]])
      assert.deepStrictEqual([proxy.connections, server.connections], [1, 1])
      assert.strictEqual(server.requests[0].url, "/tunnelled")
    }))

  it.scopedLive("forwards an absolute-form request", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make((request) => TestServer.respond(200, { body: `at ${request.url}` }))
      const proxy = yield* TestProxy.make()
      const response = yield* send({ host: "127.0.0.1", port: proxy.port, path: `${server.url}/hello?x=1` })
      assert.deepStrictEqual([response.status, response.body], [200, "at /hello?x=1"])
      assert.deepStrictEqual(
        proxy.requests.map((request) => [request.method, request.target]),
        [["GET", `127.0.0.1:${server.port}`]]
      )
    }))

  it.scopedLive("asks for credentials when configured", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make(() => TestServer.respond(200))
      const proxy = yield* TestProxy.make({ credentials: { username: "user", password: "p@ss" } })
      const path = `${server.url}/`
      const basic = (credentials: string) => ({
        "proxy-authorization": `Basic ${Buffer.from(credentials).toString("base64")}`
      })
      const missing = yield* send({ host: "127.0.0.1", port: proxy.port, path })
      const wrong = yield* send({ host: "127.0.0.1", port: proxy.port, path, headers: basic("user:nope") })
      const right = yield* send({ host: "127.0.0.1", port: proxy.port, path, headers: basic("user:p@ss") })
      const tunnel = yield* connect(proxy, `127.0.0.1:${server.port}`)
      tunnel.socket.destroy()
      assert.deepStrictEqual([missing.status, wrong.status, right.status, tunnel.status], [407, 407, 200, 407])
      assert.strictEqual(missing.headers["proxy-authenticate"], "Basic realm=\"test\"")
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("refuses targets off loopback", () =>
    Effect.gen(function*() {
      const proxy = yield* TestProxy.make()
      const forwarded = yield* send({ host: "127.0.0.1", port: proxy.port, path: "http://example.com/" })
      const tunnel = yield* connect(proxy, "example.com:443")
      tunnel.socket.destroy()
      assert.deepStrictEqual([forwarded.status, tunnel.status], [403, 403])
    }))
})
