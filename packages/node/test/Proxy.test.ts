import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import { eventually, fast, noProxyEnv, send, serve, serveHttps, serveProxy, withEnv } from "./harness.js"
import type * as TestProxy from "./utils/TestProxy.js"
import * as TestServer from "./utils/TestServer.js"
import * as TlsFixtures from "./utils/TlsFixtures.js"

const ok = TestServer.respond(200, { body: "upstream" })

const seen = (proxy: TestProxy.TestProxy) => proxy.requests.map((request) => `${request.method} ${request.target}`)

const authority = (server: TestServer.TestServer) => `127.0.0.1:${server.port}`

describe("proxy: a URL", () => {
  it.scopedLive("goes through the proxy: it tunnels the request (CONNECT) to the server", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv(noProxyEnv)
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: proxy.url }),
        HttpClientRequest.get(`${server.url}/via`)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
      assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
      assert.deepStrictEqual(server.requests.map((request) => request.url), ["/via"])
      yield* eventually(() => proxy.openSockets() === 0 && server.openSockets() === 0)
    }))

  for (const backoff of ["0 millis", "10 millis"] as const) {
    for (const [name, size] of [["1 KB", 1000], ["128 KiB", 128 * 1024]] as const) {
      it.scopedLive(`retries go through it too: 503, 503, 200 with ${name} bodies, ${backoff} apart, over one tunnel`, () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([
            TestServer.respond(503, { body: "x".repeat(size) }),
            TestServer.respond(503, { body: "y".repeat(size) }),
            ok
          ]))
          const proxy = yield* serveProxy()
          const answer = yield* send(
            NodeHttpRetry.layer({ policy: fast({ baseDelay: backoff, factor: 1 }), proxy: proxy.url }),
            HttpClientRequest.get(server.url)
          )
          assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
          assert.strictEqual(server.requests.length, 3)
          assert.deepStrictEqual([proxy.connections, server.connections], [1, 1])
          assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
        }))
    }
  }

  // A user alone (a token) is sent as curl sends it: Basic of "user:".
  for (
    const [name, username, password] of [
      ["sends the credentials in the URL as Proxy-Authorization", "svc", "p@ss word"],
      ["a user with no password (a token) is sent as curl sends it: Basic of \"user:\"", "tok-123", ""]
    ] as const
  ) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const server = yield* serve(() => ok)
        const proxy = yield* serveProxy({ credentials: { username, password } })
        const url = new URL(proxy.url)
        url.username = username
        url.password = password
        const answer = yield* send(
          NodeHttpRetry.layer({ policy: fast(), proxy: url.href }),
          HttpClientRequest.get(server.url)
        )
        assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
        assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
        assert.strictEqual(
          proxy.requests[0].headers["proxy-authorization"],
          `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`
        )
        // The proxy's credentials never reach the server.
        assert.isUndefined(server.requests[0].headers["proxy-authorization"])
      }))
  }

  it.scopedLive("wrong credentials: the proxy refuses (407) and the request fails at once with a RequestError", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy({ credentials: { username: "svc", password: "right" } })
      const url = new URL(proxy.url)
      url.username = "svc"
      url.password = "wrong"
      const error = yield* Effect.flip(send(
        NodeHttpRetry.layer({ policy: fast({ maxAttempts: 2 }), proxy: url.href }),
        HttpClientRequest.get(server.url)
      ))
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
      assert.notInclude(String(error), "wrong")
      assert.strictEqual(server.requests.length, 0)
      // Credentials that were refused once will be refused again: no second CONNECT.
      assert.strictEqual(TransportFailure.classify(error as HttpClientError.RequestError)?.kind, "ProxyAuthentication")
      assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
    }))

  it.scopedLive("a proxy that drops the tunnel: one CONNECT per attempt, retried on the backoff, not a reconnect loop", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy({ dropTunnels: true })
      const error = yield* Effect.flip(send(
        NodeHttpRetry.layer({ policy: fast({ maxAttempts: 3, attemptTimeout: "2 seconds" }), proxy: proxy.url }),
        HttpClientRequest.get(server.url)
      ))
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
      assert.strictEqual(TransportFailure.classify(error as HttpClientError.RequestError)?.kind, "ConnectionReset")
      assert.deepStrictEqual(seen(proxy), Array.from({ length: 3 }, () => `CONNECT ${authority(server)}`))
      assert.strictEqual(server.requests.length, 0)
    }))

  it.scopedLive("tls applies to the upstream: an https server behind the proxy is verified with tls.ca", () =>
    Effect.gen(function*() {
      const trusted = yield* serveHttps(() => ok)
      const untrusted = yield* serveHttps(() => ok, TlsFixtures.selfSigned)
      const proxy = yield* serveProxy()
      const layer = NodeHttpRetry.layer({ policy: fast(), proxy: proxy.url, tls: { ca: TlsFixtures.ca } })
      const answer = yield* send(layer, HttpClientRequest.get(trusted.url))
      assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
      const error = yield* Effect.flip(send(layer, HttpClientRequest.get(untrusted.url)))
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
      assert.deepStrictEqual(TransportFailure.classify(error as HttpClientError.RequestError), {
        kind: "TlsVerification",
        code: "DEPTH_ZERO_SELF_SIGNED_CERT"
      })
      // Not retried: one tunnel to the untrusted server, no request on it.
      assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(trusted)}`, `CONNECT ${authority(untrusted)}`])
      assert.deepStrictEqual([untrusted.connections, untrusted.requests.length], [1, 0])
    }))
})

describe("proxy: the request sent through it", () => {
  it.scopedLive("is left as it was: a template request sent to another origin carries that origin's Host", () =>
    Effect.gen(function*() {
      const a = yield* serve(() => ok)
      const b = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv(noProxyEnv)
      // With tracing off the platform hands the request's own headers to the transport: undici's proxy agent wrote
      // a Host header into them.
      const template = HttpClientRequest.get(`${a.url}/a`).pipe(HttpClientRequest.setHeader("x-template", "1"))
      yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        yield* Effect.flatMap(client.execute(template), (response) => response.text)
        assert.isUndefined(template.headers["host"])
        yield* Effect.flatMap(
          client.execute(HttpClientRequest.setUrl(template, `${b.url}/b`)),
          (response) => response.text
        )
      }).pipe(Effect.provide(NodeHttpRetry.layer({ policy: fast(), proxy: proxy.url, tracing: false })))
      assert.strictEqual(a.requests[0].headers["host"], authority(a))
      assert.strictEqual(b.requests[0].headers["host"], authority(b))
    }))
})

describe("proxy: \"none\"", () => {
  it.scopedLive("ignores HTTP_PROXY in the environment", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv({ ...noProxyEnv, HTTP_PROXY: proxy.url, http_proxy: proxy.url })
      const explicit = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: "none" }),
        HttpClientRequest.get(server.url)
      )
      const byDefault = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual([explicit.status, byDefault.status], [200, 200])
      assert.strictEqual(server.requests.length, 2)
      assert.deepStrictEqual([proxy.connections, proxy.requests.length], [0, 0])
    }))
})

describe("proxy: \"env\"", () => {
  it.scopedLive("honours HTTP_PROXY", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      // Set before the layer is built: undici reads HTTP_PROXY when the dispatcher is made.
      yield* withEnv({ ...noProxyEnv, HTTP_PROXY: proxy.url })
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: "env" }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
      assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("honours NO_PROXY: with NO_PROXY=127.0.0.1 the proxy sees nothing", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv({ ...noProxyEnv, HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" })
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: "env" }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
      assert.strictEqual(server.requests.length, 1)
      assert.deepStrictEqual([proxy.connections, proxy.requests.length], [0, 0])
    }))

  it.scopedLive("honours HTTPS_PROXY for an https server, verified with tls.ca", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv({ ...noProxyEnv, HTTPS_PROXY: proxy.url })
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: "env", tls: { ca: TlsFixtures.ca } }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "upstream" })
      assert.deepStrictEqual(seen(proxy), [`CONNECT ${authority(server)}`])
    }))

  it.scopedLive("with no proxy variable set, connects directly", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ok)
      const proxy = yield* serveProxy()
      yield* withEnv(noProxyEnv)
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), proxy: "env" }),
        HttpClientRequest.get(server.url)
      )
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual([proxy.connections, server.connections], [0, 1])
    }))
  it.scopedLive("a variable that is not an http(s) URL: a NodeHttpRetryOptionsError naming it, its password hidden", () =>
    Effect.gen(function*() {
      for (
        const [name, value] of [
          ["HTTPS_PROXY", "proxy.corp:3128"],
          ["HTTP_PROXY", "proxy.corp"],
          ["https_proxy", "ftp://svc:s3cr3t@proxy.corp:21"],
          // undici's http(s) proxy agents refuse a path or a query ("invalid url", a defect when the layer is built).
          ["HTTP_PROXY", "http://proxy.corp:3128/?token=s3cr3t"],
          ["http_proxy", "http://svc:s3cr3t@proxy.corp:3128/squid"]
        ] as const
      ) {
        yield* withEnv({ ...noProxyEnv, [name]: value })
        try {
          NodeHttpRetry.layerClient({ proxy: "env" })
          assert.fail(`${name}=${value}: expected a NodeHttpRetryOptionsError`)
        } catch (error) {
          assert.instanceOf(error, NodeHttpRetry.NodeHttpRetryOptionsError, `${name}=${value}`)
          const typed = error as NodeHttpRetry.NodeHttpRetryOptionsError
          assert.strictEqual(typed.field, "proxy")
          assert.include(typed.message, name)
          assert.notInclude(typed.message, "s3cr3t")
        }
      }
      // undici's proxy agents take SOCKS too: accepted, as undici accepts it.
      yield* withEnv({ ...noProxyEnv, HTTPS_PROXY: "socks5://proxy.corp:1080" })
      NodeHttpRetry.layerClient({ proxy: "env" })
    }))
})
