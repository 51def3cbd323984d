import * as Args from "@effect/cli/Args"
import type * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import { RetryPolicy } from "@http-retry/core"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import type * as NodeHttpRetry from "../NodeHttpRetry.js"

// --- Usage errors -------------------------------------------------------------

/**
 * A bad command line: printed as one line, `http-retry: <option>: <reason>`,
 * and the command exits 2.
 *
 * @internal
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly option: string | undefined
  readonly reason: string
}> {
  override get message(): string {
    return this.option === undefined ? this.reason : `${this.option}: ${this.reason}`
  }
}

const usage = (option: string | undefined, reason: string): UsageError => new UsageError({ option, reason })

const show = (value: string): string => JSON.stringify(value)

// --- The option table ---------------------------------------------------------

/**
 * One row per option: drives the argv check and `--help`. The parser itself
 * is the @effect/cli `command` below; the two are kept in step by the CLI
 * tests, which ask `--help` for every option of the issue's contract.
 *
 * @internal
 */
export interface Spec {
  readonly long: string
  readonly short?: string | undefined
  /** The value's placeholder; a flag has none. */
  readonly value?: string | undefined
  readonly group: "Request" | "Retry" | "Connection" | "Output"
  readonly description: string
  readonly default: string
}

const d = RetryPolicy.defaults
const fmt = (duration: Duration.Duration): string => Duration.format(duration)

/** @internal */
export const specs: ReadonlyArray<Spec> = [
  {
    long: "method",
    short: "X",
    value: "<method>",
    group: "Request",
    description: "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
    default: "GET, or POST with --data/--json"
  },
  {
    long: "header",
    short: "H",
    value: "<\"Name: value\">",
    group: "Request",
    description: "a request header; repeat for more",
    default: "none"
  },
  {
    long: "data",
    short: "d",
    value: "<text|@file>",
    group: "Request",
    description: "request body, sent as is (@file: the file's bytes, @-: stdin); " +
      "Content-Type application/x-www-form-urlencoded unless -H sets one",
    default: "none"
  },
  {
    long: "json",
    value: "<text|@file>",
    group: "Request",
    description: "JSON request body; sets Content-Type and Accept to application/json",
    default: "none"
  },
  {
    long: "max-attempts",
    value: "<n>",
    group: "Retry",
    description: "attempts, the first included",
    default: String(d.maxAttempts)
  },
  {
    long: "max-time",
    value: "<duration>",
    group: "Retry",
    description: "deadline over all attempts and waits; when given, also over the body download",
    default: fmt(d.maxElapsed)
  },
  {
    long: "base-delay",
    value: "<duration>",
    group: "Retry",
    description: `first backoff delay, then times ${d.factor} each retry`,
    default: fmt(d.baseDelay)
  },
  {
    long: "max-delay",
    value: "<duration>",
    group: "Retry",
    description: "cap on one backoff delay",
    default: fmt(d.maxDelay)
  },
  {
    long: "attempt-timeout",
    value: "<duration>",
    group: "Retry",
    description: "timeout of each attempt, up to the response headers",
    default: fmt(d.attemptTimeout)
  },
  {
    long: "no-jitter",
    group: "Retry",
    description: "wait exactly the backoff delay instead of a random time up to it",
    default: "off, full jitter"
  },
  {
    long: "retry-status",
    value: "<list>",
    group: "Retry",
    description: "statuses to retry, comma-separated, 4xx/5xx allowed, or none",
    default: d.retryOn.statuses.join(",")
  },
  {
    long: "retry-method",
    value: "<list>",
    group: "Retry",
    description: "methods to retry, comma-separated (others only with an Idempotency-Key header)",
    default: d.methods.join(",")
  },
  {
    long: "insecure",
    short: "k",
    group: "Connection",
    description: "do not verify the server's TLS certificate (prints a warning)",
    default: "off, certificates are verified"
  },
  {
    long: "cacert",
    value: "<file>",
    group: "Connection",
    description: "PEM file of CA certificates to trust instead of Node's bundled list",
    default: "Node's bundled CAs"
  },
  {
    long: "proxy",
    value: "<url|env|none>",
    group: "Connection",
    description: "an http(s) proxy URL, env (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) or none",
    default: "none"
  },
  {
    long: "include",
    short: "i",
    group: "Output",
    description: "print the status line and response headers before the body",
    default: "off"
  },
  {
    long: "output",
    short: "o",
    value: "<file>",
    group: "Output",
    description: "write the body (and -i headers) to a file instead of stdout",
    default: "stdout"
  },
  {
    long: "verbose",
    short: "v",
    group: "Output",
    description: "log the request, each attempt, its wait and why on stderr, secrets redacted",
    default: "off"
  },
  {
    long: "silent",
    short: "s",
    group: "Output",
    description: "no countdown, warning or error message on stderr (usage errors still print)",
    default: "off"
  },
  { long: "help", short: "h", group: "Output", description: "show this help and exit", default: "" },
  { long: "version", group: "Output", description: "show the version and exit", default: "" }
]

// @effect/cli's own built-ins: accepted by its parser, so not "unknown" here.
const builtInLongs = new Set(["completions", "log-level", "wizard"])
const builtInValued = new Set(["completions", "log-level"])

const byLong = new Map(specs.map((spec) => [spec.long, spec]))
const byShort = new Map(specs.flatMap((spec) => spec.short === undefined ? [] : [[spec.short, spec] as const]))

/** @internal */
export const helpText = (version: string): string => {
  const width = 100
  const indent = 36
  const wrap = (words: ReadonlyArray<string>): string => {
    const lines: Array<string> = []
    let line = ""
    for (const word of words) {
      if (line !== "" && indent + line.length + 1 + word.length > width) {
        lines.push(line)
        line = word
      } else line = line === "" ? word : `${line} ${word}`
    }
    lines.push(line)
    return lines.join(`\n${" ".repeat(indent)}`)
  }
  const rows = (group: Spec["group"]) =>
    specs.filter((spec) => spec.group === group).map((spec) => {
      const names = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${spec.long}`
      const left = spec.value === undefined ? names : `${names} ${spec.value}`
      // The default stays on one line, so it reads (and greps) as a unit.
      const words = spec.description.split(" ").concat(spec.default === "" ? [] : [`(default: ${spec.default})`])
      return `  ${left.padEnd(indent - 3)} ${wrap(words)}`
    }).join("\n")
  return `http-retry ${version}: an HTTP request that retries transient failures, curl-style

Usage: http-retry [options] <url>

Retries connection failures, timeouts and 408, 429, 500, 502, 503, 504 answers
with exponential backoff, honouring Retry-After. The final response body goes to
stdout byte for byte; messages go to stderr. Durations: 250ms, 2s, "1.5 minutes"
or a plain number of milliseconds.

Request:
${rows("Request")}

Retry:
${rows("Retry")}

Connection:
${rows("Connection")}

Output:
${rows("Output")}

Examples:
  http-retry https://example.com/health
  http-retry -v --max-attempts 6 --max-time 30s -H "Authorization: Bearer $TOKEN" https://api.example.com/items
  http-retry -X POST --json @order.json -H "Idempotency-Key: 7f9c2a" -o receipt.json https://api.example.com/orders

Exit codes (as curl's):
  0    success: a 2xx answer (or 1xx/3xx: redirects are not followed)
  22   the final answer was an HTTP status of 400 or more (its body still goes to stdout)
  7    could not connect after all attempts
  28   timed out: --attempt-timeout on the last attempt, or --max-time
  6    could not resolve the host name
  35   TLS handshake failed
  60   the server's TLS certificate did not verify
  56   connection reset, or failure receiving the response
  23   could not write the output
  2    bad usage or an invalid option value
  130  interrupted (Ctrl-C)
`
}

// --- argv check ---------------------------------------------------------------

/** @internal */
export type Early = "help" | "version" | undefined

/**
 * Walks argv the way @effect/cli will, to catch what its parser reports badly:
 * an unknown option (which it would take for the URL) and an option missing
 * its value. Also finds `--help` and `--version`, which win over everything.
 *
 * @internal
 */
export const scan = (args: ReadonlyArray<string>): Either.Either<Early, UsageError> => {
  let early: Early = undefined
  let error: UsageError | undefined
  const note = (e: UsageError) => {
    error ??= e
  }
  // @effect/cli takes an option once (only -H repeats); a second one would surface as a puzzling "unknown argument".
  const seen = new Set<string>()
  const once = (spec: Spec, written: string) => {
    if (spec.long === "header") return
    if (seen.has(spec.long)) note(usage(written, "given more than once"))
    seen.add(spec.long)
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === "--") break
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const name = arg.slice(2, eq === -1 ? undefined : eq)
      const spec = byLong.get(name)
      if (spec === undefined && !builtInLongs.has(name)) {
        note(usage(`--${name}`, "unknown option (see --help)"))
        continue
      }
      if (spec !== undefined) once(spec, `--${name}`)
      if (name === "help") early = "help"
      if (name === "version") early ??= "version"
      const valued = spec === undefined ? builtInValued.has(name) : spec.value !== undefined
      if (valued && eq === -1) {
        if (i + 1 >= args.length) note(usage(`--${name}`, `missing value ${spec?.value ?? ""}`.trimEnd()))
        i++
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of short flags, e.g. -siv; a valued one takes the next argument.
      for (let j = 1; j < arg.length; j++) {
        const spec = byShort.get(arg[j])
        if (spec === undefined) {
          note(usage(`-${arg[j]}`, "unknown option (see --help)"))
          break
        }
        once(spec, `-${spec.short}`)
        if (spec.long === "help") early = "help"
        if (spec.value !== undefined) {
          if (j !== arg.length - 1) {
            note(usage(`-${spec.short}`, `write the value as a separate argument: -${spec.short} ${arg.slice(j + 1)}`))
          } else if (i + 1 >= args.length) {
            note(usage(`-${spec.short}`, `missing value ${spec.value}`))
          }
          i++
          break
        }
      }
    }
  }
  if (early === "help" || (early === "version" && error === undefined)) return Either.right(early)
  return error === undefined ? Either.right(undefined) : Either.left(error)
}

// --- The @effect/cli command ----------------------------------------------------

const text = (name: string, alias?: string) => {
  const option = Options.text(name)
  return Options.optional(alias === undefined ? option : Options.withAlias(option, alias))
}
const flag = (name: string, alias?: string) => {
  const option = Options.boolean(name)
  return alias === undefined ? option : Options.withAlias(option, alias)
}

/** @internal */
export const config = {
  method: text("method", "X"),
  header: Options.repeated(Options.withAlias(Options.text("header"), "H")),
  data: text("data", "d"),
  json: text("json"),
  maxAttempts: text("max-attempts"),
  maxTime: text("max-time"),
  baseDelay: text("base-delay"),
  maxDelay: text("max-delay"),
  attemptTimeout: text("attempt-timeout"),
  noJitter: flag("no-jitter"),
  retryStatus: text("retry-status"),
  retryMethod: text("retry-method"),
  insecure: flag("insecure", "k"),
  cacert: text("cacert"),
  proxy: text("proxy"),
  include: flag("include", "i"),
  output: text("output", "o"),
  verbose: flag("verbose", "v"),
  silent: flag("silent", "s"),
  url: Args.text({ name: "url" })
}

/** What @effect/cli parsed, before any value is checked. @internal */
export type Parsed = Command.Command.ParseConfig<typeof config>

// --- Checked settings ---------------------------------------------------------

/** @internal */
export interface Body {
  readonly bytes: Uint8Array
  readonly contentType: string
  readonly accept: string | undefined
}

/**
 * The command line, every value checked.
 *
 * @internal
 */
export interface Settings {
  readonly url: URL
  readonly method: HttpMethod.HttpMethod
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>
  readonly body: Body | undefined
  readonly policy: RetryPolicy.RetryPolicy
  /** Set only by --max-time: a hard cap on the whole transfer, body included. */
  readonly maxTime: Duration.Duration | undefined
  readonly node: NodeHttpRetry.ClientOptions
  readonly include: boolean
  readonly output: string | undefined
  readonly verbose: boolean
  readonly silent: boolean
}

const METHODS: ReadonlyArray<HttpMethod.HttpMethod> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const SECRET_HEADERS = /authorization|cookie|api-key|token|secret/i

const readFile = (option: string, path: string): Effect.Effect<Uint8Array, UsageError> =>
  Effect.try({
    try: () => new Uint8Array(Fs.readFileSync(path === "-" ? 0 : path)),
    catch: (error) => {
      const code = error !== null && typeof error === "object" && "code" in error ? String(error.code) : String(error)
      return usage(option, `cannot read ${path === "-" ? "stdin" : show(path)} (${code})`)
    }
  })

const bodyBytes = (option: string, value: string): Effect.Effect<Uint8Array, UsageError> =>
  value.startsWith("@") ? readFile(option, value.slice(1)) : Effect.succeed(new TextEncoder().encode(value))

const parseHeader = (raw: string): Either.Either<readonly [string, string], UsageError> => {
  const colon = raw.indexOf(":")
  const name = colon === -1 ? "" : raw.slice(0, colon).trim()
  if (colon === -1 || !TOKEN.test(name)) {
    // Never echo what may be a credential: show the text only up to its first space.
    const space = raw.search(/\s/)
    const shown = space === -1 || !SECRET_HEADERS.test(raw) ? raw : `${raw.slice(0, space)} <redacted>`
    return Either.left(usage("--header", `expected "Name: value", got ${show(shown)}`))
  }
  const value = raw.slice(colon + 1).trim()
  if (/[\r\n\0]/.test(value)) return Either.left(usage("--header", `the value of ${name} has a line break or NUL`))
  return Either.right([name, value] as const)
}

const parseUrl = (raw: string): Either.Either<URL, UsageError> => {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`)
  } catch {
    return Either.left(usage("<url>", `not a URL: ${show(raw.replace(/\/\/[^/@]*@/, "//<redacted>@"))}`))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(usage("<url>", `only http and https URLs are supported, got ${show(url.protocol)}`))
  }
  return Either.right(url)
}

const integer = (option: string, raw: string): Either.Either<number, UsageError> =>
  /^\s*\d+\s*$/.test(raw) ?
    Either.right(Number(raw)) :
    Either.left(usage(option, `expected a whole number of at least 1, got ${show(raw)}`))

const duration = (option: string, raw: string): Either.Either<Duration.Duration, UsageError> =>
  Either.mapLeft(RetryPolicy.parseDuration(raw), (reason) => usage(option, reason))

const statuses = (raw: string): Either.Either<Array<RetryPolicy.StatusPattern>, UsageError> => {
  if (raw.trim().toLowerCase() === "none") return Either.right([])
  const out: Array<RetryPolicy.StatusPattern> = []
  for (const item of raw.split(",").map((s) => s.trim())) {
    const lower = item.toLowerCase()
    if (lower === "4xx" || lower === "5xx") out.push(lower)
    else if (/^\d{3}$/.test(item)) out.push(Number(item))
    else return Either.left(usage("--retry-status", `expected statuses such as 429,503,5xx, got ${show(item)}`))
  }
  return Either.right(out)
}

// Which option wrote each policy field, for naming it when the core rejects the value.
const optionOfField: Record<string, string> = {
  maxAttempts: "--max-attempts",
  maxElapsed: "--max-time",
  baseDelay: "--base-delay",
  maxDelay: "--max-delay",
  attemptTimeout: "--attempt-timeout",
  "retryOn.statuses": "--retry-status",
  methods: "--retry-method"
}

const policyOf = (parsed: Parsed): Either.Either<RetryPolicy.RetryPolicy, UsageError> =>
  Either.gen(function*() {
    // What was typed for each field, to show it as typed when the core rejects it.
    const raw: Record<string, string> = {}
    const options: {
      -readonly [K in keyof RetryPolicy.Options]: RetryPolicy.Options[K]
    } = {}
    const opt = <A>(
      value: Option.Option<string>,
      field: string,
      decode: (raw: string) => Either.Either<A, UsageError>
    ) =>
      Option.match(value, {
        onNone: () => Either.right(undefined),
        onSome: (text) => {
          raw[field] = text
          return Either.map(decode(text), (a): A | undefined => a)
        }
      })
    const maxAttempts = yield* opt(parsed.maxAttempts, "maxAttempts", (t) => integer("--max-attempts", t))
    if (maxAttempts !== undefined) options.maxAttempts = maxAttempts
    const maxElapsed = yield* opt(parsed.maxTime, "maxElapsed", (t) => duration("--max-time", t))
    if (maxElapsed !== undefined) options.maxElapsed = maxElapsed
    const baseDelay = yield* opt(parsed.baseDelay, "baseDelay", (t) => duration("--base-delay", t))
    if (baseDelay !== undefined) options.baseDelay = baseDelay
    const maxDelay = yield* opt(parsed.maxDelay, "maxDelay", (t) => duration("--max-delay", t))
    if (maxDelay !== undefined) options.maxDelay = maxDelay
    const attemptTimeout = yield* opt(parsed.attemptTimeout, "attemptTimeout", (t) => duration("--attempt-timeout", t))
    if (attemptTimeout !== undefined) options.attemptTimeout = attemptTimeout
    const retryStatus = yield* opt(parsed.retryStatus, "retryOn.statuses", statuses)
    if (retryStatus !== undefined) options.retryOn = { statuses: retryStatus }
    const methods = yield* opt(
      parsed.retryMethod,
      "methods",
      (t) => Either.right(t.split(",").map((s) => s.trim()).filter((s) => s !== ""))
    )
    if (methods !== undefined) options.methods = methods
    if (parsed.noJitter) options.jitter = "none"
    if (parsed.verbose) options.log = { level: "Info", query: true, body: false }
    return yield* Either.mapLeft(RetryPolicy.validate(options), (error) => {
      const field = error.field.replace(/\[\d+\]$/, "")
      // A list names the entry at fault; a single value shows as it was typed.
      const value = field === error.field ? raw[field] : String(error.value)
      return usage(
        optionOfField[field] ?? field,
        value === undefined ? error.reason : `${error.reason}, got ${show(value)}`
      )
    })
  })

/**
 * Checks every value and reads the files the options name.
 *
 * @internal
 */
export const settings = (parsed: Parsed): Effect.Effect<Settings, UsageError> =>
  Effect.gen(function*() {
    const url = yield* parseUrl(parsed.url)
    const headers: Array<readonly [string, string]> = []
    for (const raw of parsed.header) headers.push(yield* parseHeader(raw))
    // Credentials in the URL become a Basic Authorization header, as curl does, so the URL itself carries none.
    if (url.username !== "" || url.password !== "") {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      if (!headers.some(([name]) => name.toLowerCase() === "authorization")) {
        headers.push(["Authorization", `Basic ${Buffer.from(credentials).toString("base64")}`])
      }
      url.username = ""
      url.password = ""
    }

    if (Option.isSome(parsed.data) && Option.isSome(parsed.json)) {
      return yield* usage("--json", "cannot be combined with --data")
    }
    let body: Body | undefined
    if (Option.isSome(parsed.data)) {
      body = {
        bytes: yield* bodyBytes("--data", parsed.data.value),
        contentType: "application/x-www-form-urlencoded",
        accept: undefined
      }
    } else if (Option.isSome(parsed.json)) {
      body = {
        bytes: yield* bodyBytes("--json", parsed.json.value),
        contentType: "application/json",
        accept: "application/json"
      }
    }

    let method: HttpMethod.HttpMethod = body === undefined ? "GET" : "POST"
    if (Option.isSome(parsed.method)) {
      const upper = parsed.method.value.toUpperCase() as HttpMethod.HttpMethod
      if (!METHODS.includes(upper)) {
        return yield* usage("--method", `expected one of ${METHODS.join(", ")}, got ${show(parsed.method.value)}`)
      }
      method = upper
    }

    const policy = yield* policyOf(parsed)

    let ca: string | undefined
    if (Option.isSome(parsed.cacert)) {
      ca = new TextDecoder().decode(yield* readFile("--cacert", parsed.cacert.value))
      if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
        return yield* usage("--cacert", `no PEM certificate in ${show(parsed.cacert.value)}`)
      }
    }
    let proxy: NodeHttpRetry.Options["proxy"] = "none"
    if (Option.isSome(parsed.proxy)) {
      const raw = parsed.proxy.value
      if (raw !== "none" && raw !== "env") {
        let ok = false
        try {
          ok = ["http:", "https:"].includes(new URL(raw).protocol)
        } catch {
          ok = false
        }
        if (!ok) {
          const shown = raw.replace(/\/\/[^/@]*@/, "//<redacted>@")
          return yield* usage("--proxy", `expected an http(s) proxy URL, env or none, got ${show(shown)}`)
        }
      }
      proxy = raw
    }
    const tls = {
      ...(parsed.insecure ? { rejectUnauthorized: false } : {}),
      ...(ca === undefined ? {} : { ca })
    }

    const output = Option.getOrUndefined(parsed.output)
    if (output === "") return yield* usage("--output", "expected a file name, got \"\"")

    return {
      url,
      method,
      headers,
      body,
      policy,
      maxTime: Option.isSome(parsed.maxTime) ? policy.maxElapsed : undefined,
      node: { proxy, ...(Object.keys(tls).length === 0 ? {} : { tls }) },
      include: parsed.include,
      output,
      verbose: parsed.verbose,
      silent: parsed.silent
    }
  })
