import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HttpRetry, RetryPolicy, TestHttpClient } from "@http-retry/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

export const url = "http://api.test/items"

export const noJitter = (options: RetryPolicy.Options = {}): RetryPolicy.RetryPolicy =>
  RetryPolicy.make({ jitter: "none", ...options })

export interface Outcome {
  readonly result: Either.Either<HttpClientResponse.HttpClientResponse, unknown>
  readonly attempts: number
  /** Arrival time of each attempt, in milliseconds since the start. */
  readonly at: ReadonlyArray<number>
}

/**
 * Runs one request through `withRetry` over a scripted client, advancing the
 * TestClock far enough for every wait, and reports what the client saw.
 */
export const runScript = (
  script: TestHttpClient.Script,
  policy: RetryPolicy.RetryPolicy = noJitter(),
  request: HttpClientRequest.HttpClientRequest = HttpClientRequest.get(url),
  advance: Duration.DurationInput = "10 minutes"
) =>
  Effect.gen(function*() {
    const test = yield* TestHttpClient.make(script)
    const client = HttpRetry.withRetry(test.client, policy)
    const fiber = yield* Effect.fork(Effect.either(client.execute(request)))
    yield* TestClock.adjust(advance)
    const result = yield* Fiber.join(fiber)
    const requests = yield* test.requests
    return { result, attempts: requests.length, at: requests.map((r) => r.at) } satisfies Outcome
  })
