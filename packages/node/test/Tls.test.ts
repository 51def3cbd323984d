import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import { captureLogs, fast, send, serveHttps } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"
import * as TlsFixtures from "./utils/TlsFixtures.js"

const causeCode = (error: unknown): unknown =>
  Predicate.hasProperty(error, "cause") && Predicate.hasProperty(error.cause, "code") ? error.cause.code : undefined

// Fails the test unless `error` is a transport RequestError whose cause is a certificate verification failure.
const assertTlsFailure = (error: unknown, code: string) => {
  assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
  const requestError = error as HttpClientError.RequestError
  assert.strictEqual(requestError.reason, "Transport")
  assert.strictEqual(causeCode(requestError), code)
  assert.deepStrictEqual(TransportFailure.classify(requestError), { kind: "TlsVerification", code })
}

const ok = TestServer.respond(200, { body: "secure" })

describe("TLS verification", () => {
  it.scopedLive("the default layer rejects a self-signed certificate, without retrying", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok, TlsFixtures.selfSigned)
      const error = yield* Effect.flip(send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url)))
      assertTlsFailure(error, "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.deepStrictEqual([server.connections, server.requests.length], [1, 0])
    }))

  it.scopedLive("the default layer rejects a certificate from a CA it does not know, without retrying", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok)
      const error = yield* Effect.flip(send(NodeHttpRetry.layer({ policy: fast() }), HttpClientRequest.get(server.url)))
      assertTlsFailure(error, "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
      assert.deepStrictEqual([server.connections, server.requests.length], [1, 0])
    }))

  it.scopedLive("rejectUnauthorized: false accepts it, and warns once, when the layer is built", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok, TlsFixtures.selfSigned)
      const logs = captureLogs()
      const bodies = yield* HttpClient.HttpClient.pipe(
        Effect.flatMap((client) =>
          Effect.gen(function*() {
            // Built, not yet used: the warning is already there.
            assert.strictEqual(logs.lines.length, 1)
            const first = yield* Effect.flatMap(client.get(server.url), (response) => response.text)
            const second = yield* Effect.flatMap(client.get(server.url), (response) => response.text)
            return [first, second]
          })
        ),
        Effect.provide(NodeHttpRetry.layer({ policy: fast(), tls: { rejectUnauthorized: false } })),
        Effect.provide(logs.layer)
      )
      assert.deepStrictEqual(bodies, ["secure", "secure"])
      assert.strictEqual(server.requests.length, 2)
      assert.deepStrictEqual(logs.lines.map((line) => line.level), ["WARN"])
      assert.include(logs.lines[0].message, "TLS certificate verification is off")
    }))

  it.scopedLive("verification on logs nothing", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok)
      const logs = captureLogs()
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), tls: { ca: TlsFixtures.ca } }),
        HttpClientRequest.get(server.url)
      ).pipe(Effect.provide(logs.layer))
      assert.deepStrictEqual(answer, { status: 200, body: "secure" })
      assert.deepStrictEqual(logs.lines, [])
    }))

  it.scopedLive("tls.ca trusts the fixture CA with verification on", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok)
      const answer = yield* send(
        NodeHttpRetry.layer({ policy: fast(), tls: { ca: [Buffer.from(TlsFixtures.ca)] } }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "secure" })
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("tls.ca does not accept the unrelated self-signed certificate", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok, TlsFixtures.selfSigned)
      const error = yield* Effect.flip(
        send(NodeHttpRetry.layer({ policy: fast(), tls: { ca: TlsFixtures.ca } }), HttpClientRequest.get(server.url))
      )
      assertTlsFailure(error, "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.deepStrictEqual([server.connections, server.requests.length], [1, 0])
    }))

  it.scopedLive("verification off is per layer: another layer alive in the same process still verifies", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => ok, TlsFixtures.selfSigned)
      const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED
      // Both built in this test's scope, so both dispatchers are alive side by side.
      const insecure = yield* Layer.build(
        NodeHttpRetry.layer({ policy: fast(), tls: { rejectUnauthorized: false } })
      ).pipe(Effect.provide(captureLogs().layer))
      const strict = yield* Layer.build(NodeHttpRetry.layer({ policy: fast() }))
      const get = (context: Context.Context<HttpClient.HttpClient>) =>
        Effect.provide(Effect.flatMap(HttpClient.get(server.url), (response) => response.text), context)
      const verifiedBefore = yield* Effect.flip(get(strict))
      const lenient = yield* get(insecure)
      const verifiedAfter = yield* Effect.flip(get(strict))
      assert.strictEqual(lenient, "secure")
      assertTlsFailure(verifiedBefore, "DEPTH_ZERO_SELF_SIGNED_CERT")
      assertTlsFailure(verifiedAfter, "DEPTH_ZERO_SELF_SIGNED_CERT")
      // Node's own clients are untouched too, and so is the process-wide switch.
      const viaFetch = yield* Effect.flip(Effect.tryPromise(() => fetch(server.url)))
      assert.strictEqual(causeCode(viaFetch.error), "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.strictEqual(process.env.NODE_TLS_REJECT_UNAUTHORIZED, before)
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(server.connections, 4)
    }))
})
