import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { NodeHttpRetry } from "@http-retry/node"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fileURLToPath } from "node:url"
import { captureLogs, send, serve, serveHttps } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"
import * as TlsFixtures from "./utils/TlsFixtures.js"

// Variables as the environment spells them: `_` between the prefix and the name, as `ConfigProvider.fromEnv` reads.
const provider = (variables: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries(variables)), { pathDelim: "_" })

const fastVariables = { HTTP_RETRY_BASE_DELAY: "20ms", HTTP_RETRY_JITTER: "none" }

const layerFrom = (variables: Record<string, string>) =>
  NodeHttpRetry.layerConfig.pipe(Layer.provide(Layer.setConfigProvider(provider(variables))))

const configFrom = (variables: Record<string, string>) =>
  NodeHttpRetry.config().pipe(Effect.withConfigProvider(provider(variables)))

const caFile = fileURLToPath(new URL("fixtures/ca.pem", import.meta.url))

describe("NodeHttpRetry.layerConfig", () => {
  it.scopedLive("HTTP_RETRY_MAX_ATTEMPTS=2 makes two attempts", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(503))
      const error = yield* Effect.flip(
        send(layerFrom({ ...fastVariables, HTTP_RETRY_MAX_ATTEMPTS: "2" }), HttpClientRequest.get(server.url))
      )
      assert.deepStrictEqual(
        error._tag === "HttpStatusError" ? [error.status, error.attempts, error.reason] : error,
        [503, 2, "AttemptsExhausted"]
      )
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("runs on the transport this test project is for (the platform project's tests reach layerConfig too)", () =>
    Effect.gen(function*() {
      // Node 20's global FormData tells the transports apart: the platform's undici client cannot send it.
      const server = yield* serve(() => TestServer.respond(200, { body: "ok" }))
      const form = new FormData()
      form.append("field", "value")
      const outcome = yield* Effect.either(
        send(layerFrom(fastVariables), HttpClientRequest.post(server.url).pipe(HttpClientRequest.bodyFormData(form)))
      )
      const platform = process.env.HTTP_RETRY_TEST_TRANSPORT === "platform"
      assert.deepStrictEqual(
        outcome._tag === "Right" ? outcome.right : { _tag: outcome.left._tag },
        platform ? { _tag: "RequestError" } : { status: 200, body: "ok" }
      )
      assert.strictEqual(server.requests.length, platform ? 0 : 1)
    }))

  it.effect("with no variable set, the options are the defaults", () =>
    Effect.gen(function*() {
      const options = yield* configFrom({})
      assert.strictEqual(options.policy?.maxAttempts, 4)
      assert.deepStrictEqual(Object.keys(options), ["policy"])
    }))

  it.scopedLive("HTTP_RETRY_TLS_REJECT_UNAUTHORIZED=false turns verification off for this layer, with the warning", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(
        () => TestServer.respond(200, { body: "secure" }),
        TlsFixtures.selfSigned
      )
      const logs = captureLogs()
      const answer = yield* send(
        layerFrom({ ...fastVariables, HTTP_RETRY_TLS_REJECT_UNAUTHORIZED: "false" }),
        HttpClientRequest.get(server.url)
      ).pipe(Effect.provide(logs.layer))
      assert.deepStrictEqual(answer, { status: 200, body: "secure" })
      assert.deepStrictEqual(logs.lines.map((line) => line.level), ["WARN"])
    }))

  it.scopedLive("HTTP_RETRY_CA_FILE trusts the CA in that file, verification on", () =>
    Effect.gen(function*() {
      const server = yield* serveHttps(() => TestServer.respond(200, { body: "secure" }))
      const answer = yield* send(
        layerFrom({ ...fastVariables, HTTP_RETRY_CA_FILE: caFile }),
        HttpClientRequest.get(server.url)
      )
      assert.deepStrictEqual(answer, { status: 200, body: "secure" })
    }))

  it.scopedLive("HTTP_RETRY_TRACING=false: no span per attempt, so no trace headers reach the server", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(200))
      yield* send(layerFrom({}), HttpClientRequest.get(server.url))
      yield* send(layerFrom({ HTTP_RETRY_TRACING: "false" }), HttpClientRequest.get(server.url))
      assert.deepStrictEqual(server.requests.map((request) => typeof request.headers.traceparent), [
        "string",
        "undefined"
      ])
    }))

  it.scopedLive("a bad variable fails the layer with a ConfigError, before any request", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => TestServer.respond(200))
      const error = yield* Effect.flip(
        send(layerFrom({ HTTP_RETRY_PROXY: "bogus" }), HttpClientRequest.get(server.url))
      )
      assert.isTrue(ConfigError.isConfigError(error))
      assert.include(String(error), "HTTP_RETRY_PROXY")
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("NodeHttpRetry.config", () => {
  it.effect("reads every option", () =>
    Effect.gen(function*() {
      const options = yield* configFrom({
        HTTP_RETRY_MAX_ATTEMPTS: "3",
        HTTP_RETRY_PROXY: "http://proxy.internal:3128",
        HTTP_RETRY_TLS_REJECT_UNAUTHORIZED: "no",
        HTTP_RETRY_CA_FILE: caFile,
        HTTP_RETRY_CONNECTIONS: "8",
        HTTP_RETRY_KEEP_ALIVE_TIMEOUT: "2s",
        HTTP_RETRY_CONNECT_TIMEOUT: "500ms",
        HTTP_RETRY_TRACING: "off",
        HTTP_RETRY_TRANSPORT: "platform"
      })
      assert.strictEqual(options.policy?.maxAttempts, 3)
      assert.strictEqual(options.proxy, "http://proxy.internal:3128")
      assert.deepStrictEqual(options.tls, { rejectUnauthorized: false, ca: TlsFixtures.ca })
      assert.strictEqual(options.connections, 8)
      assert.deepStrictEqual(
        [options.keepAliveTimeout, options.connectTimeout].map((d) => Duration.toMillis(d as Duration.Duration)),
        [2_000, 500]
      )
      assert.strictEqual(options.tracing, false)
      assert.strictEqual(options.transport, "platform")
    }))

  it.effect("reads under another prefix", () =>
    Effect.gen(function*() {
      const options = yield* NodeHttpRetry.config("UPSTREAM").pipe(
        Effect.withConfigProvider(provider({ UPSTREAM_MAX_ATTEMPTS: "7", HTTP_RETRY_MAX_ATTEMPTS: "2" }))
      )
      assert.strictEqual(options.policy?.maxAttempts, 7)
    }))

  const failures: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
    [{ HTTP_RETRY_PROXY: "bogus" }, "HTTP_RETRY_PROXY", "expected \"none\", \"env\" or an http(s) proxy URL"],
    [{ HTTP_RETRY_MAX_ATTEMPTS: "zero" }, "HTTP_RETRY_MAX_ATTEMPTS", "expected a whole number, got \"zero\""],
    [{ HTTP_RETRY_MAX_ATTEMPTS: "0" }, "HTTP_RETRY_MAX_ATTEMPTS", "maxAttempts = 0"],
    [{ HTTP_RETRY_CONNECTIONS: "0" }, "HTTP_RETRY_CONNECTIONS", "expected a whole number of at least 1"],
    [{ HTTP_RETRY_TLS_REJECT_UNAUTHORIZED: "maybe" }, "HTTP_RETRY_TLS_REJECT_UNAUTHORIZED", "expected true or false"],
    [{ HTTP_RETRY_KEEP_ALIVE_TIMEOUT: "soon" }, "HTTP_RETRY_KEEP_ALIVE_TIMEOUT", "expected a duration"],
    [{ HTTP_RETRY_CA_FILE: "/no/such/ca.pem" }, "HTTP_RETRY_CA_FILE", "ENOENT"],
    // An empty file (a secret mount that failed) would make Node trust its public CAs instead.
    [
      { HTTP_RETRY_CA_FILE: "/dev/null" },
      "HTTP_RETRY_CA_FILE",
      "\"/dev/null\" holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    ],
    [{ HTTP_RETRY_TRACING: "sometimes" }, "HTTP_RETRY_TRACING", "expected true or false, got \"sometimes\""],
    [{ HTTP_RETRY_TRANSPORT: "fetch" }, "HTTP_RETRY_TRANSPORT", "expected direct or platform, got \"fetch\""],
    // Zero timeouts and durations without a unit fail here, naming the variable and the value, not when the layer
    // is built.
    [
      { HTTP_RETRY_CONNECT_TIMEOUT: "0" },
      "HTTP_RETRY_CONNECT_TIMEOUT",
      "HTTP_RETRY_CONNECT_TIMEOUT=\"0\": a duration needs a unit: write 0s for seconds or 0ms for milliseconds"
    ],
    [
      { HTTP_RETRY_CONNECT_TIMEOUT: "0s" },
      "HTTP_RETRY_CONNECT_TIMEOUT",
      "HTTP_RETRY_CONNECT_TIMEOUT=\"0s\": expected a duration greater than zero"
    ],
    [
      { HTTP_RETRY_KEEP_ALIVE_TIMEOUT: "0ms" },
      "HTTP_RETRY_KEEP_ALIVE_TIMEOUT",
      "HTTP_RETRY_KEEP_ALIVE_TIMEOUT=\"0ms\": expected a duration greater than zero"
    ],
    [
      { HTTP_RETRY_KEEP_ALIVE_TIMEOUT: "4000" },
      "HTTP_RETRY_KEEP_ALIVE_TIMEOUT",
      "write 4000s for seconds or 4000ms for milliseconds"
    ],
    [
      { HTTP_RETRY_ATTEMPT_TIMEOUT: "10" },
      "HTTP_RETRY_ATTEMPT_TIMEOUT",
      "HTTP_RETRY_ATTEMPT_TIMEOUT=\"10\": a duration needs a unit: write 10s for seconds or 10ms for milliseconds"
    ]
  ]
  for (const [variables, path, reason] of failures) {
    const [[name, value]] = Object.entries(variables)
    it.effect(`${name}=${value} fails with a ConfigError naming ${path}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(configFrom(variables))
        assert.isTrue(ConfigError.isConfigError(error))
        assert.deepStrictEqual(error._op === "InvalidData" ? error.path : error, [path])
        assert.include(String(error), `Invalid data at ${path}:`)
        assert.include(String(error), reason)
      }))
  }

  it.effect("two bad variables are both reported", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(configFrom({ HTTP_RETRY_PROXY: "bogus", HTTP_RETRY_MAX_ATTEMPTS: "zero" }))
      assert.include(String(error), "HTTP_RETRY_PROXY")
      assert.include(String(error), "HTTP_RETRY_MAX_ATTEMPTS")
    }))

  it.effect("a bad HTTP_RETRY_PROXY never shows its password", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(configFrom({ HTTP_RETRY_PROXY: "ftp://svc:s3cret-pw@proxy.internal:21" }))
      assert.include(String(error), "HTTP_RETRY_PROXY")
      assert.include(String(error), "only http: and https: proxies")
      assert.notInclude(String(error), "s3cret-pw")
      assert.notInclude(JSON.stringify(error), "s3cret-pw")
    }))
})
