import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HttpRetry, HttpStatusError, TransportFailure } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { STATUS_CODES } from "node:http"
import * as NodeHttpRetry from "../NodeHttpRetry.js"
import * as Options from "./cliOptions.js"

/**
 * The exit codes, curl's where curl has one.
 *
 * @internal
 */
export const ExitCode = {
  Ok: 0,
  Usage: 2,
  DnsFailed: 6,
  CouldNotConnect: 7,
  HttpError: 22,
  WriteError: 23,
  TimedOut: 28,
  TlsHandshake: 35,
  ReceiveFailed: 56,
  TlsVerification: 60,
  Interrupted: 130,
  Terminated: 143,
  Internal: 1
} as const

const NAME = "http-retry"

// --- stderr -------------------------------------------------------------------

const stderrLine = (line: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${line}\n`))

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message])
    .map((part) => typeof part === "string" ? part : Inspectable.toStringUnknown(part))
    .join(" ")

/** Log lines go to stderr: the core's attempt lines as `* ...`, warnings with the command's name. */
const stderrLogger = (silent: boolean, verbose: boolean) =>
  Logger.make(({ logLevel, message }) => {
    if (silent && !verbose) return
    const text = messageText(message)
    if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) {
      process.stderr.write(`${NAME}: ${logLevel._tag.toLowerCase()}: ${text.replace(/^http-retry: /, "")}\n`)
    } else if (verbose) {
      process.stderr.write(`* ${text}\n`)
    }
  })

/**
 * While a wait of more than a second runs, a line on an interactive stderr
 * counts it down; it is cleared when the wait ends or is interrupted.
 */
const countdown = (info: HttpRetry.RetryInfo<unknown>): Effect.Effect<void> => {
  const deadline = Date.now() + Duration.toMillis(info.delay)
  const why = info.failure._tag === "Status" ? `HTTP ${info.failure.response.status}` : "failed"
  const next = `attempt ${info.attempt + 1} of ${info.maxAttempts}`
  const clear = Effect.sync(() => void process.stderr.write("\r\x1b[K"))
  const tick: Effect.Effect<void> = Effect.suspend(() => {
    const left = deadline - Date.now()
    if (left <= 20) return clear
    const seconds = Math.ceil(left / 1000)
    process.stderr.write(`\r\x1b[K${NAME}: ${why}; ${next} in ${seconds}s (${info.source})`)
    return Effect.zipRight(Effect.sleep(Duration.millis(left - (seconds - 1) * 1000)), tick)
  })
  return Effect.ensuring(tick, clear)
}

// --- Output -------------------------------------------------------------------

class OutputError extends Data.TaggedError("OutputError")<{ readonly target: string; readonly code: string }> {
  override get message(): string {
    return `cannot write to ${this.target} (${this.code})`
  }
}

const codeOf = (error: unknown): string =>
  error !== null && typeof error === "object" && "code" in error ? String(error.code) : String(error)

interface Sink {
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, OutputError>
  readonly close: Effect.Effect<void>
}

// Each write waits for its callback, so nothing is lost when the process exits with a non-zero code right after.
const stdoutSink: Sink = {
  write: (chunk) =>
    Effect.async<void, OutputError>((resume) => {
      process.stdout.write(chunk, (error) =>
        resume(error ? Effect.fail(new OutputError({ target: "stdout", code: codeOf(error) })) : Effect.void))
    }),
  close: Effect.void
}

const fileSink = (path: string): Effect.Effect<Sink, OutputError> =>
  Effect.try({
    try: () => Fs.openSync(path, "w"),
    catch: (error) => new OutputError({ target: JSON.stringify(path), code: codeOf(error) })
  }).pipe(Effect.map((fd): Sink => ({
    write: (chunk) =>
      Effect.try({
        try: () => {
          for (let offset = 0; offset < chunk.length;) offset += Fs.writeSync(fd, chunk, offset)
        },
        catch: (error) => new OutputError({ target: JSON.stringify(path), code: codeOf(error) })
      }),
    close: Effect.sync(() => Fs.closeSync(fd))
  })))

const head = (response: HttpClientResponse.HttpClientResponse): Uint8Array => {
  let text = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}\r\n`
  for (const [name, value] of Object.entries(response.headers)) text += `${name}: ${value}\r\n`
  return new TextEncoder().encode(`${text}\r\n`)
}

/** Writes the response (head with -i, then the body bytes, never decoded) to stdout or the -o file. */
const emit = (settings: Options.Settings, response: HttpClientResponse.HttpClientResponse) =>
  Effect.acquireUseRelease(
    settings.output === undefined ? Effect.succeed(stdoutSink) : fileSink(settings.output),
    (sink) =>
      Effect.zipRight(
        settings.include ? sink.write(head(response)) : Effect.void,
        Stream.runForEach(response.stream, sink.write)
      ),
    (sink) => sink.close
  )

// --- Failures -------------------------------------------------------------------

class MaxTimeExceeded extends Data.TaggedError("MaxTimeExceeded")<{ readonly maxTime: Duration.Duration }> {}

interface Outcome {
  readonly code: number
  readonly message: string | undefined
}

const plural = (n: number): string => n === 1 ? "1 attempt" : `${n} attempts`

const transportOutcome = (error: HttpClientError.RequestError, target: string, attempts: number): Outcome => {
  const failure = TransportFailure.classify(error)
  if (failure === undefined) {
    return {
      code: ExitCode.Usage,
      message: `${error.reason === "InvalidUrl" ? "invalid URL" : "cannot send"} ${target}`
    }
  }
  const code = failure.code === undefined ? "" : ` (${failure.code})`
  const after = `${target} after ${plural(attempts)}`
  switch (failure.kind) {
    case "ConnectionRefused":
      return { code: ExitCode.CouldNotConnect, message: `could not connect${code} to ${after}` }
    case "Timeout":
      return { code: ExitCode.TimedOut, message: `timed out${code}: ${after}` }
    case "DnsNotFound":
    case "DnsUnavailable":
      return { code: ExitCode.DnsFailed, message: `could not resolve the host${code} of ${after}` }
    case "TlsVerification":
      return { code: ExitCode.TlsVerification, message: `TLS certificate did not verify${code}: ${after}` }
    case "ConnectionReset":
      return { code: ExitCode.ReceiveFailed, message: `connection reset${code}: ${after}` }
    case "ProxyAuthentication":
      // curl, too, exits 56 when a proxy answers CONNECT with 407.
      return { code: ExitCode.ReceiveFailed, message: `the proxy refused the credentials (407): ${after}` }
    case "InvalidRequest":
      return { code: ExitCode.Usage, message: `the request cannot be sent${code}: ${target}` }
    case "Unknown":
      return /SSL|TLS/i.test(failure.code ?? "") ?
        { code: ExitCode.TlsHandshake, message: `TLS handshake failed${code}: ${after}` } :
        { code: ExitCode.ReceiveFailed, message: `transport failure${code}: ${after}` }
  }
}

// --- The request ----------------------------------------------------------------

const buildRequest = (settings: Options.Settings): HttpClientRequest.HttpClientRequest => {
  let request = HttpClientRequest.make(settings.method)(settings.url.href)
  if (settings.body !== undefined) {
    request = HttpClientRequest.setBody(request, HttpBody.uint8Array(settings.body.bytes, settings.body.contentType))
    if (settings.body.accept !== undefined) {
      request = HttpClientRequest.setHeader(request, "accept", settings.body.accept)
    }
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of settings.headers) {
    const key = name.toLowerCase()
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`
  }
  return HttpClientRequest.setHeaders(request, headers)
}

/**
 * Runs the request under the retry policy and writes the answer: the exit
 * code, and the one-line reason on stderr when it is not 0.
 *
 * @internal
 */
export const execute = (settings: Options.Settings): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const request = buildRequest(settings)
    const target = `${request.method} ${HttpRetry.redactedUrl(request, settings.policy)}`
    const attempts = yield* Ref.make(1)
    const interactive = process.stderr.isTTY === true && !settings.silent
    const onRetry = (info: HttpRetry.RetryInfo<unknown>) =>
      Effect.zipRight(
        Ref.set(attempts, info.attempt + 1),
        interactive && Duration.toMillis(info.delay) > 1000 ?
          Effect.asVoid(Effect.fork(countdown(info))) :
          Effect.void
      )
    // Tracer settings go on the retrying client: the retry owns each attempt's span and its trace headers.
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpRetry.withRetry(settings.policy, { onRetry }),
      HttpClient.withTracerPropagation(false)
    )

    if (settings.verbose) {
      yield* stderrLine(`> ${target}`)
      for (const [name, value] of Object.entries(HttpRetry.redactedHeaders(request.headers, settings.policy))) {
        yield* stderrLine(`> ${name}: ${value}`)
      }
    }
    const verboseHead = (response: HttpClientResponse.HttpClientResponse) =>
      settings.verbose ?
        Effect.forEach(
          [
            `< ${response.status} ${STATUS_CODES[response.status] ?? ""}`.trimEnd(),
            ...Object.entries(HttpRetry.redactedHeaders(response.headers, settings.policy)).map(([n, v]) =>
              `< ${n}: ${v}`
            )
          ],
          stderrLine,
          { discard: true }
        ) :
        Effect.void

    const exchange = client.execute(request).pipe(
      Effect.flatMap((response) =>
        Effect.zipRight(
          verboseHead(response),
          Effect.as(emit(settings, response), { code: ExitCode.Ok, message: undefined })
        )
      ),
      Effect.catchIf(HttpStatusError.isHttpStatusError, (error) =>
        Effect.zipRight(
          verboseHead(error.response),
          Effect.as(emit(settings, error.response), {
            code: error.status >= 400 ? ExitCode.HttpError : ExitCode.Ok,
            message: error.status >= 400 ? error.message : undefined
          })
        ))
    )
    const capped = settings.maxTime === undefined ? exchange : exchange.pipe(
      Effect.timeoutFail({
        duration: settings.maxTime,
        onTimeout: () => new MaxTimeExceeded({ maxTime: settings.maxTime! })
      })
    )
    return yield* capped.pipe(
      Effect.catchAll((error): Effect.Effect<Outcome> =>
        Effect.map(Ref.get(attempts), (n): Outcome => {
          if (error instanceof MaxTimeExceeded) {
            return {
              code: ExitCode.TimedOut,
              message: `--max-time ${Duration.format(error.maxTime)} ran out: ${target} after ${plural(n)}`
            }
          }
          if (error instanceof OutputError) return { code: ExitCode.WriteError, message: error.message }
          if (Cause.isTimeoutException(error)) return { code: ExitCode.TimedOut, message: error.message }
          if (HttpClientError.isHttpClientError(error)) {
            return error._tag === "RequestError" ?
              transportOutcome(error, target, n) :
              { code: ExitCode.ReceiveFailed, message: `failure receiving the response of ${target}` }
          }
          return { code: ExitCode.Internal, message: `unexpected failure: ${String(error)}` }
        })
      )
    )
  }).pipe(
    Effect.provide(Layer.suspend(() => NodeHttpRetry.layerClient(settings.node))),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(settings.silent, settings.verbose)))
  )

// --- The command line -----------------------------------------------------------

const version = (): string => {
  try {
    const pkg = JSON.parse(Fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    return String(pkg.version)
  } catch {
    return "unknown"
  }
}

const oneLine = (doc: HelpDoc.HelpDoc): string =>
  // eslint-disable-next-line no-control-regex
  HelpDoc.toAnsiText(doc).replace(/\x1b\[[0-9;]*m/g, "").replace(/\s+/g, " ").trim()

const validationMessage = (error: ValidationError.ValidationError): string => {
  const text = "error" in error ? oneLine(error.error) : "invalid command line"
  if (ValidationError.isMissingValue(error) && /<url>/.test(text)) return "missing the URL to request (see --help)"
  const extra = /^Received unknown argument: '(.*)'$/.exec(text)
  if (extra !== null) return `unexpected argument ${JSON.stringify(extra[1])}: one URL per run (see --help)`
  return `${text.charAt(0).toLowerCase()}${text.slice(1)} (see --help)`
}

const usageExit = (message: string): Effect.Effect<number> =>
  Effect.as(stderrLine(`${NAME}: ${message}`), ExitCode.Usage)

// @effect/cli prints its parse errors as multi-line help documents on the console's stderr; this command prints one line.
const quietErrors = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) => Console.withConsole(effect, { ...console, error: () => Effect.void }))

/**
 * The whole command: argv in, exit code out. Never fails.
 *
 * @internal
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    // `pnpm http-retry -- <args>` passes the `--` on; it marks nothing here.
    const args = argv[2] === "--" ? [...argv.slice(0, 2), ...argv.slice(3)] : argv
    const early = Options.scan(args.slice(2))
    if (Either.isLeft(early)) return yield* usageExit(early.left.message)
    if (early.right === "help") {
      yield* stdoutSink.write(new TextEncoder().encode(Options.helpText(version())))
      return ExitCode.Ok
    }
    if (early.right === "version") {
      yield* stdoutSink.write(new TextEncoder().encode(`${NAME} ${version()}\n`))
      return ExitCode.Ok
    }

    const code = yield* Ref.make<number>(ExitCode.Ok)
    const command = Command.make(NAME, Options.config, (parsed) =>
      Options.settings(parsed).pipe(
        Effect.flatMap(execute),
        Effect.flatMap((outcome) =>
          Effect.zipRight(
            outcome.message === undefined || parsed.silent ? Effect.void : stderrLine(`${NAME}: ${outcome.message}`),
            Ref.set(code, outcome.code)
          )
        ),
        Effect.catchTag("UsageError", (error) => Effect.flatMap(usageExit(error.message), (c) => Ref.set(code, c)))
      ))
    const cli = Command.run(command, { name: NAME, version: version() })
    yield* quietErrors(cli(args)).pipe(
      Effect.catchIf(ValidationError.isValidationError, (error) =>
        Effect.flatMap(usageExit(validationMessage(error)), (c) => Ref.set(code, c))),
      Effect.provide(Layer.mergeAll(
        NodeFileSystem.layer,
        NodePath.layer,
        NodeTerminal.layer,
        CliConfig.layer({ isCaseSensitive: true, showBuiltIns: false })
      ))
    )
    return yield* Ref.get(code)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ?
        Effect.failCause(cause) as Effect.Effect<never> :
        usageExit(`internal error: ${Cause.pretty(cause).split("\n")[0]}`).pipe(Effect.as(ExitCode.Internal))
    )
  )

/**
 * Runs a program whose result is the exit code as the process: SIGINT
 * interrupts it at once, and the process exits 130 (143 for SIGTERM) as soon
 * as every resource is released.
 *
 * @internal
 */
export const runProcess = (program: Effect.Effect<number>): void => {
  let signal: "SIGINT" | "SIGTERM" = "SIGINT"
  process.once("SIGTERM", () => {
    signal = "SIGTERM"
  })
  // A closed pipe (`http-retry URL | head -c 10`) surfaces as a failed write, not as an uncaught 'error' event.
  process.stdout.on("error", () => {})
  process.stderr.on("error", () => {})
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(exit.value as number)
      onExit(
        Cause.isInterruptedOnly(exit.cause) ?
          signal === "SIGTERM" ? ExitCode.Terminated : ExitCode.Interrupted :
          ExitCode.Internal
      )
    }
  })
}

/**
 * The `http-retry` process.
 *
 * @internal
 */
export const run = (argv: ReadonlyArray<string>): void => runProcess(main(argv))
