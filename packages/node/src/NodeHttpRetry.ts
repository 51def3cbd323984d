/**
 * The Node platform layer: `@effect/platform-node`'s undici under the core's
 * retry, with TLS, proxy and connection options per layer (never
 * process-wide).
 *
 * @since 0.1.0
 */
import type * as Undici from "@effect/platform-node/Undici"
import type * as HttpClient from "@effect/platform/HttpClient"
import type { CircuitBreaker, RetryBudget, RetryPolicy } from "@http-retry/core"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/nodeHttpRetry.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  /** Verify the server's certificate (default `true`). `false` logs one warning when the layer is built. */
  readonly rejectUnauthorized?: boolean | undefined
  /** Trusted CA certificates (PEM), replacing Node's bundled list for this client. */
  readonly ca?: string | Buffer | Array<string | Buffer> | undefined
}

/**
 * The options of the client itself: the dispatcher and the transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Certificate verification and trusted CAs for this layer's connections only. */
  readonly tls?: TlsOptions | undefined
  /**
   * `"none"` (default): connect directly and ignore HTTP_PROXY and friends;
   * `"env"`: HTTP_PROXY / HTTPS_PROXY / NO_PROXY, through undici's
   * `EnvHttpProxyAgent`; or a proxy URL (`http://user:pass@proxy:3128`),
   * through undici's `ProxyAgent`. Through a proxy, `tls` applies to the
   * upstream server.
   */
  readonly proxy?: "none" | "env" | (string & {}) | undefined
  /** Connections per origin (default: unlimited, as undici). */
  readonly connections?: number | undefined
  /** How long an idle keep-alive socket is kept (default 4 seconds). */
  readonly keepAliveTimeout?: Duration.DurationInput | undefined
  /** Timeout to establish a connection, TLS included (default 10 seconds). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * What sends each request over the undici dispatcher.
   *
   * `"direct"` (default): this package's own `HttpClient` over the
   * dispatcher, built on the platform's `HttpClient.make` as
   * `NodeHttpClient.makeUndici` is (the same span, trace headers,
   * `withScope`, interruption and `NodeHttpClient.UndiciRequestOptions`). It
   * makes the same undici call and answers with the same
   * `HttpClientResponse` interface, with less work around each request:
   * response headers converted once, the body read straight from undici, and
   * the attempt timeout as one native timer.
   *
   * `"platform"`: `@effect/platform-node`'s `NodeHttpClient.makeUndici`
   * itself; the retry bounds its attempts itself (a fiber of its own interrupted by
   * a timer, which aborts the request).
   */
  readonly transport?: "direct" | "platform" | undefined
}

/**
 * The client's options and the retry's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ClientOptions {
  /** Default `RetryPolicy.defaults`. */
  readonly policy?: RetryPolicy.RetryPolicy | undefined
  /**
   * `false`: no span per attempt and no trace headers (the lean path, for
   * untraced hot loops). Default `true`.
   */
  readonly tracing?: boolean | undefined
  /**
   * A retry budget per origin (`RetryBudget`, gRPC's retryThrottling), off by
   * default: `true` or `{ maxTokens, tokenRatio }` (default 100 and 0.1)
   * turns it on. The layer uses the `RetryBudget` provided to it if there is
   * one (`RetryBudget.layer`, `@http-retry/redis`), and otherwise keeps one in
   * this process. A bad number throws a `RetryPolicyError` naming it
   * (`budget.maxTokens`), as a bad policy does.
   */
  readonly budget?: boolean | RetryBudget.Options | undefined
  /**
   * `true` or options: a circuit breaker per origin (see `CircuitBreaker`):
   * the `CircuitBreaker` service in the layer's context when one is provided,
   * otherwise one made for this layer. A bad option throws a
   * `RetryPolicyError` naming it (`breaker.openFor`). Default `false`.
   */
  readonly breaker?: boolean | CircuitBreaker.Options | undefined
}

/**
 * A bad option: names the option and the value (a proxy's password is never
 * shown). It is the class the layer constructors throw, so `instanceof`
 * works.
 *
 * @since 0.1.0
 * @category errors
 */
export const NodeHttpRetryOptionsError: {
  /** Makes the error as the library does (for tests and adapters of your own). */
  new(...args: ConstructorParameters<typeof internal.NodeHttpRetryOptionsError>): NodeHttpRetryOptionsError
} = internal.NodeHttpRetryOptionsError

/**
 * @since 0.1.0
 * @category errors
 */
export interface NodeHttpRetryOptionsError extends internal.NodeHttpRetryOptionsError {}

/**
 * `HttpClient.HttpClient` with retry: the core's `HttpRetry.withRetry` over
 * an undici dispatcher built from `options`. The dispatcher is closed when
 * the layer's scope closes, so no socket outlives the program.
 *
 * Throws a `NodeHttpRetryOptionsError` for a bad option.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { RetryPolicy } from "@http-retry/core"
 * import { NodeHttpRetry } from "@http-retry/node"
 * import { Effect } from "effect"
 *
 * const program = HttpClient.get("https://internal.test/health").pipe(
 *   Effect.provide(NodeHttpRetry.layer({ policy: RetryPolicy.make({ maxAttempts: 3 }) }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<HttpClient.HttpClient> = internal.layer

/**
 * The same dispatcher without retry, for callers who compose
 * `HttpRetry.withRetry` themselves. It behaves as `NodeHttpClient.layerUndici`
 * does (a span per request, trace headers, `withScope`,
 * `NodeHttpClient.UndiciRequestOptions`) on either transport. It takes no
 * retry option: `policy`, `tracing`, `budget` or `breaker` given from JavaScript is a
 * `NodeHttpRetryOptionsError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: (options?: ClientOptions) => Layer.Layer<HttpClient.HttpClient> = internal.layerClient

/**
 * `layer` from environment variables (prefix `HTTP_RETRY_`): the policy's
 * variables (see `RetryPolicy.config`) plus `HTTP_RETRY_PROXY`,
 * `HTTP_RETRY_TLS_REJECT_UNAUTHORIZED`, `HTTP_RETRY_CA_FILE`,
 * `HTTP_RETRY_CONNECTIONS`, `HTTP_RETRY_KEEP_ALIVE_TIMEOUT`,
 * `HTTP_RETRY_CONNECT_TIMEOUT`, `HTTP_RETRY_TRACING` (true or false),
 * `HTTP_RETRY_TRANSPORT` (direct or platform), the retry budget's
 * (see `RetryBudget.config`: `HTTP_RETRY_BUDGET`,
 * `HTTP_RETRY_BUDGET_MAX_TOKENS`, `HTTP_RETRY_BUDGET_TOKEN_RATIO`) and the
 * breaker's `HTTP_RETRY_BREAKER` and `HTTP_RETRY_BREAKER_*` (see
 * `CircuitBreaker.config`). A bad value fails with a `ConfigError` naming the
 * variable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = internal.layerConfig

/**
 * `Options` read from `Config` under `prefix` (default `HTTP_RETRY`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config: (prefix?: string) => Config.Config<Options> = internal.config

/**
 * The undici dispatcher `layer` uses, as a scoped resource.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDispatcher: (options?: ClientOptions) => Effect.Effect<Undici.Dispatcher, never, Scope.Scope> =
  internal.makeDispatcher
