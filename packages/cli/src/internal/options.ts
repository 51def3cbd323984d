import * as Args from "@effect/cli/Args"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Path from "@effect/platform/Path"
import * as Terminal from "@effect/platform/Terminal"
import { Hedging, HttpRetry, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Fs from "node:fs"

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
 * One option as `--help` shows it.
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

/** A row of the table: the option as `--help` shows it, and as @effect/cli parses it. */
interface Row<A> {
  readonly spec: Spec
  readonly option: Options.Options<A>
}

const named = <A>(option: Options.Options<A>, spec: Spec): Options.Options<A> =>
  spec.short === undefined ? option : Options.withAlias(option, spec.short)

const valued = (spec: Spec & { readonly value: string }): Row<Option.Option<string>> => ({
  spec,
  option: Options.optional(named(Options.text(spec.long), spec))
})
const repeated = (spec: Spec & { readonly value: string }): Row<Array<string>> => ({
  spec,
  option: Options.repeated(named(Options.text(spec.long), spec))
})
const flag = (spec: Spec): Row<boolean> => ({ spec, option: named(Options.boolean(spec.long), spec) })

/**
 * A duration as this command prints it: whole milliseconds below a second,
 * then seconds to a tenth (`705ms`, `1.2s`, `30s`), then minutes.
 *
 * @internal
 */
export const formatDuration = (duration: Duration.Duration): string => {
  const millis = Duration.toMillis(duration)
  if (millis < 1000) return `${Math.round(millis)}ms`
  const tenths = Math.round(millis / 100) / 10
  if (tenths < 60) return `${tenths}s`
  const minutes = Math.floor(millis / 60_000)
  const seconds = Math.round((millis - minutes * 60_000) / 1000)
  return seconds === 0 ? `${minutes}m` : `${minutes}m ${seconds}s`
}

const d = RetryPolicy.defaults
const fmt = formatDuration

/**
 * Every option, in `--help`'s order: the one source of the parser and of
 * `--help`.
 *
 * @internal
 */
export const table = {
  method: valued({
    long: "method",
    short: "X",
    value: "<method>",
    group: "Request",
    description: "the method: any the retry policy knows (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, QUERY)",
    default: "GET, or POST with --data/--json"
  }),
  header: repeated({
    long: "header",
    short: "H",
    value: "<\"Name: value\">",
    group: "Request",
    description: "a request header; repeat for more",
    default: "none"
  }),
  userAgent: valued({
    long: "user-agent",
    short: "A",
    value: "<text>",
    group: "Request",
    description: "the User-Agent header (\"\": none)",
    default: "http-retry/<version>"
  }),
  data: valued({
    long: "data",
    short: "d",
    value: "<text|@file>",
    group: "Request",
    description: "request body, sent as is (@file: the file's bytes, @-: stdin); " +
      "Content-Type application/x-www-form-urlencoded unless -H sets one",
    default: "none"
  }),
  json: valued({
    long: "json",
    value: "<text|@file>",
    group: "Request",
    description: "JSON request body; sets Content-Type and Accept to application/json",
    default: "none"
  }),
  maxAttempts: valued({
    long: "max-attempts",
    value: "<n>",
    group: "Retry",
    description: "attempts, the first included",
    default: String(d.maxAttempts)
  }),
  maxTime: valued({
    long: "max-time",
    value: "<seconds>",
    group: "Retry",
    description: "deadline over all attempts and waits; when given, also a hard cap on the whole run, body included",
    default: fmt(d.maxElapsed)
  }),
  retryMaxTime: valued({
    long: "retry-max-time",
    value: "<seconds>",
    group: "Retry",
    description:
      "the deadline over attempts and waits alone, in place of --max-time's; a --max-time given still caps the whole run",
    default: "--max-time's"
  }),
  baseDelay: valued({
    long: "base-delay",
    value: "<seconds>",
    group: "Retry",
    description: `first backoff delay, then times ${d.factor} each retry`,
    default: fmt(d.baseDelay)
  }),
  retryDelay: valued({
    long: "retry-delay",
    value: "<seconds>",
    group: "Retry",
    description: "wait exactly this long before each retry instead of backing off (0: back off)",
    default: "back off"
  }),
  maxDelay: valued({
    long: "max-delay",
    value: "<seconds>",
    group: "Retry",
    description: "cap on one backoff delay",
    default: fmt(d.maxDelay)
  }),
  attemptTimeout: valued({
    long: "attempt-timeout",
    value: "<seconds>",
    group: "Retry",
    description: "timeout of each attempt, up to the response headers",
    default: fmt(d.attemptTimeout)
  }),
  hedge: valued({
    long: "hedge",
    value: "<seconds>",
    group: "Retry",
    description:
      "when a request the policy may repeat has no answer after this delay, send a second attempt beside it; the first answer wins (one hedge, counted in --max-attempts)",
    default: "off"
  }),
  noJitter: flag({
    long: "no-jitter",
    group: "Retry",
    description: "wait exactly the backoff delay instead of a random time up to it",
    default: "off, full jitter"
  }),
  retryStatus: valued({
    long: "retry-status",
    value: "<list>",
    group: "Retry",
    description: "statuses to retry, comma-separated, 4xx/5xx allowed; none (or \"\") retries no status",
    default: d.retryOn.statuses.join(",")
  }),
  retryMethod: valued({
    long: "retry-method",
    value: "<list>",
    group: "Retry",
    description: "methods to retry, comma-separated (others only with an Idempotency-Key header)",
    default: d.methods.join(",")
  }),
  insecure: flag({
    long: "insecure",
    short: "k",
    group: "Connection",
    description: "do not verify the server's TLS certificate (prints a warning)",
    default: "off, certificates are verified"
  }),
  cacert: valued({
    long: "cacert",
    value: "<file>",
    group: "Connection",
    description: "PEM file of CA certificates to trust instead of Node's bundled list",
    default: "Node's bundled CAs"
  }),
  proxy: valued({
    long: "proxy",
    value: "<url|env|none>",
    group: "Connection",
    description: "an http(s) proxy URL, env (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) or none",
    default: "none"
  }),
  connectTimeout: valued({
    long: "connect-timeout",
    value: "<seconds>",
    group: "Connection",
    description: "time to connect, TLS included",
    default: "10s"
  }),
  include: flag({
    long: "include",
    short: "i",
    group: "Output",
    description: "print the status line and response headers before the body",
    default: "off"
  }),
  output: valued({
    long: "output",
    short: "o",
    value: "<file>",
    group: "Output",
    description: "write the body (and -i headers) to a file instead of stdout",
    default: "stdout"
  }),
  verbose: flag({
    long: "verbose",
    short: "v",
    group: "Output",
    description: "log the request, each attempt, its wait and why on stderr, secrets redacted",
    default: "off"
  }),
  silent: flag({
    long: "silent",
    short: "s",
    group: "Output",
    description: "no countdown, warning or error message on stderr (usage errors still print)",
    default: "off"
  })
}

type Table = typeof table

/** @effect/cli's own `--help` and `--version`, shown with the rest. */
const builtIns: ReadonlyArray<Spec> = [
  { long: "help", short: "h", group: "Output", description: "show this help and exit", default: "" },
  { long: "version", group: "Output", description: "show the version and exit", default: "" }
]

const rows: ReadonlyArray<Row<unknown>> = Object.values(table)

/** @internal */
export const specs: ReadonlyArray<Spec> = [...rows.map((row) => row.spec), ...builtIns]

const command = Descriptor.make(
  "http-retry",
  Options.all(
    Object.fromEntries(Object.entries(table).map(([key, row]) => [key, row.option])) as {
      readonly [K in keyof Table]: Table[K]["option"]
    }
  ),
  Args.text({ name: "url" })
)

/** What @effect/cli parsed, before any value is checked. @internal */
export interface Parsed {
  readonly options: { readonly [K in keyof Table]: Table[K] extends Row<infer A> ? A : never }
  readonly url: string
}

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
stdout byte for byte; messages go to stderr. Durations are seconds, as curl's
(2.5), or carry a unit: 250ms, 2s, "1.5 minutes". Relative file names are read
and written from the directory the command was run in.

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
  http-retry -v --max-attempts 6 --max-time 30 -H "Authorization: Bearer $TOKEN" https://api.example.com/items
  http-retry --json @order.json -H "Idempotency-Key: 7f9c2a" -o receipt.json https://api.example.com/orders

Exit codes (as curl's):
  0    success: a 2xx answer (or 1xx/3xx: redirects are not followed)
  22   the final answer was an HTTP status of 400 or more (its body still goes to stdout)
  7    could not connect after all attempts
  28   timed out: --attempt-timeout or --connect-timeout on the last attempt, or --max-time
  6    could not resolve the host name
  35   TLS handshake failed
  60   the server's TLS certificate did not verify
  56   connection reset, failure receiving the response, or the proxy refused the credentials (407)
  23   could not write the output
  2    bad usage or an invalid option value
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM)
  1    internal error (a bug: please report it)
`
}

// --- Parsing ------------------------------------------------------------------

const byLong = new Map(specs.map((spec) => [spec.long, spec]))
const byShort = new Map(specs.flatMap((spec) => spec.short === undefined ? [] : [[spec.short, spec] as const]))

/**
 * An argument that is not an option, for a message: a URL (a second one) as
 * `showUnparsedUrl` shows it, a long word that may be a token (the value of an
 * unquoted `-H Authorization: Bearer ...`) by its first characters only.
 */
const showStray = (token: string): string =>
  // A URL: shown as a URL is, secrets hidden. Not what merely reads as a host: a JWT (`a.b.c`) or `user:123456`
  // reads as one too.
  /[@?#]|:\/\//.test(token) ?
    showUnparsedUrl(token) :
    token.length > 8 ?
    show(`${token.slice(0, 4)}…`) :
    show(token)

/**
 * @effect/cli leaves what it could not place as an option in the URL or the
 * leftover arguments: an unknown option, a second copy of one, one missing its
 * value, or a short option with its value glued on. Says which, for the one
 * such argument found.
 */
const stray = (token: string, isLast: boolean): UsageError => {
  if (!token.startsWith("-") || token === "-") {
    return usage(undefined, `unexpected argument ${showStray(token)}: one URL per run (see --help)`)
  }
  const known = (spec: Spec, written: string): UsageError =>
    spec.value !== undefined && isLast ?
      usage(written, `missing value ${spec.value}`) :
      usage(written, "given more than once")
  if (token.startsWith("--")) {
    const name = token.slice(2).split("=")[0]
    const spec = byLong.get(name)
    return spec === undefined ? usage(`--${name}`, "unknown option (see --help)") : known(spec, `--${name}`)
  }
  // A cluster of short flags, e.g. -siv; a valued one ends it.
  for (let i = 1; i < token.length; i++) {
    const spec = byShort.get(token[i])
    if (spec === undefined) return usage(`-${token[i]}`, "unknown option (see --help)")
    if (spec.value !== undefined && i < token.length - 1) {
      return usage(`-${token[i]}`, `write the value as a separate argument: -${token[i]} ${token.slice(i + 1)}`)
    }
    if (spec.value !== undefined && token.length > 2) {
      return usage(`-${token[i]}`, `takes a value: write it as a separate argument, -${token[i]} ${spec.value}`)
    }
  }
  return known(byShort.get(token[token.length - 1])!, token.length === 2 ? token : `-${token[token.length - 1]}`)
}

/**
 * What @effect/cli's parser asks for. Only options this command does not have (files it checks, prompts, the wizard)
 * use them, so none is real: a real terminal would take hold of stdin, which `-d @-` reads.
 */
const parseServices = Layer.mergeAll(
  FileSystem.layerNoop({}),
  Path.layer,
  Layer.succeed(
    Terminal.Terminal,
    Terminal.Terminal.of({
      columns: Effect.succeed(80),
      rows: Effect.succeed(24),
      isTTY: Effect.succeed(false),
      readInput: Effect.dieMessage("http-retry reads no terminal input"),
      readLine: Effect.dieMessage("http-retry reads no terminal input"),
      display: () => Effect.dieMessage("http-retry writes to no terminal")
    })
  )
)

const cliConfig = CliConfig.make({ isCaseSensitive: true, autoCorrectLimit: 0, showBuiltIns: false })

// @effect/cli's built-ins that this command does not offer.
const otherBuiltIns: Record<string, string> = {
  ShowCompletions: "--completions",
  ShowWizard: "--wizard",
  SetLogLevel: "--log-level"
}

/** Whether `token` is an option written alone that takes the next argument as its value (`-X`, `--max-time`). */
const takesValue = (token: string): boolean =>
  (token.startsWith("--") && !token.includes("=") && byLong.get(token.slice(2))?.value !== undefined) ||
  (token.length === 2 && token.startsWith("-") && byShort.get(token[1])?.value !== undefined)

/**
 * Short options written as curl takes them, for @effect/cli, which takes each
 * on its own: a cluster (`-sv`, `-sX POST`: a valued one ends it, its value
 * the next argument) and a value glued on (`-XPOST`, `-so out.txt`'s `-o`)
 * become separate arguments. A token with a letter that is no short option is
 * left as it is, for `stray` to name; a value (after a valued option, or
 * after `--`) is never read as options.
 */
const expandShort = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const token = args[i]
    if (token === "--") {
      out.push(...args.slice(i))
      break
    }
    if (takesValue(token)) {
      out.push(token)
      if (i + 1 < args.length) out.push(args[++i])
      continue
    }
    if (!/^-[^-]./.test(token) || !byShort.has(token[1])) {
      out.push(token)
      continue
    }
    const expanded: Array<string> = []
    let j = 1
    for (; j < token.length; j++) {
      const spec = byShort.get(token[j])
      if (spec === undefined) break
      expanded.push(`-${token[j]}`)
      if (spec.value !== undefined) {
        if (j < token.length - 1) expanded.push(token.slice(j + 1))
        else if (i + 1 < args.length) expanded.push(args[++i])
        j = token.length
        break
      }
    }
    // A letter that is no option: the token as written, for `stray` to name.
    out.push(...(j === token.length ? expanded : [token]))
  }
  return out
}

/**
 * argv (without node and the script) through @effect/cli: the options and the
 * URL, or `--help` / `--version`, or a usage error naming the option.
 *
 * @internal
 */
export const parse = (written: ReadonlyArray<string>): Effect.Effect<Parsed | "help" | "version", UsageError> => {
  const args = expandShort(written)
  return Descriptor.parse(command, ["http-retry", ...args], cliConfig).pipe(
    Effect.mapError((error) =>
      ValidationError.isMissingValue(error) ?
        usage(undefined, "missing the URL to request (see --help)") :
        // eslint-disable-next-line no-control-regex
        usage(undefined, `${HelpDoc.toAnsiText(error.error).replace(/\x1b\[[0-9;]*m/g, "").trim()} (see --help)`)
    ),
    Effect.flatMap((directive): Effect.Effect<Parsed | "help" | "version", UsageError> => {
      if (directive._tag === "BuiltIn") {
        const tag = directive.option._tag
        if (tag === "ShowHelp") return Effect.succeed("help")
        if (tag === "ShowVersion") return Effect.succeed("version")
        return Effect.fail(usage(otherBuiltIns[tag] ?? tag, "unknown option (see --help)"))
      }
      const { args: url, options } = directive.value
      const unplaced = url.startsWith("-") && url !== "-" ? [url, ...directive.leftover] : directive.leftover
      // @effect/cli finds its built-ins only in a command line it can otherwise place; help still wins, as with curl.
      if (unplaced.some((token) => token === "-h" || token === "--help")) return Effect.succeed("help")
      if (unplaced.includes("--version")) return Effect.succeed("version")
      // A valued option last, with no value after it, is what went wrong: the tokens before it were left unplaced
      // only because of it.
      const last = args[args.length - 1]
      // (Unless it is itself the value of the option before it: `-o -X` writes to a file named -X.)
      const missing = last !== undefined && unplaced.includes(last) && takesValue(last) &&
        !(args.length > 1 && takesValue(args[args.length - 2]))
      const token = missing ? last : unplaced[0]
      if (token !== undefined) return Effect.fail(stray(token, token === last))
      return Effect.succeed({ options, url })
    }),
    Effect.provide(parseServices)
  )
}

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
  readonly method: string
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>
  readonly body: Body | undefined
  readonly policy: RetryPolicy.RetryPolicy
  /** Set only by --max-time: a hard cap on the whole transfer, body included. */
  readonly maxTime: Duration.Duration | undefined
  readonly client: Layer.Layer<HttpClient.HttpClient>
  /** Set by --hedge: the hedge delay. */
  readonly hedge: Duration.Duration | undefined
  readonly include: boolean
  readonly output: string | undefined
  readonly verbose: boolean
  readonly silent: boolean
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const SECRET_HEADERS =
  /authori[sz]ation|authentication|cookie|api-?key|token|secret|bearer|basic|passw|pwd|signature|credential|session|(?:auth|access|private|subscription|client)[-_]?key/i

/**
 * All of stdin, read without blocking the event loop: a synchronous read would hold Ctrl-C and SIGTERM until stdin
 * ends (a slow producer, a terminal). Interrupted, it stops reading.
 */
const readStdin: Effect.Effect<Uint8Array, unknown> = Effect.async((resume) => {
  const stdin = process.stdin
  // Read already (`-d @- --cacert -`): nothing is left, as a second read of a pipe finds.
  if (stdin.readableEnded || stdin.destroyed) return resume(Effect.succeed(new Uint8Array()))
  const chunks: Array<Buffer> = []
  const onData = (chunk: Buffer) => void chunks.push(chunk)
  const onEnd = () => {
    stop()
    resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
  }
  const onError = (error: unknown) => {
    stop()
    resume(Effect.fail(error))
  }
  const stop = () => {
    stdin.off("data", onData)
    stdin.off("end", onEnd)
    stdin.off("error", onError)
    stdin.pause()
  }
  stdin.on("data", onData)
  stdin.once("end", onEnd)
  stdin.once("error", onError)
  return Effect.sync(() => {
    stop()
    stdin.destroy()
  })
})

const readFile = (option: string, path: string): Effect.Effect<Uint8Array, UsageError> =>
  Effect.mapError(
    path === "-" ? readStdin : Effect.try(() => new Uint8Array(Fs.readFileSync(path))),
    (error) => {
      const cause = Predicate.hasProperty(error, "error") ? error.error : error
      const code = Predicate.hasProperty(cause, "code") ? String(cause.code) : String(cause)
      return usage(option, `cannot read ${path === "-" ? "stdin" : show(path)} (${code})`)
    }
  )

const bodyBytes = (option: string, value: string): Effect.Effect<Uint8Array, UsageError> =>
  value.startsWith("@") ? readFile(option, value.slice(1)) : Effect.succeed(new TextEncoder().encode(value))

const parseHeader = (raw: string): Either.Either<readonly [string, string], UsageError> => {
  const colon = raw.indexOf(":")
  const name = colon === -1 ? "" : raw.slice(0, colon).trim()
  if (colon === -1 || !TOKEN.test(name)) {
    // Never echo what may be a credential. Of "name value" or "name=value", the name alone, and only when it reads
    // as a header's name (base64 with its "=" padding does not); of one word, at most 16 characters, a longer one by
    // its first 4.
    const end = raw.search(/[\s=:]/)
    const head = end === -1 ? raw : raw.slice(0, end)
    const start = `${head.slice(0, 4)}…`
    const namelike = /^[A-Za-z][A-Za-z0-9-]{0,39}$/.test(head) && !/^[A-Za-z0-9+/_-]+={1,2}$/.test(raw.trim())
    const shown = end === -1 ?
      (head.length > 16 ? start : head) :
      `${namelike ? head : head.length > 8 ? start : "…"} <redacted>`
    return Either.left(usage("--header", `expected "Name: value", got ${show(shown)}`))
  }
  const value = raw.slice(colon + 1).trim()
  if (/[\r\n\0]/.test(value)) return Either.left(usage("--header", `the value of ${name} has a line break or NUL`))
  return Either.right([name, value] as const)
}

/**
 * A URL that did not parse, for a message: everything between the scheme and
 * the last "@" is hidden. The user info of a text that is not a URL has no
 * known end: a password may hold an unencoded "/", and one with no scheme
 * ("user:pass@host") is read by `new URL` as scheme "user:".
 */
const showUnparsedUrl = (raw: string): string => {
  const at = raw.lastIndexOf("@")
  // A query or fragment may hold a token: dropped, and marked.
  if (at === -1) return show(raw.replace(/[?#].*$/s, "?<unparsed>"))
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0] ?? ""
  // Only the host-like text after it: the "@" may as well be in a query value, with a secret after it.
  return show(`${scheme}<redacted>@${/^[^\s/?#\\&;=,@]*/.exec(raw.slice(at + 1))![0]}`)
}

const parseUrl = (raw: string): Either.Either<URL, UsageError> => {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`)
  } catch {
    return Either.left(usage("<url>", `not a URL: ${showUnparsedUrl(raw)}`))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(usage("<url>", `only http and https URLs are supported, got ${show(url.protocol)}`))
  }
  return Either.right(url)
}

/** The user name and password of `url`, percent-decoded, for a Basic Authorization header; never shown. */
const decodeCredentials = (url: URL): Either.Either<string, UsageError> => {
  try {
    return Either.right(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)
  } catch {
    return Either.left(
      usage("<url>", "the user name or password has a \"%\" that is not a percent-escape (write \"%25\" for \"%\")")
    )
  }
}

const integer = (option: string, raw: string): Either.Either<number, UsageError> =>
  /^\s*\d+\s*$/.test(raw) ?
    Either.right(Number(raw)) :
    Either.left(usage(option, `expected a whole number of at least 1, got ${show(raw)}`))

/** Seconds, as curl's durations, unless a unit is given: the library's parser reads the text either way. */
const seconds = (option: string, raw: string): Either.Either<Duration.Duration, UsageError> =>
  Either.mapLeft(
    RetryPolicy.parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(raw) ? `${raw.trim()}s` : raw),
    () => usage(option, `expected seconds (2.5) or a duration with a unit (250ms, 2s, 1.5m), got ${show(raw)}`)
  )

/** A comma-separated list; `none` and "" are both the empty list, as for the HTTP_RETRY_* variables. */
const list = (raw: string): Array<string> =>
  raw.trim().toLowerCase() === "none" ? [] : raw.split(",").map((s) => s.trim()).filter((s) => s !== "")

const statuses = (raw: string): Either.Either<Array<RetryPolicy.StatusPattern>, UsageError> => {
  const out: Array<RetryPolicy.StatusPattern> = []
  for (const item of list(raw)) {
    const lower = item.toLowerCase()
    if (lower === "4xx" || lower === "5xx") out.push(lower)
    else if (/^\d{3}$/.test(item)) out.push(Number(item))
    else return Either.left(usage("--retry-status", `expected statuses such as 429,503,5xx, got ${show(item)}`))
  }
  return Either.right(out)
}

type PolicyOptions = { -readonly [K in keyof RetryPolicy.Options]: RetryPolicy.Options[K] }

/**
 * The library's own check of a policy, its field named as the option that set
 * it, the value shown as it was typed.
 */
const checkPolicy = (
  options: RetryPolicy.Options,
  optionOf: Record<string, string>,
  typed: Record<string, string>
): Either.Either<RetryPolicy.RetryPolicy, UsageError> =>
  Either.mapLeft(RetryPolicy.validate(options), (error) => {
    const field = error.field.replace(/\[\d+\]$/, "")
    // A list names the entry at fault; a single value shows as it was typed.
    const value = field === error.field ? typed[field] : String(error.value)
    return usage(optionOf[field] ?? field, value === undefined ? error.reason : `${error.reason}, got ${show(value)}`)
  })

const policyOf = (parsed: Parsed["options"]): Either.Either<RetryPolicy.RetryPolicy, UsageError> =>
  Either.gen(function*() {
    // Which option wrote each field, and what was typed, to name both when the library rejects the value.
    const optionOf: Record<string, string> = {}
    const typed: Record<string, string> = {}
    const options: PolicyOptions = {}
    const read = <A>(
      value: Option.Option<string>,
      field: string,
      option: string,
      decode: (option: string, raw: string) => Either.Either<A, UsageError>
    ): Either.Either<A | undefined, UsageError> => {
      if (Option.isNone(value)) return Either.right(undefined)
      optionOf[field] = option
      typed[field] = value.value
      return decode(option, value.value)
    }
    const maxAttempts = yield* read(parsed.maxAttempts, "maxAttempts", "--max-attempts", integer)
    if (maxAttempts !== undefined) options.maxAttempts = maxAttempts
    const maxTime = yield* read(parsed.maxTime, "maxElapsed", "--max-time", seconds)
    // Checked here too: with --retry-max-time, the policy's deadline is that one, and would not check this.
    if (maxTime !== undefined && Duration.toMillis(maxTime) <= 0) {
      return yield* Either.left(usage("--max-time", `must be greater than zero, got ${show(typed.maxElapsed)}`))
    }
    const retryMaxTime = yield* read(parsed.retryMaxTime, "maxElapsed", "--retry-max-time", seconds)
    const maxElapsed = retryMaxTime ?? maxTime
    if (maxElapsed !== undefined) options.maxElapsed = maxElapsed
    const baseDelay = yield* read(parsed.baseDelay, "baseDelay", "--base-delay", seconds)
    if (baseDelay !== undefined) options.baseDelay = baseDelay
    const maxDelay = yield* read(parsed.maxDelay, "maxDelay", "--max-delay", seconds)
    if (maxDelay !== undefined) options.maxDelay = maxDelay
    const attemptTimeout = yield* read(parsed.attemptTimeout, "attemptTimeout", "--attempt-timeout", seconds)
    if (attemptTimeout !== undefined) options.attemptTimeout = attemptTimeout
    if (parsed.noJitter) options.jitter = "none"
    const retryDelay = yield* read(parsed.retryDelay, "baseDelay", "--retry-delay", seconds)
    if (retryDelay !== undefined && Duration.toMillis(retryDelay) > 0) {
      if (baseDelay !== undefined) {
        return yield* Either.left(usage("--retry-delay", "cannot be combined with --base-delay"))
      }
      // curl's --retry-delay: the same wait before every retry.
      options.baseDelay = retryDelay
      options.factor = 1
      options.jitter = "none"
      if (maxDelay === undefined) options.maxDelay = retryDelay
    }
    const retryStatus = yield* read(parsed.retryStatus, "retryOn.statuses", "--retry-status", (_, t) => statuses(t))
    if (retryStatus !== undefined) options.retryOn = { statuses: retryStatus }
    const methods = yield* read(parsed.retryMethod, "methods", "--retry-method", (_, t) => Either.right(list(t)))
    if (methods !== undefined) options.methods = methods
    // -v shows the request's headers: one given with -H whose name says it holds a secret is redacted there too, as
    // a malformed one is in a usage error.
    const secretHeaders = parsed.header.map((raw) => raw.slice(0, Math.max(0, raw.indexOf(":"))).trim()).filter((
      name
    ) => name !== "" && SECRET_HEADERS.test(name))
    if (secretHeaders.length > 0) options.redact = { headers: secretHeaders }
    return yield* checkPolicy(options, optionOf, typed)
  })

/** -X: any method the library's policy knows, checked by the library. */
const methodOf = (raw: string): Either.Either<string, UsageError> =>
  Either.map(
    checkPolicy({ methods: [raw] }, { methods: "--method" }, {}),
    (policy) => policy.methods[0]
  )

// Which option wrote each NodeHttpRetry field, for naming it when the layer rejects the value.
const optionOfNodeField: Record<string, string> = {
  proxy: "--proxy",
  connectTimeout: "--connect-timeout",
  "tls.ca": "--cacert"
}

/** The library's own check of the connection options; a value shows as typed, or as the library shows it. */
const clientOf = (
  options: NodeHttpRetry.Options,
  typed: Record<string, string>
): Either.Either<Layer.Layer<HttpClient.HttpClient>, UsageError> => {
  try {
    return Either.right(NodeHttpRetry.layerClient(options))
  } catch (error) {
    if (!(error instanceof NodeHttpRetry.NodeHttpRetryOptionsError)) throw error
    const value = typed[error.field] === undefined ? error.value : show(typed[error.field])
    return Either.left(usage(optionOfNodeField[error.field] ?? error.field, `${error.reason}, got ${value}`))
  }
}

/**
 * Checks every value and reads the files the options name.
 *
 * @internal
 */
export const settings = (parsed: Parsed, version: string): Effect.Effect<Settings, UsageError> =>
  Effect.gen(function*() {
    const o = parsed.options
    const url = yield* parseUrl(parsed.url)
    const headers: Array<readonly [string, string]> = []
    for (const raw of o.header) headers.push(yield* parseHeader(raw))
    // Credentials in the URL become a Basic Authorization header, as curl does, so the URL itself carries none.
    if (url.username !== "" || url.password !== "") {
      const credentials = yield* decodeCredentials(url)
      if (!headers.some(([name]) => name.toLowerCase() === "authorization")) {
        headers.push(["Authorization", `Basic ${Buffer.from(credentials).toString("base64")}`])
      }
      url.username = ""
      url.password = ""
    }
    // As curl: -A sets the User-Agent, -A "" sends none, and a User-Agent given with -H wins over both.
    const userAgent = Option.getOrElse(o.userAgent, () => `http-retry/${version}`)
    if (userAgent !== "" && !headers.some(([name]) => name.toLowerCase() === "user-agent")) {
      headers.push(["User-Agent", userAgent])
    }

    if (Option.isSome(o.data) && Option.isSome(o.json)) {
      return yield* usage("--json", "cannot be combined with --data")
    }
    let body: Body | undefined
    if (Option.isSome(o.data)) {
      body = {
        bytes: yield* bodyBytes("--data", o.data.value),
        contentType: "application/x-www-form-urlencoded",
        accept: undefined
      }
    } else if (Option.isSome(o.json)) {
      body = {
        bytes: yield* bodyBytes("--json", o.json.value),
        contentType: "application/json",
        accept: "application/json"
      }
    }

    const method = Option.isSome(o.method) ? yield* methodOf(o.method.value) : body === undefined ? "GET" : "POST"
    const policy = yield* policyOf(o)

    let ca: string | undefined
    if (Option.isSome(o.cacert)) {
      ca = new TextDecoder().decode(yield* readFile("--cacert", o.cacert.value))
      if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
        return yield* usage("--cacert", `no PEM certificate in ${show(o.cacert.value)}`)
      }
    }
    const tls = {
      ...(o.insecure ? { rejectUnauthorized: false } : {}),
      ...(ca === undefined ? {} : { ca })
    }
    const connectTimeout = Option.isSome(o.connectTimeout) ?
      yield* seconds("--connect-timeout", o.connectTimeout.value) :
      undefined
    const client = yield* clientOf({
      ...(Option.isSome(o.proxy) ? { proxy: o.proxy.value } : {}),
      ...(connectTimeout === undefined ? {} : { connectTimeout }),
      ...(Object.keys(tls).length === 0 ? {} : { tls })
    }, Option.isSome(o.connectTimeout) ? { connectTimeout: o.connectTimeout.value } : {})

    const output = Option.getOrUndefined(o.output)
    if (output === "") return yield* usage("--output", "expected a file name, got \"\"")

    let hedge: Duration.Duration | undefined
    if (Option.isSome(o.hedge)) {
      hedge = yield* seconds("--hedge", o.hedge.value)
      // The library's own check of the delay.
      try {
        HttpRetry.withHedging({ delay: hedge })
      } catch (error) {
        if (!(error instanceof Hedging.HedgingError)) throw error
        return yield* usage("--hedge", `${error.reason}, got ${show(o.hedge.value)}`)
      }
    }

    return {
      url,
      method,
      headers,
      body,
      policy,
      maxTime: Option.isSome(o.maxTime) ? (yield* seconds("--max-time", o.maxTime.value)) : undefined,
      client,
      hedge,
      include: o.include,
      output,
      verbose: o.verbose,
      silent: o.silent
    }
  })
