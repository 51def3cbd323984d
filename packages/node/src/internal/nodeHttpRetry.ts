import * as Undici from "@effect/platform-node/Undici"
import * as Client from "@effect/platform/HttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { CircuitBreaker, HttpRetry, RetryBudget, RetryPolicy } from "@http-retry/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import type * as NodeHttpRetry from "../NodeHttpRetry.js"
import * as UndiciClient from "./undiciClient.js"

/** Public as `NodeHttpRetry.NodeHttpRetryOptionsError`: left unmarked so its declaration stays in the published types. */
export class NodeHttpRetryOptionsError extends Data.TaggedError("NodeHttpRetryOptionsError")<{
  /** The option or field, by its path. */
  readonly field: string
  /** The value as the message shows it (a password, a key or a certificate is never shown). */
  readonly value: string
  /** What is wrong with it. */
  readonly reason: string
}> {
  /** The field, the value and what is wrong, in one line. */
  override get message(): string {
    return `Invalid NodeHttpRetry option: ${this.field} = ${this.value} (${this.reason})`
  }
}

/**
 * A proxy URL for messages. Everything between the scheme and the last "@"
 * is hidden, whether or not the text parses as a URL: a password with an
 * unencoded "/", or a URL without a scheme ("user:pass@proxy:3128", which
 * `new URL` reads as scheme "user:"), must not show either.
 */
const showProxy = (raw: string): string => {
  const scheme = /^\s*[a-z][a-z\d+.-]*:\/\//i.exec(raw)?.[0] ?? ""
  // A query or fragment may hold a token (`host:3128?token=...`): dropped, and marked.
  const cut = (text: string) => {
    const query = text.search(/[?#]/)
    return query === -1 ? text : `${text.slice(0, query)}?<unparsed>`
  }
  const at = raw.lastIndexOf("@")
  if (at === -1) return JSON.stringify(cut(raw))
  // The authority ends at the first "/", "\\", "?" or "#": the userinfo is what comes before its last "@". An "@"
  // only after it leaves the userinfo's end unknown (a password with a "/" or "?" in it): nothing is shown then.
  const rest = raw.slice(scheme.length)
  const end = rest.search(/[/\\?#]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  const userinfoEnd = authority.lastIndexOf("@")
  if (userinfoEnd === -1) return JSON.stringify(`${scheme}<redacted>`)
  const after = cut(end === -1 ? "" : rest.slice(end))
  return JSON.stringify(`${scheme}<redacted>@${authority.slice(userinfoEnd + 1)}${after.includes("@") ? "/…" : after}`)
}

/**
 * A rejected value for a message: a string that may hold a URL's secrets as
 * `showProxy` shows it (any option may be given a proxy's or a service's URL
 * by mistake), anything else as `String` (or `JSON.stringify` with `quote`)
 * writes it.
 */
const shown = (value: unknown, quote = false): string => {
  let text: string
  try {
    text = typeof value === "string" ? value : value instanceof URL ? value.href : String(value)
  } catch {
    return "…"
  }
  if (/[@?#]/.test(text)) return showProxy(text)
  if (!quote) return text
  try {
    return JSON.stringify(value) ?? text
  } catch {
    return text
  }
}

const fail = (field: string, value: string, reason: string): never => {
  throw new NodeHttpRetryOptionsError({ field, value, reason })
}

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"

/**
 * What is wrong with `ca`, if anything: Node takes PEM text only, and trusts
 * its bundled public CAs instead of an empty one, and nothing for text that
 * is not PEM (a file's path given for its contents), which no option names.
 */
const caProblem = (ca: unknown): string | undefined => {
  const all = Array.isArray(ca) ? ca : [ca]
  if (all.length === 0) return "expected PEM certificates, got none"
  for (const one of all) {
    const text = typeof one === "string" ? one : Buffer.isBuffer(one) ? one.toString("latin1") : undefined
    if (text === undefined) return "expected PEM text or a Buffer of it"
    if (!text.includes(PEM_CERTIFICATE)) {
      return `expected PEM certificates (${PEM_CERTIFICATE}): the contents of a CA file, not its path`
    }
  }
  return undefined
}

const showCa = (ca: unknown): string =>
  Array.isArray(ca) ?
    `${ca.length} entries` :
    Buffer.isBuffer(ca) ?
    `${ca.length} bytes` :
    typeof ca === "string" ?
    ca.length <= 80 ? JSON.stringify(ca) : `${ca.length} characters` :
    typeof ca

/** undici's http(s) proxy agents refuse a URL with anything after the host and port ("invalid url"). */
const isOriginOnly = (url: URL): boolean => url.pathname === "/" && url.search === "" && url.hash === ""

const PROXY_PATH = "a proxy URL is scheme, host and port (and user and password): no path, query or fragment"

/**
 * `proxy: "env"`: the variables undici's `EnvHttpProxyAgent` will read, checked as its proxy agents check them (a
 * URL, http:, https: or SOCKS), so that a bad one is this error naming it rather than a defect when the layer is
 * built. In undici's order: the lower-case name first.
 */
const checkEnvProxies = (): void => {
  for (const names of [["http_proxy", "HTTP_PROXY"], ["https_proxy", "HTTPS_PROXY"]]) {
    const name = names.find((name) => process.env[name] !== undefined)
    const value = name === undefined ? "" : process.env[name]!
    if (value === "") continue
    let url: URL | undefined
    try {
      url = new URL(value)
    } catch {
      url = undefined
    }
    // undici's proxy agents take http:, https: and SOCKS (socks:, socks5:) proxies.
    if (url === undefined || !["http:", "https:", "socks:", "socks5:"].includes(url.protocol)) {
      fail("proxy", `env (${name}=${showProxy(value)})`, "expected the variable to hold a proxy URL")
    }
    if (url!.protocol.startsWith("http") && !isOriginOnly(url!)) {
      fail("proxy", `env (${name}=${showProxy(value)})`, PROXY_PATH)
    }
  }
}

interface Resolved {
  readonly policy: RetryPolicy.RetryPolicy
  readonly rejectUnauthorized: boolean
  readonly ca: string | Buffer | Array<string | Buffer> | undefined
  readonly proxy: "none" | "env" | URL
  readonly connections: number | undefined
  readonly keepAliveTimeoutMillis: number
  readonly connectTimeoutMillis: number
  readonly tracing: boolean
  readonly transport: "direct" | "platform"
  readonly budget: boolean | RetryBudget.Options | undefined
  readonly breaker: boolean | CircuitBreaker.Options
}

const durationMillis = (field: string, input: Duration.DurationInput | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  if (typeof input === "string") {
    const parsed = RetryPolicy.parseDuration(input)
    // The parser's reason quotes the text: shown as the value is.
    if (Either.isLeft(parsed)) {
      return fail(field, shown(input, true), parsed.left.split(JSON.stringify(input)).join(shown(input, true)))
    }
    const millis = Duration.toMillis(parsed.right)
    if (!(millis > 0)) return fail(field, shown(input, true), "expected a positive, finite duration")
    return millis
  }
  if (typeof input === "number" && !(Number.isFinite(input) && input > 0)) {
    return fail(field, shown(input), "expected a positive, finite duration")
  }
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) <= 0) {
    return fail(field, shown(input), "expected a positive, finite duration")
  }
  return Duration.toMillis(decoded.value)
}

const CLIENT_KEYS = ["tls", "proxy", "connections", "keepAliveTimeout", "connectTimeout", "transport"]
const RETRY_KEYS = ["policy", "tracing", "budget", "breaker"]
const KNOWN_KEYS = [...RETRY_KEYS, ...CLIENT_KEYS]

/** `tls`, checked: only `rejectUnauthorized` (a boolean) and `ca` (PEM text, a Buffer or a list of them). */
const checkTls = (tls: NonNullable<NodeHttpRetry.Options["tls"]>): void => {
  if (typeof tls !== "object" || tls === null) fail("tls", shown(tls), "expected { rejectUnauthorized, ca }")
  for (const key of Object.keys(tls)) {
    // Dropped silently, `cert` and `key` (mutual TLS) would send no client certificate.
    if (key !== "rejectUnauthorized" && key !== "ca") {
      fail(`tls.${key}`, "…", "unknown option (tls takes rejectUnauthorized and ca)")
    }
  }
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== "boolean") {
    fail("tls.rejectUnauthorized", shown(tls.rejectUnauthorized), "expected true or false")
  }
  if (tls.ca !== undefined) {
    const problem = caProblem(tls.ca)
    if (problem !== undefined) fail("tls.ca", showCa(tls.ca), problem)
  }
}

/** The `proxy` option, checked: `"none"`, `"env"` (its variables checked now) or an http(s) URL with no path. */
const resolveProxy = (raw: unknown): Resolved["proxy"] => {
  if (typeof raw !== "string") {
    // A URL object is shown as its text would be, userinfo hidden.
    const shown = raw instanceof URL
      ? showProxy(raw.href)
      : typeof raw === "object" && raw !== null
      ? "…"
      : String(raw)
    return fail("proxy", shown, "expected \"none\", \"env\" or an http(s) proxy URL")
  }
  if (raw === "none") return raw
  if (raw === "env") {
    checkEnvProxies()
    return raw
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail("proxy", showProxy(raw), "expected \"none\", \"env\" or an http(s) proxy URL")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    fail("proxy", showProxy(raw), "only http: and https: proxies are supported")
  }
  if (!isOriginOnly(url)) fail("proxy", showProxy(raw), PROXY_PATH)
  try {
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    fail("proxy", showProxy(raw), "the user or password has a \"%\" that is not a percent-escape")
  }
  return url
}

/** The budget's numbers are the core's, checked as `HttpRetry.layer` checks them: a `RetryPolicyError` naming the field. */
const checkBudget = (budget: NodeHttpRetry.Options["budget"]): void => {
  if (budget === undefined || budget === true || budget === false) return
  if (!Predicate.isRecord(budget)) {
    throw new RetryPolicy.RetryPolicyError({
      field: "budget",
      value: budget,
      reason: "expected true, false or { maxTokens, tokenRatio }"
    })
  }
  const checked = RetryBudget.validate(budget)
  if (Either.isLeft(checked)) throw checked.left
}

const resolve = (options: NodeHttpRetry.Options = {}, retry = true): Resolved => {
  if (typeof options !== "object" || options === null) {
    return fail("options", shown(options), "expected an object")
  }
  for (const key of Object.keys(options)) {
    if (!retry && RETRY_KEYS.includes(key)) {
      fail(key, "…", "a retry option: layerClient has no retry (use layer, or HttpRetry.withRetry over it)")
    }
    if (!KNOWN_KEYS.includes(key)) fail(key, "…", "unknown option")
  }
  const policy = options.policy ?? RetryPolicy.defaults
  if (!RetryPolicy.isRetryPolicy(policy)) fail("policy", shown(policy), "expected a RetryPolicy from RetryPolicy.make")
  const tls = options.tls ?? {}
  checkTls(tls)
  const proxy = resolveProxy(options.proxy ?? "none")
  const connections = options.connections
  if (connections !== undefined && !(Number.isInteger(connections) && connections >= 1)) {
    fail("connections", shown(connections), "expected a whole number of at least 1")
  }
  const budget = options.budget
  checkBudget(budget)
  return {
    policy,
    budget,
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    ca: tls.ca,
    proxy,
    connections,
    keepAliveTimeoutMillis: durationMillis("keepAliveTimeout", options.keepAliveTimeout, 4_000),
    connectTimeoutMillis: durationMillis("connectTimeout", options.connectTimeout, 10_000),
    tracing: options.tracing === undefined ?
      true :
      typeof options.tracing === "boolean" ?
      options.tracing :
      fail("tracing", shown(options.tracing), "expected true or false"),
    transport: options.transport === undefined || options.transport === "direct" || options.transport === "platform" ?
      options.transport ?? "direct" :
      fail("transport", shown(options.transport, true), "expected \"direct\" or \"platform\""),
    breaker: options.breaker ?? false
  }
}

const tlsOptions = (resolved: Resolved): Undici.buildConnector.BuildOptions => ({
  rejectUnauthorized: resolved.rejectUnauthorized,
  timeout: resolved.connectTimeoutMillis,
  ...(resolved.ca === undefined ? {} : { ca: resolved.ca })
})

/**
 * Every pool (or client) an agent made, including those it has let go. undici's Agent drops an origin's pool from its
 * map, closing it gracefully, when the pool's count of connections falls to 0; a connection still in its TLS
 * handshake is not counted yet, so an attempt sent as the previous attempt's aborted connection closes can run on a
 * pool the agent no longer knows. `Agent.destroy()` never reaches that pool, and a response still open on it (a
 * body that never ends) kept its socket open after the layer's scope had closed. Releasing the dispatcher destroys
 * these pools too.
 */
const pools = new WeakMap<Undici.Dispatcher, Set<Undici.Pool | Undici.Client>>()

/** undici's own factory for an agent's pools, recording each in `made`; pools that have ended are let go. */
const recordingFactory = (made: Set<Undici.Pool | Undici.Client>) => (origin: URL | string, options: object) => {
  for (const pool of made) if (pool.destroyed) made.delete(pool)
  const tunnel = (options as Undici.Pool.Options).connect
  // A proxy agent's connect is its tunnel (CONNECT through the proxy). A proxy that closes the tunnel without an
  // answer fails it with UND_ERR_SOCKET, which undici's client takes as a socket error to reconnect after, at once:
  // a thousand CONNECTs a second until the attempt timed out. Told as a reset, it fails the request, and the retry
  // decides when to try again.
  if (typeof tunnel === "function") {
    options = {
      ...options,
      connect: ((opts, callback) =>
        tunnel(opts, (error, socket) =>
          (error as { code?: unknown } | null)?.code === "UND_ERR_SOCKET" ?
            callback(tunnelDropped(error!), null) :
            callback(error as never, socket as never))) satisfies Undici.buildConnector.connector
    }
  }
  const pool = (options as Undici.Pool.Options).connections === 1 ?
    new Undici.Client(origin, options) :
    new Undici.Pool(origin, options)
  made.add(pool)
  return pool
}

/** A tunnel the proxy closed without an answer, as the reset it is (`ECONNRESET`), with undici's error as its cause. */
const tunnelDropped = (error: Error): Error =>
  Object.assign(new Error(`the proxy closed the tunnel: ${error.message}`, { cause: error }), { code: "ECONNRESET" })

/** Destroys the dispatcher, and every pool it made that it no longer knows. */
const destroyDispatcher = (dispatcher: Undici.Dispatcher): Promise<unknown> =>
  Promise.all([
    dispatcher.destroy(),
    ...[...pools.get(dispatcher) ?? []].map((pool) => pool.destroyed ? undefined : pool.destroy())
  ])

const makeDispatcherUnsafe = (resolved: Resolved): Undici.Dispatcher => {
  const connect = tlsOptions(resolved)
  const made = new Set<Undici.Pool | Undici.Client>()
  const agentOptions: Undici.Agent.Options = {
    factory: recordingFactory(made),
    keepAliveTimeout: resolved.keepAliveTimeoutMillis,
    // undici prefers a server's `Keep-Alive: timeout=N` hint, capped only by this: without it the option would not
    // apply to any server that sends the hint (Node's http server always does).
    keepAliveMaxTimeout: resolved.keepAliveTimeoutMillis,
    connect,
    ...(resolved.connections === undefined ? {} : { connections: resolved.connections })
  }
  if (resolved.proxy === "none") {
    const agent = new Undici.Agent(agentOptions)
    pools.set(agent, made)
    return agent
  }
  // Through a proxy the TLS options belong to the upstream: undici calls them requestTls; the connection to the proxy
  // itself is bounded by the same connect timeout.
  const proxyOptions = { ...agentOptions, requestTls: connect, proxyTls: { timeout: resolved.connectTimeoutMillis } }
  const base = resolved.proxy === "env" ?
    new Undici.EnvHttpProxyAgent(proxyOptions) :
    new Undici.ProxyAgent({ ...proxyOptions, ...proxyTarget(resolved.proxy) })
  // undici's proxy agents write a Host header into the headers object of the request they are given: the caller's
  // own (the platform passes `request.headers` as it is), which a later request built from it (a redirect's next
  // hop, a template request sent to another origin) would then carry to the wrong server. They get a copy.
  const dispatcher = base.compose((dispatch) => (options, handler) => dispatch(withOwnHeaders(options), handler))
  pools.set(dispatcher, made)
  return dispatcher
}

/**
 * The proxy's URL for undici, and its credentials. undici sends `Proxy-Authorization` only for a URL with both a user
 * and a password; a user alone (`http://TOKEN@proxy:3128`, as tokens are often given) is sent as curl sends it,
 * `Basic` of "user:".
 */
const proxyTarget = (proxy: URL): { readonly uri: string; readonly token?: string } => {
  if (proxy.username === "" || proxy.password !== "") return { uri: proxy.href }
  const uri = new URL(proxy.href)
  uri.username = ""
  return {
    uri: uri.href,
    token: `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:`).toString("base64")}`
  }
}

const withOwnHeaders = (options: Undici.Dispatcher.DispatchOptions): Undici.Dispatcher.DispatchOptions => {
  const headers = options.headers
  return headers === null || headers === undefined || typeof headers !== "object" || Array.isArray(headers) ||
      Symbol.iterator in headers ?
    options :
    { ...options, headers: { ...headers } }
}

/** @internal */
export const makeDispatcher = (
  options?: NodeHttpRetry.ClientOptions
): Effect.Effect<Undici.Dispatcher, never, Scope.Scope> =>
  Effect.suspend(() => {
    const resolved = resolve(options, false)
    return acquire(resolved)
  })

const acquire = (resolved: Resolved): Effect.Effect<Undici.Dispatcher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => makeDispatcherUnsafe(resolved)).pipe(
      Effect.tap(() =>
        resolved.rejectUnauthorized ?
          Effect.void :
          Effect.logWarning(
            "http-retry: TLS certificate verification is off for this client (tls.rejectUnauthorized: false); " +
              "only use this for hosts you trust on a network you control"
          )
      )
    ),
    (dispatcher) => Effect.promise(() => destroyDispatcher(dispatcher))
  )

/**
 * The platform's client module is loaded only by a layer that uses it: it
 * brings the node:http client and its sinks along, which the direct
 * transport never needs, and start-up pays for every module imported. Its
 * client reads no attempt timeout: the retry bounds each attempt itself, and
 * the interruption aborts the request.
 */
const platformClient = (dispatcher: Undici.Dispatcher): Effect.Effect<HttpClient.HttpClient> =>
  Effect.map(
    Effect.promise(() => import("@effect/platform-node/NodeHttpClient")),
    (NodeHttpClient) => NodeHttpClient.makeUndici(dispatcher)
  )

const clientLayer = (resolved: Resolved): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(
    Client.HttpClient,
    Effect.flatMap(Effect.context<never>(), (built) =>
      Effect.flatMap(acquire(resolved), (dispatcher) =>
        // As the platform's layers, the services the layer was built with reach every request; its scope and the
        // memo map that building layers puts in the context do not.
        resolved.transport === "direct" ?
          Effect.succeed(UndiciClient.make(dispatcher, given(built))) :
          Effect.map(platformClient(dispatcher), (client) => UndiciClient.withContext(client, given(built)))))
  )

/** The services given to a layer: its build context without what building a layer adds to it. */
const given = Context.omit(Scope.Scope, Layer.CurrentMemoMap)

/** @internal */
export const layerClient = (options?: NodeHttpRetry.ClientOptions): Layer.Layer<HttpClient.HttpClient> =>
  clientLayer(resolve(options, false))

/** @internal */
export const layer = (options?: NodeHttpRetry.Options): Layer.Layer<HttpClient.HttpClient> => {
  const resolved = resolve(options)
  return HttpRetry.layer(resolved.policy, {
    tracing: resolved.tracing,
    budget: resolved.budget,
    breaker: resolved.breaker
  })
    .pipe(Layer.provide(clientLayer(resolved)))
}

// --- Config -------------------------------------------------------------------

const variable = <A>(
  name: string,
  decode: (text: string) => Either.Either<A, string>,
  show: (text: string) => string = (text) => JSON.stringify(text)
): Config.Config<A | undefined> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((option) => {
      if (Option.isNone(option)) return Either.right(undefined)
      const decoded = decode(option.value.trim())
      return Either.isRight(decoded) ?
        Either.right(decoded.right) :
        Either.left(ConfigError.InvalidData([name], `${name}=${show(option.value)}: ${decoded.left}`))
    })
  )

const booleanText = (text: string): Either.Either<boolean, string> => {
  const lower = text.toLowerCase()
  if (["true", "1", "yes", "on"].includes(lower)) return Either.right(true)
  if (["false", "0", "no", "off"].includes(lower)) return Either.right(false)
  return Either.left(`expected true or false, got ${JSON.stringify(text)}`)
}

// A timeout from the environment needs its unit and must be greater than zero, as the layer's option.
const timeoutText = (text: string): Either.Either<Duration.Duration, string> =>
  Either.flatMap(
    RetryPolicy.parseDuration(text, { unit: "required" }),
    (duration) =>
      Duration.toMillis(duration) > 0 ? Either.right(duration) : Either.left("expected a duration greater than zero")
  )

/** @internal */
export const config = (prefix = "HTTP_RETRY"): Config.Config<NodeHttpRetry.Options> => {
  // Flat names, as the policy's: found and named as HTTP_RETRY_PROXY whatever the provider's path delimiter.
  const optional = <A>(
    name: string,
    decode: (text: string) => Either.Either<A, string>,
    show?: (text: string) => string
  ) => variable(prefix === "" ? name : `${prefix}_${name}`, decode, show)
  const fields = Config.all({
    policy: RetryPolicy.config(prefix),
    budget: RetryBudget.config(prefix),
    breaker: CircuitBreaker.config(prefix),
    proxy: optional("PROXY", (text) => {
      try {
        resolve({ proxy: text })
        return Either.right(text)
      } catch (error) {
        return Either.left(error instanceof NodeHttpRetryOptionsError ? error.reason : String(error))
      }
    }, showProxy),
    rejectUnauthorized: optional("TLS_REJECT_UNAUTHORIZED", booleanText),
    caFile: optional("CA_FILE", (path) => {
      try {
        const ca = Fs.readFileSync(path, "utf8")
        const problem = caProblem(ca)
        return problem === undefined ?
          Either.right(ca) :
          Either.left(`${JSON.stringify(path)} holds no PEM certificate (${PEM_CERTIFICATE})`)
      } catch (error) {
        return Either.left(
          `cannot read ${JSON.stringify(path)}: ${Predicate.hasProperty(error, "code") ? error.code : error}`
        )
      }
    }),
    connections: optional("CONNECTIONS", (text) =>
      /^\d+$/.test(text) && Number(text) >= 1 ?
        Either.right(Number(text)) :
        Either.left(`expected a whole number of at least 1, got ${JSON.stringify(text)}`)),
    keepAliveTimeout: optional("KEEP_ALIVE_TIMEOUT", timeoutText),
    connectTimeout: optional("CONNECT_TIMEOUT", timeoutText),
    tracing: optional("TRACING", booleanText),
    transport: optional(
      "TRANSPORT",
      (text): Either.Either<"direct" | "platform", string> =>
        text === "direct" || text === "platform" ?
          Either.right(text) :
          Either.left(`expected direct or platform, got ${JSON.stringify(text)}`)
    )
  })
  const options = Config.map(fields, (f): NodeHttpRetry.Options => ({
    policy: f.policy,
    ...(f.budget === false ? {} : { budget: f.budget }),
    ...(f.proxy === undefined ? {} : { proxy: f.proxy }),
    ...(f.rejectUnauthorized === undefined && f.caFile === undefined ? {} : {
      tls: {
        ...(f.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: f.rejectUnauthorized }),
        ...(f.caFile === undefined ? {} : { ca: f.caFile })
      }
    }),
    ...(f.connections === undefined ? {} : { connections: f.connections }),
    ...(f.keepAliveTimeout === undefined ? {} : { keepAliveTimeout: f.keepAliveTimeout }),
    ...(f.connectTimeout === undefined ? {} : { connectTimeout: f.connectTimeout }),
    ...(f.tracing === undefined ? {} : { tracing: f.tracing }),
    ...(f.transport === undefined ? {} : { transport: f.transport }),
    ...(f.breaker === false ? {} : { breaker: f.breaker })
  }))
  return options
}

/** @internal */
export const layerConfig: Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(config(), layer)
)
