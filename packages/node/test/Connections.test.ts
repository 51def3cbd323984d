import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { eventually, fast, noProxyEnv, send, serve, silentListener, timed, withEnv } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

const connectionIds = (server: TestServer.TestServer) => server.requests.map((request) => request.connectionId)

describe("keep-alive", () => {
  // As undici's body.dump(): a failed body up to maxDrainBytes (128 KiB by default) is read to its end and the
  // connection reused, whatever the wait before the next attempt.
  for (const backoff of ["0 millis", "10 millis"] as const) {
    for (const [name, size] of [["1 KB", 1000], ["128 KiB", 128 * 1024]] as const) {
      it.scopedLive(`503, 503, 200 with ${name} bodies and a ${backoff} backoff travel on one connection`, () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([
            TestServer.respond(503, { body: "x".repeat(size) }),
            TestServer.respond(503, { body: "y".repeat(size) }),
            TestServer.respond(200, { body: "ok" })
          ]))
          const answer = yield* send(
            NodeHttpRetry.layer({ policy: fast({ baseDelay: backoff, factor: 1 }) }),
            HttpClientRequest.get(server.url)
          )
          assert.deepStrictEqual(answer, { status: 200, body: "ok" })
          assert.deepStrictEqual(connectionIds(server), [1, 1, 1])
          assert.strictEqual(server.connections, 1)
        }))
    }
  }

  // undici takes a connection back one turn of the event loop after its response ends, so a call started right after
  // another call's answer opens a connection of its own (with or without a retry, as undici.request does; node:http's
  // agent frees its socket at once). A retry waits at least one timer after its drain, so it never does: at N calls in
  // flight every connection is opened by a call's first attempt.
  for (const backoff of ["0 millis", "10 millis"] as const) {
    it.scopedLive(`16 calls in flight, each 503, 503, 200 with a ${backoff} backoff: no retry opens a connection`, () =>
      Effect.gen(function*() {
        const CALLS = 16
        const attempts = new Map<string, number>()
        const server = yield* serve((request) => {
          const n = (attempts.get(request.url) ?? 0) + 1
          attempts.set(request.url, n)
          return n <= 2 ? TestServer.respond(503, { body: "x".repeat(1000) }) : TestServer.respond(200, { body: "ok" })
        })
        const answers = yield* HttpClient.HttpClient.pipe(
          Effect.flatMap((client) =>
            Effect.forEach(
              Array.from({ length: CALLS }, (_, i) => i),
              (i) => Effect.flatMap(client.get(`${server.url}/call/${i}`), (response) => response.text),
              { concurrency: "unbounded" }
            )
          ),
          Effect.provide(NodeHttpRetry.layer({ policy: fast({ baseDelay: backoff, factor: 1 }) }))
        )
        assert.deepStrictEqual(answers, Array.from({ length: CALLS }, () => "ok"))
        assert.strictEqual(server.requests.length, 3 * CALLS)
        // Which attempt of its call opened each connection: the first request seen on it.
        const seen = new Map<string, number>()
        const opened: Array<number> = []
        for (const request of server.requests) {
          const n = (seen.get(request.url) ?? 0) + 1
          seen.set(request.url, n)
          if (opened[request.connectionId] === undefined) opened[request.connectionId] = n
        }
        assert.deepStrictEqual(opened.filter((n) => n !== undefined), Array.from({ length: CALLS }, () => 1))
        assert.strictEqual(server.connections, CALLS)
      }))
  }

  it.scopedLive("maxDrainBytes sets the limit: a 100 KiB body over a 16 KiB limit is cut off, its connection closed", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(503, { body: "x".repeat(100 * 1024) }),
        TestServer.respond(200, { body: "ok" })
      ]))
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast({ maxDrainBytes: 16 * 1024 }) }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "ok" })
      assert.notStrictEqual(connectionIds(server)[1], connectionIds(server)[0])
    }))

  it.scopedLive("a failed attempt's body over 128 KiB is cut off instead: the retry needs a new connection", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(503, { body: "x".repeat(1024 * 1024) }),
        TestServer.respond(200, { body: "ok" })
      ]))
      const answer = yield* send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(answer, { status: 200, body: "ok" })
      // Cutting the body off aborts the request and destroys its socket; undici reconnects at once after an abort and
      // drops that idle socket again, hence three connections for two requests.
      assert.deepStrictEqual(connectionIds(server), [1, 3])
      assert.strictEqual(server.connections, 3)
    }))
})

describe("connection options", () => {
  const fiveAtOnce = (server: TestServer.TestServer) =>
    HttpClient.HttpClient.pipe(
      Effect.flatMap((client) =>
        Effect.forEach(
          [1, 2, 3, 4, 5],
          (i) => Effect.flatMap(client.get(`${server.url}/${i}`), (response) => response.text),
          { concurrency: "unbounded" }
        )
      )
    )

  it.scopedLive("connections: 1 queues 5 concurrent requests on a single connection", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => TestServer.respond(200, { body: request.url, delay: 30 }))
      const bodies = yield* Effect.provide(fiveAtOnce(server), NodeHttpRetry.layer({ policy: fast(), connections: 1 }))
      assert.deepStrictEqual(bodies, ["/1", "/2", "/3", "/4", "/5"])
      assert.strictEqual(server.requests.length, 5)
      assert.strictEqual(server.connections, 1)
    }))

  it.scopedLive("without it, 5 concurrent requests open 5 connections", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => TestServer.respond(200, { body: request.url, delay: 30 }))
      const bodies = yield* Effect.provide(fiveAtOnce(server), NodeHttpRetry.layer({ policy: fast() }))
      assert.deepStrictEqual(bodies, ["/1", "/2", "/3", "/4", "/5"])
      assert.strictEqual(server.connections, 5)
    }))

  it.scopedLive("connectTimeout bounds the TLS handshake; the timeout is retried, then a RequestError", () =>
    Effect.gen(function*() {
      const listener = yield* silentListener
      const [error, elapsed] = yield* timed(Effect.flip(send(
        NodeHttpRetry.layer({ policy: fast({ maxAttempts: 2 }), connectTimeout: "100 millis" }),
        HttpClientRequest.get(`https://127.0.0.1:${listener.port}/`)
      )))
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError")
      const requestError = error as HttpClientError.RequestError
      assert.deepStrictEqual(TransportFailure.classify(requestError), {
        kind: "Timeout",
        code: "UND_ERR_CONNECT_TIMEOUT"
      })
      assert.strictEqual(listener.connections, 2)
      // Two handshakes of at least 100 ms and a 20 ms backoff, far below the 10 s attemptTimeout. undici checks
      // connect timeouts on a coarse timer (a tick every ~500 ms), so each may run up to ~1 s.
      assert.isAtLeast(elapsed, 215)
      // Below what one 10 s attempt timeout would take, with room for a loaded machine.
      assert.isBelow(elapsed, 8_000)
      yield* eventually(() => listener.openSockets() === 0)
    }))

  it.scopedLive("connectTimeout bounds the connection to an https proxy too, its handshake included", () =>
    Effect.gen(function*() {
      const listener = yield* silentListener
      const server = yield* serve(() => TestServer.respond(200, { body: "ok" }))
      yield* withEnv(noProxyEnv)
      const [error, elapsed] = yield* timed(Effect.flip(send(
        NodeHttpRetry.layer({
          policy: fast({ maxAttempts: 1, attemptTimeout: "8 seconds" }),
          connectTimeout: "100 millis",
          proxy: `https://127.0.0.1:${listener.port}`
        }),
        HttpClientRequest.get(server.url)
      )))
      // undici's own 10 s before, so the attempt's 8 s timeout ended it; now the connect timeout, within ~1 s.
      assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
      assert.deepStrictEqual(TransportFailure.classify(error as HttpClientError.RequestError), {
        kind: "Timeout",
        code: "UND_ERR_CONNECT_TIMEOUT"
      })
      // Below the attempt's 8 s, with room for a loaded machine.
      assert.isBelow(elapsed, 6_000)
      assert.strictEqual(server.requests.length, 0)
      yield* eventually(() => listener.openSockets() === 0)
    }))

  it.scopedLive("keepAliveTimeout closes an idle connection while the layer is still open", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(200, { body: "ok" }))
      const [, closedAfter] = yield* Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        yield* Effect.flatMap(client.get(server.url), (response) => response.text)
        assert.strictEqual(server.openSockets(), 1)
        return yield* timed(eventually(() => server.openSockets() === 0))
      }).pipe(Effect.provide(NodeHttpRetry.layer({ policy: fast(), keepAliveTimeout: "200 millis" })))
      assert.isAtLeast(closedAfter, 150)
      // Well before undici's default 4 s: this option closed it.
      assert.isBelow(closedAfter, 3_000)
    }))
})

describe("the layer's scope", () => {
  it.scopedLive("closing it closes the dispatcher: no socket is left open", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(200, { body: "ok" }))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(NodeHttpRetry.layer({ policy: fast() }), scope)
      const client = yield* Effect.provide(HttpClient.HttpClient, context)
      for (let i = 0; i < 3; i++) {
        yield* Effect.flatMap(client.get(server.url), (response) => response.text)
        // undici reuses a connection only once a macrotask has passed since its previous response.
        yield* Effect.sleep("10 millis")
      }
      // The idle keep-alive connection stays open while the layer lives...
      yield* Effect.sleep("50 millis")
      assert.deepStrictEqual([server.connections, server.openSockets()], [1, 1])
      yield* Scope.close(scope, Exit.void)
      // ...and is gone once its scope closes (well before the 4 s keep-alive would close it; the server sees the close
      // a turn of its loop later).
      yield* eventually(() => server.openSockets() === 0, 2_000)
    }))

  it.scopedLive("Effect.provide closes it when the program ends, even after a failure", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([200, 404]))
      const layer = NodeHttpRetry.layer({ policy: fast() })
      const answer = yield* send(layer, HttpClientRequest.get(server.url))
      assert.strictEqual(answer.status, 200)
      yield* eventually(() => server.openSockets() === 0, 2_000)
      const error = yield* Effect.flip(send(layer, HttpClientRequest.get(server.url)))
      assert.strictEqual(error._tag, "HttpStatusError")
      yield* eventually(() => server.openSockets() === 0, 2_000)
      assert.strictEqual(server.connections, 2)
    }))
})
