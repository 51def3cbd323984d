/**
 * Secrets through the real Node layer, in every channel a caller's program can print: log lines at every level (as
 * text and as JSON, causes included), the error's message, `JSON.stringify`, `util.inspect`, `String`, its stack and
 * `Cause.pretty`, the response's JSON and inspection, and the attributes of every span. The request carries userinfo,
 * secret query parameters (built-in and named by the policy), Authorization, Cookie, Proxy-Authorization, X-Api-Key and
 * a header named by the policy; the server answers with a Set-Cookie.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Tracer from "effect/Tracer"
import * as util from "node:util"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"

const ledger = Ledger.make("secrets")
afterAll(() => ledger.flush())

const secrets = [
  "u-alice",
  "pw-hunter2",
  "tok-abc",
  "qkey-s3cr3t",
  "sess-s3cr3t",
  "auth-s3cr3t",
  "cookie-s3cr3t",
  "proxy-s3cr3t",
  "apikey-s3cr3t",
  "tenant-s3cr3t",
  "setcookie-s3cr3t"
]

const secretRequest = (url: string) =>
  HttpClientRequest.get(`${url.replace("://", "://u-alice:pw-hunter2@")}/x?token=tok-abc&session=sess-s3cr3t&page=2`)
    .pipe(
      HttpClientRequest.setUrlParam("api_key", "qkey-s3cr3t"),
      HttpClientRequest.setHeaders({
        Authorization: "Bearer auth-s3cr3t",
        Cookie: "c=cookie-s3cr3t",
        "Proxy-Authorization": "Basic proxy-s3cr3t",
        "X-Api-Key": "apikey-s3cr3t",
        "X-Tenant-Secret": "tenant-s3cr3t",
        Accept: "application/json"
      })
    )

const setCookie = { "set-cookie": "sid=setcookie-s3cr3t; HttpOnly" }

const scenarios: ReadonlyArray<readonly [string, Chaos.Script]> = [
  ["503 until the attempts run out (HttpStatusError)", () => Chaos.respond(503, { headers: setCookie })],
  ["400 at once (HttpStatusError)", () => Chaos.respond(400, { headers: setCookie, body: "bad" })],
  ["resets (RequestError)", () => Chaos.resetBeforeHeaders()],
  ["no answer (TimeoutException)", () => Chaos.hang()],
  ["a 200 whose body is cut (ResponseError)", () => Chaos.resetMidBody(200, { headers: setCookie })],
  [
    "a 503 whose body is cut, then a 200",
    Chaos.sequence([Chaos.resetMidBody(503), Chaos.respond(200, { headers: setCookie })])
  ]
]

const levels: ReadonlyArray<RetryPolicy.Logging["level"]> = ["Trace", "Debug", "Info", "Warning", "Error", "Fatal"]

const recordingTracer = (spans: Array<{ readonly name: string; readonly attributes: Map<string, unknown> }>) =>
  Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const attributes = new Map<string, unknown>()
      spans.push({ name, attributes })
      return {
        _tag: "Span",
        name,
        spanId: `span${spans.length}`.padStart(16, "0"),
        traceId: "0".repeat(31) + "1",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links: Array.from(links),
        sampled: true,
        kind,
        end() {},
        attribute(key, value) {
          attributes.set(key, value)
        },
        event(name, _, eventAttributes) {
          attributes.set(`event:${name}`, eventAttributes)
        },
        addLinks() {}
      }
    },
    context: (f) => f()
  })

describe.concurrent("no secret in any channel, through NodeHttpRetry.layer", () => {
  for (const [scenario, script] of scenarios) {
    for (const level of levels) {
      it.scopedLive(`${scenario}, logging at ${level}`, () =>
        Effect.gen(function*() {
          ledger.fault(`secrets with ${scenario}`)
          const server = yield* Chaos.make(script)
          const policy = RetryPolicy.make({
            maxAttempts: 2,
            baseDelay: "10 millis",
            jitter: "none",
            attemptTimeout: "100 millis",
            log: { level, query: true },
            redact: { headers: ["X-Tenant-Secret"], query: ["session"] }
          })
          const lines: Array<string> = []
          const logger = Logger.make((options) => {
            lines.push(Logger.logfmtLogger.log(options), Logger.jsonLogger.log(options))
          })
          const spans: Array<{ readonly name: string; readonly attributes: Map<string, unknown> }> = []
          const exit = yield* ledger.observe(
            HttpClient.HttpClient.pipe(
              Effect.flatMap((client) => client.execute(secretRequest(server.url))),
              Effect.flatMap((response) => Effect.as(response.text, response)),
              Effect.tapErrorCause((cause) => Effect.logError("the call failed", cause)),
              Effect.provide(NodeHttpRetry.layer({ policy })),
              Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
              Logger.withMinimumLogLevel(LogLevel.All),
              Effect.withTracer(recordingTracer(spans))
            )
          )

          const channels: Array<readonly [string, string]> = lines.map((line, i) => [`log line ${i}`, line])
          if (Exit.isFailure(exit)) {
            const error = Cause.squash(exit.cause) as Error
            channels.push(
              ["message", error.message],
              ["JSON.stringify", JSON.stringify(error)],
              ["util.inspect", util.inspect(error, { depth: Infinity })],
              ["String", String(error)],
              ["stack", String(error.stack)],
              ["Cause.pretty", Cause.pretty(exit.cause, { renderErrorCause: true })]
            )
          } else {
            channels.push(
              ["response JSON", JSON.stringify(exit.value)],
              ["response inspect", util.inspect(exit.value, { depth: Infinity })]
            )
          }
          for (const span of spans) {
            channels.push([`span ${span.name}`, util.inspect([span.name, ...span.attributes], { depth: Infinity })])
          }
          assert.isAbove(lines.length, 0, "the policy logged")
          assert.isAbove(spans.length, 0, "the attempts were traced")
          for (const [channel, text] of channels) {
            assert.deepStrictEqual(ledger.scan(text, secrets), [], `${channel}: ${text}`)
          }
          // Not vacuous: the channels do say where the request went.
          assert.isTrue(channels.some(([, text]) => text.includes("127.0.0.1")))
          assert.include(String(spans[0].attributes.get("url.full")), "page=2")
          // And the server did receive every secret: they were redacted on our side only.
          assert.strictEqual(server.requests[0].headers.authorization, "Bearer auth-s3cr3t")
        }))
    }
  }
})
