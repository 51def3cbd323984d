import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import { type Hedging, HttpRetry, HttpStatusError, RetryPolicy, TransportFailure } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { STATUS_CODES } from "node:http"
import * as Options from "./options.js"

// Set by the bundler from package.json.
declare const HTTP_RETRY_VERSION: string

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

/**
 * The words of the error that ended the run (`connect ECONNREFUSED 127.0.0.1:4000`): the first message in its
 * `cause` chain that carries the code it was classified by, else the innermost message. A URL's credentials never
 * show.
 */
const causeText = (error: unknown, code: string | undefined): string | undefined => {
  const queue: Array<unknown> = [error]
  let innermost: string | undefined
  for (let i = 0; i < queue.length && i < 16; i++) {
    const u = queue[i]
    const message = Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message.trim() : ""
    if (message !== "") {
      if (code !== undefined && Predicate.hasProperty(u, "code") && u.code === code) {
        innermost = message
        break
      }
      innermost = message
    }
    if (Predicate.hasProperty(u, "cause")) queue.push(u.cause)
    if (Predicate.hasProperty(u, "errors") && Array.isArray(u.errors)) queue.push(...u.errors)
  }
  return innermost?.split("\n")[0].replace(/\/\/[^/@\s]*@/g, "//<redacted>@")
}

const transportOutcome = (error: HttpClientError.RequestError, target: string, attempts: number): Outcome => {
  const outcome = transportOutcomeWithoutCause(error, target, attempts)
  const cause = causeText(error.cause, TransportFailure.classify(error)?.code)
  return cause === undefined || outcome.message === undefined
    ? outcome
    : { ...outcome, message: `${outcome.message}: ${cause}` }
}

const transportOutcomeWithoutCause = (
  error: HttpClientError.RequestError,
  target: string,
  attempts: number
): Outcome => {
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
    case "Aborted":
      // The command aborts no request of its own (an interrupt ends it with 130 first); kept as a transport failure.
      return { code: ExitCode.ReceiveFailed, message: `the request was aborted: ${after}` }
    case "Unknown":
      return /SSL|TLS/i.test(failure.code ?? "") ?
        { code: ExitCode.TlsHandshake, message: `TLS handshake failed${code}: ${after}` } :
        { code: ExitCode.ReceiveFailed, message: `transport failure${code}: ${after}` }
  }
}

// --- The request ----------------------------------------------------------------

const buildRequest = (settings: Options.Settings): HttpClientRequest.HttpClientRequest => {
  // Every method the policy knows is sent; the platform's type lists fewer (no TRACE or QUERY).
  let request = HttpClientRequest.make(settings.method as HttpMethod.HttpMethod)(settings.url.href)
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
    const onHedge = (info: Hedging.HedgeInfo) => Ref.set(attempts, info.attempt)
    // With -v, the attempt lines are the policy's own log (stderrLogger writes them as `* ...`): every attempt, wait,
    // hedge and give-up, and the attempt that answered, which only the retry knows when hedges ran beside it.
    const policy = settings.verbose ?
      RetryPolicy.merge(settings.policy, { log: { level: "Info", query: true } }) :
      settings.policy
    // Tracer settings go on the retrying client: the retry owns each attempt's span and its trace headers.
    const retrying = (yield* HttpClient.HttpClient).pipe(
      // No span per attempt: nothing here records traces.
      HttpRetry.withRetry(policy, { onRetry, tracing: false })
    )
    const client = (settings.hedge === undefined ? retrying : retrying.pipe(
      HttpRetry.withHedging({ delay: settings.hedge, onHedge })
    )).pipe(HttpClient.withTracerPropagation(false))

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
            ...Object.entries(HttpRetry.redactedHeaders(response.headers, settings.policy)).map(([name, value]) =>
              `< ${name}: ${value}`
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
              message: `--max-time ${Options.formatDuration(error.maxTime)} ran out: ${target} after ${plural(n)}`
            }
          }
          if (error instanceof OutputError) return { code: ExitCode.WriteError, message: error.message }
          if (Cause.isTimeoutException(error)) return { code: ExitCode.TimedOut, message: error.message }
          if (HttpClientError.isHttpClientError(error)) {
            return error._tag === "RequestError" ?
              transportOutcome(error, target, n) :
              {
                code: ExitCode.ReceiveFailed,
                // What broke, from the error's own description: "other side closed (UND_ERR_SOCKET) after 16 of 100
                // body bytes".
                message: `failure receiving the response of ${target}${
                  error.description === undefined ? "" : `: ${error.description}`
                }`
              }
          }
          return { code: ExitCode.Internal, message: `unexpected failure: ${String(error)}` }
        })
      )
    )
  }).pipe(
    Effect.provide(settings.client),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(settings.silent, settings.verbose)))
  )

// --- The command line -----------------------------------------------------------

const usageExit = (message: string): Effect.Effect<number> =>
  Effect.as(stderrLine(`${NAME}: ${message}`), ExitCode.Usage)

/**
 * The whole command: argv in, exit code out. Never fails.
 *
 * @internal
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> => {
  // `pnpm http-retry -- <args>` passes the `--` on; it marks nothing here.
  const args = argv[2] === "--" ? argv.slice(3) : argv.slice(2)
  return Options.parse(args).pipe(
    Effect.flatMap((parsed): Effect.Effect<number, Options.UsageError | OutputError> => {
      if (parsed === "help") {
        return Effect.as(stdoutSink.write(new TextEncoder().encode(Options.helpText(HTTP_RETRY_VERSION))), ExitCode.Ok)
      }
      if (parsed === "version") {
        return Effect.as(stdoutSink.write(new TextEncoder().encode(`${NAME} ${HTTP_RETRY_VERSION}\n`)), ExitCode.Ok)
      }
      return Options.settings(parsed, HTTP_RETRY_VERSION).pipe(
        Effect.flatMap(execute),
        Effect.flatMap((outcome) =>
          Effect.as(
            outcome.message === undefined || parsed.options.silent ?
              Effect.void :
              stderrLine(`${NAME}: ${outcome.message}`),
            outcome.code
          )
        )
      )
    }),
    Effect.catchTag("UsageError", (error) => usageExit(error.message)),
    Effect.catchTag("OutputError", (error) => Effect.as(stderrLine(`${NAME}: ${error.message}`), ExitCode.WriteError)),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ?
        Effect.failCause(cause) as Effect.Effect<never> :
        usageExit(`internal error: ${Cause.pretty(cause).split("\n")[0]}`).pipe(Effect.as(ExitCode.Internal))
    )
  )
}

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
    // Every resource is released and every write to stdout has completed by now: exit at once, even with 0, rather
    // than wait for the event loop to empty (undici's idle timers, closing sockets), which costs a cold run ~100 ms.
    teardown: (exit) =>
      process.exit(
        Exit.isSuccess(exit) ?
          exit.value as number :
          Cause.isInterruptedOnly(exit.cause) ?
          signal === "SIGTERM" ? ExitCode.Terminated : ExitCode.Interrupted :
          ExitCode.Internal
      )
  })
}

/**
 * The `http-retry` process.
 *
 * @internal
 */
export const run = (argv: ReadonlyArray<string>): void => runProcess(main(argv))
