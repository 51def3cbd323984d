import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import { assert } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy, TestHttpClient } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"

export const url = "http://api.test/items"

export const noJitter = (options: RetryPolicy.Options = {}): RetryPolicy.RetryPolicy =>
  RetryPolicy.make({ jitter: "none", ...options })

export interface Outcome<A = HttpClientResponse.HttpClientResponse> {
  readonly result: Either.Either<A, unknown>
  readonly attempts: number
  /** Arrival time of each attempt, in milliseconds since the start. */
  readonly at: ReadonlyArray<number>
  /** Milliseconds from the start until the program finished. */
  readonly end: number
  readonly requests: ReadonlyArray<TestHttpClient.Recorded>
}

/**
 * Runs `effect` in a fiber, advances the TestClock far enough for every wait,
 * and reports what the scripted client saw, with times relative to the start.
 */
export const observe = <A, E, R>(
  test: TestHttpClient.TestHttpClientService,
  effect: Effect.Effect<A, E, R>,
  advance: Duration.DurationInput = "10 minutes"
): Effect.Effect<Outcome<A>, never, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(Effect.zip(Effect.either(effect), Clock.currentTimeMillis))
    yield* TestClock.adjust(advance)
    const [result, endMillis] = yield* Fiber.join(fiber)
    const requests = yield* test.requests
    return {
      result,
      attempts: requests.length,
      at: requests.map((r) => r.at - start),
      end: endMillis - start,
      requests
    }
  })

/**
 * Runs one request through `withRetry` over a scripted client, advancing the
 * TestClock far enough for every wait, and reports what the client saw.
 */
export const runScript = (
  script: TestHttpClient.Script,
  policy: RetryPolicy.RetryPolicy = noJitter(),
  request: HttpClientRequest.HttpClientRequest = HttpClientRequest.get(url),
  options: HttpRetry.RetryOptions<unknown, never> = {}
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const test = yield* TestHttpClient.make(script)
    const client = HttpRetry.withRetry(test.client, policy, options)
    return yield* observe(test, client.execute(request))
  })

/** The waits between consecutive arrivals. */
export const waits = (at: ReadonlyArray<number>): Array<number> => at.slice(1).map((t, i) => t - at[i])

export const success = <A>(result: Either.Either<A, unknown>): A => {
  if (Either.isLeft(result)) assert.fail(`expected success, got ${String(result.left)}`)
  return result.right
}

export const failure = (result: Either.Either<unknown, unknown>): unknown => {
  if (Either.isRight(result)) assert.fail("expected a failure, got a success")
  return result.left
}

export const statusError = (result: Either.Either<unknown, unknown>): HttpStatusError.HttpStatusError => {
  const error = failure(result)
  if (!HttpStatusError.isHttpStatusError(error)) assert.fail(`expected an HttpStatusError, got ${String(error)}`)
  return error
}

export interface LogLine {
  readonly level: string
  readonly message: string
}

/**
 * Runs `effect` with every log line at every level collected instead of printed.
 */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<[A, ReadonlyArray<LogLine>], E, R> =>
  Effect.suspend(() => {
    const lines: Array<LogLine> = []
    const logger = Logger.make(({ logLevel, message }) => {
      const parts = Array.isArray(message) ? message : [message]
      lines.push({ level: logLevel.label, message: parts.map(String).join(" ") })
    })
    return effect.pipe(
      Effect.map((a): [A, ReadonlyArray<LogLine>] => [a, lines]),
      Logger.withMinimumLogLevel(LogLevel.All),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  })

export const millis = (duration: Duration.Duration): number => Duration.toMillis(duration)

export const times = <A>(n: number, a: A): Array<A> => Array.from({ length: n }, () => a)

export const requestWith = (method: string, target: string = url): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.make(method as HttpMethod.HttpMethod)(target)

export const requestError = (error: unknown): HttpClientError.RequestError => {
  if (!(error instanceof HttpClientError.RequestError)) assert.fail(`expected a RequestError, got ${String(error)}`)
  return error
}

export const timeoutError = (error: unknown): Cause.TimeoutException => {
  if (!Cause.isTimeoutException(error)) assert.fail(`expected a TimeoutException, got ${String(error)}`)
  return error
}

export const causeCode = (error: HttpClientError.RequestError): unknown =>
  (error.cause as { readonly code?: unknown }).code
