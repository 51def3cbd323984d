/**
 * Bad input, each answered with a typed error that names the bad value, never a crash, a hang or a silent default,
 * and never retried: every policy field out of range (through `NodeHttpRetry.layer`'s options, and through
 * `HttpRetry.request` and `withPolicy` over the Node layer), relative and malformed URLs, unsupported schemes, headers
 * that cannot be sent, and bad environment variables. The server counts what reaches it: nothing.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { HttpRetry, RetryPolicy, TransportFailure } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as util from "node:util"
import { captureLogs, send } from "../harness.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"

const ledger = Ledger.make("badInput")
afterAll(() => ledger.flush())

/** Calls `f`, which must throw; counts the bad input as a call ended with a typed error if the throw is one. */
const thrown = (name: string, f: () => unknown): unknown => {
  ledger.fault(name)
  try {
    f()
  } catch (error) {
    const exit = Exit.fail(error)
    ledger.end(Ledger.endOf(exit))
    return error
  }
  ledger.end("lost")
  return assert.fail(`${name}: accepted`)
}

// Options as an untyped caller (JavaScript, JSON, a config file) might pass them.
const loose = (options: Record<string, unknown>) => options as RetryPolicy.Options

const policyFields: ReadonlyArray<readonly [string, RetryPolicy.Options, string]> = [
  ["maxAttempts", { maxAttempts: 0 }, "0"],
  ["maxAttempts", { maxAttempts: -3 }, "-3"],
  ["maxAttempts", { maxAttempts: 2.5 }, "2.5"],
  ["maxAttempts", { maxAttempts: Number.NaN }, "NaN"],
  ["maxAttempts", { maxAttempts: Number.POSITIVE_INFINITY }, "Infinity"],
  ["maxElapsed", { maxElapsed: 0 }, "0"],
  ["maxElapsed", { maxElapsed: "forever" as never }, "forever"],
  ["baseDelay", { baseDelay: -5 }, "-5"],
  ["factor", { factor: 0.5 }, "0.5"],
  ["factor", { factor: Number.NaN }, "NaN"],
  ["maxDelay", { maxDelay: "-1 seconds" as never }, "-1 seconds"],
  ["jitter", loose({ jitter: "half" }), "half"],
  ["attemptTimeout", { attemptTimeout: 0 }, "0"],
  ["attemptTimeout", { attemptTimeout: "1 fortnight" as never }, "1 fortnight"],
  ["retryOn.statuses[0]", { retryOn: { statuses: [200] } }, "200"],
  ["retryOn.statuses[1]", { retryOn: { statuses: [503, 600] } }, "600"],
  ["retryOn.statuses[0]", loose({ retryOn: { statuses: ["6xx"] } }), "6xx"],
  ["retryOn.transport", loose({ retryOn: { transport: "yes" } }), "yes"],
  ["methods[0]", { methods: ["FETCH"] }, "FETCH"],
  ["retryAfter", loose({ retryAfter: "sometimes" }), "sometimes"],
  ["maxRetryAfter", { maxRetryAfter: -1 }, "-1"],
  ["log", loose({ log: "Verbose" }), "Verbose"],
  ["redact.headers[0]", { redact: { headers: ["x tenant"] } }, "x tenant"],
  ["maxAttempt", loose({ maxAttempt: 3 }), "3"]
]

describe("a policy field out of range", () => {
  it("is a RetryPolicyError naming the field and the value, where NodeHttpRetry.layer's policy is written", () => {
    for (const [field, options, shown] of policyFields) {
      const error = thrown(
        `policy ${field} = ${shown}`,
        () => NodeHttpRetry.layer({ policy: RetryPolicy.make(options) })
      )
      assert.instanceOf(error, RetryPolicy.RetryPolicyError, field)
      const policyError = error as RetryPolicy.RetryPolicyError
      assert.strictEqual(policyError.field, field)
      assert.include(policyError.message, `Invalid retry policy: ${field} = `)
      assert.include(policyError.message, shown)
    }
  })

  it.scopedLive("thrown by HttpRetry.request and HttpRetry.withPolicy where they are called: no request is made", () =>
    Effect.gen(function*() {
      const server = yield* Chaos.make(() => Chaos.respond(200))
      const context = yield* Layer.build(NodeHttpRetry.layer())
      for (const [field, options, shown] of policyFields) {
        const viaRequest = thrown(
          `policy ${field} = ${shown}`,
          () => HttpRetry.request(HttpClientRequest.get(server.url), options)
        )
        const viaWithPolicy = thrown(
          `policy ${field} = ${shown}`,
          () => HttpRetry.withPolicy(Effect.provide(HttpClient.get(server.url), context), options)
        )
        for (const error of [viaRequest, viaWithPolicy]) {
          assert.instanceOf(error, RetryPolicy.RetryPolicyError)
          assert.strictEqual((error as RetryPolicy.RetryPolicyError).field, field)
        }
      }
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("a request that cannot be sent", () => {
  const logged = RetryPolicy.make({ baseDelay: "10 millis", jitter: "none", log: "Debug" })

  const cases: ReadonlyArray<
    readonly [
      name: string,
      request: (origin: string) => HttpClientRequest.HttpClientRequest,
      expected: { readonly reason: string; readonly kind?: string; readonly names: string; readonly hides?: string }
    ]
  > = [
    ["a relative URL", () => HttpClientRequest.get("/items?page=2"), { reason: "InvalidUrl", names: "/items" }],
    ["a URL without a scheme", (origin) => HttpClientRequest.get(origin.replace("http://", "")), {
      reason: "InvalidUrl",
      names: "127.0.0.1"
    }],
    ["a malformed host", () => HttpClientRequest.get("http://[::1/items"), { reason: "InvalidUrl", names: "[::1" }],
    ["a space in the host", () => HttpClientRequest.get("http://api internal/items"), {
      reason: "InvalidUrl",
      names: "api internal"
    }],
    ["a port out of range", () => HttpClientRequest.get("http://127.0.0.1:99999/"), {
      reason: "InvalidUrl",
      names: "99999"
    }],
    ["an empty URL", () => HttpClientRequest.get(""), { reason: "InvalidUrl", names: "GET" }],
    ["an ftp: URL", (origin) => HttpClientRequest.get(`${origin.replace("http:", "ftp:")}/file`), {
      reason: "Transport",
      kind: "InvalidRequest",
      names: "ftp://127.0.0.1"
    }],
    ["a file: URL", () => HttpClientRequest.get("file:///etc/passwd"), {
      reason: "Transport",
      kind: "InvalidRequest",
      names: "file:///etc/passwd"
    }],
    ["a header value with a newline", (origin) =>
      HttpClientRequest.get(origin).pipe(
        HttpClientRequest.setHeader("x-note", "line one\r\nInjected: yes")
      ), { reason: "Transport", kind: "InvalidRequest", names: "x-note", hides: "Injected" }],
    ["an Authorization with a newline", (origin) =>
      HttpClientRequest.get(origin).pipe(
        HttpClientRequest.setHeader("authorization", "Bearer tok-s3cr3t\n")
      ), { reason: "Transport", kind: "InvalidRequest", names: "authorization", hides: "tok-s3cr3t" }],
    // undici does not name a bad header name, only says it is one.
    [
      "a header name with a space",
      (origin) => HttpClientRequest.get(origin).pipe(HttpClientRequest.setHeader("x bad", "1")),
      {
        reason: "Transport",
        kind: "InvalidRequest",
        names: "invalid header key"
      }
    ],
    [
      "a header value with a NUL",
      (origin) => HttpClientRequest.get(origin).pipe(HttpClientRequest.setHeader("x-nul", "a\u0000b")),
      {
        reason: "Transport",
        kind: "InvalidRequest",
        names: "x-nul"
      }
    ]
  ]

  for (const [name, request, expected] of cases) {
    it.scopedLive(`${name}: RequestError (${expected.kind ?? expected.reason}) naming ${expected.names}, not retried`, () =>
      Effect.gen(function*() {
        ledger.fault(name)
        const server = yield* Chaos.make(() => Chaos.respond(200))
        const logs = captureLogs()
        const exit = yield* ledger.observe(
          send(NodeHttpRetry.layer({ policy: logged }), request(server.url)).pipe(
            Effect.provide(logs.layer),
            Logger.withMinimumLogLevel(LogLevel.Debug)
          )
        )
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.isTrue(HttpClientError.isHttpClientError(error) && error._tag === "RequestError", String(error))
        const requestError = error as HttpClientError.RequestError
        assert.strictEqual(requestError.reason, expected.reason)
        if (expected.kind !== undefined) {
          assert.strictEqual(TransportFailure.classify(requestError)?.kind, expected.kind)
        }
        const shown = `${requestError.message} ${requestError.cause instanceof Error ? requestError.cause.message : ""}`
        assert.include(shown, expected.names)
        if (expected.hides !== undefined) {
          for (const text of [shown, JSON.stringify(requestError), util.inspect(requestError)]) {
            assert.deepStrictEqual(ledger.scan(text, [expected.hides]), [])
          }
        }
        // Never retried: the one attempt, logged as given up.
        assert.strictEqual(logs.lines.length, 1)
        assert.match(logs.lines[0].message, /attempt 1\/4 -> .*giving up: NotRetryable$/)
        assert.deepStrictEqual([server.connections, server.requests.length], [0, 0])
      }))
  }
})

describe("invalid environment configuration", () => {
  const variables: ReadonlyArray<readonly [string, string, string]> = [
    ["HTTP_RETRY_MAX_ATTEMPTS", "-1", "-1"],
    ["HTTP_RETRY_BASE_DELAY", "fast", "fast"],
    ["HTTP_RETRY_MAX_ELAPSED", "0", "0"],
    ["HTTP_RETRY_FACTOR", "x2", "x2"],
    ["HTTP_RETRY_JITTER", "half", "half"],
    ["HTTP_RETRY_ATTEMPT_TIMEOUT", "10 parsecs", "10 parsecs"],
    ["HTTP_RETRY_STATUSES", "503,2xx", "2xx"],
    ["HTTP_RETRY_METHODS", "GET,FETCH", "FETCH"],
    ["HTTP_RETRY_RETRY_AFTER", "sometimes", "sometimes"],
    ["HTTP_RETRY_MAX_RETRY_AFTER", "-5s", "-5s"],
    ["HTTP_RETRY_PROXY", "socks5://proxy.internal:1080", "only http: and https: proxies"],
    ["HTTP_RETRY_CONNECT_TIMEOUT", "soon", "soon"]
  ]
  for (const [name, value, shown] of variables) {
    it.scopedLive(`${name}=${value}: a ConfigError naming the variable and ${shown}, before any request`, () =>
      Effect.gen(function*() {
        ledger.fault(`${name}=${value}`)
        const server = yield* Chaos.make(() => Chaos.respond(200))
        const exit = yield* ledger.observe(
          send(NodeHttpRetry.layerConfig, HttpClientRequest.get(server.url)).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map([[name, value]])))
          )
        )
        assert.isTrue(Exit.isFailure(exit))
        const text = Exit.isFailure(exit) ? String(Cause.squash(exit.cause)) : ""
        assert.include(text, name)
        assert.include(text, shown)
        assert.deepStrictEqual([server.connections, server.requests.length], [0, 0])
      }))
  }
})
