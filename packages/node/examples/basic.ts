/**
 * The Node quick start: one layer, and every request made through `HttpRetry.request` is retried under the policy,
 * with its failures typed. Type-checked by `tsc -b`; never run by the tests (it would reach the network).
 *
 * `HttpRetry.request` is the typed way in: its error channel lists `HttpStatusError` and `TimeoutException` next to
 * the platform's `HttpClientError`, so `Effect.catchTag("HttpStatusError", ...)` compiles. A bare `HttpClient.get`
 * through the same layer is retried too, but `HttpClient.HttpClient`'s type only lists `HttpClientError`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpRetry, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const policy = RetryPolicy.make({ maxAttempts: 3, baseDelay: "250 millis", attemptTimeout: "5 seconds" })

const health = HttpRetry.request(HttpClientRequest.get("https://status.internal.test/health")).pipe(
  Effect.flatMap((response) => response.text),
  Effect.tap((body) => Console.log(`healthy: ${body}`)),
  Effect.catchTag("HttpStatusError", (error) =>
    Console.error(
      `HTTP ${error.status} after ${error.attempts} attempts (${error.reason})` +
        Option.match(error.retryAfter, {
          onNone: () => "",
          onSome: (wait) => `, server asks to wait ${Duration.format(wait)}`
        })
    )),
  Effect.catchTag("TimeoutException", (error) => Console.error(error.message))
)

const program = health.pipe(
  Effect.provide(NodeHttpRetry.layer({
    policy,
    // Trust an internal CA for this layer only (unset: Node's bundled CAs); other clients keep Node's defaults.
    tls: { ca: process.env.INTERNAL_CA_PEM },
    proxy: "env",
    connections: 8,
    keepAliveTimeout: "4 seconds",
    connectTimeout: "3 seconds"
  }))
)

NodeRuntime.runMain(program)
