/**
 * `RetryPolicy.Options` at the type level: a misspelt or ill-typed field is a compile error, wherever options are
 * accepted (the same fields are also rejected at run time, for values the compiler cannot see).
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpRetry, RetryPolicy } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { describe, expectTypeOf, it } from "vitest"

describe("RetryPolicy.make", () => {
  it("accepts every documented field and returns a RetryPolicy", () => {
    expectTypeOf(RetryPolicy.make()).toEqualTypeOf<RetryPolicy.RetryPolicy>()
    expectTypeOf(RetryPolicy.make({
      maxAttempts: 4,
      maxElapsed: "50s",
      baseDelay: "1 second",
      factor: 2,
      maxDelay: 20_000,
      jitter: "none",
      attemptTimeout: "10s",
      retryOn: { statuses: [429, "5xx"], transport: true },
      methods: ["GET", "POST"],
      retryAfter: true,
      maxRetryAfter: "1 minute",
      log: { level: "Info", query: false },
      redact: { headers: ["X-Session"], query: ["sid"] }
    })).toEqualTypeOf<RetryPolicy.RetryPolicy>()
  })

  it("rejects unknown keys at compile time", () => {
    // @ts-expect-error: maxAttempt is not an option (maxAttempts is)
    RetryPolicy.make({ maxAttempt: 3 })
    // @ts-expect-error: unknown key beside a known one
    RetryPolicy.make({ maxAttempts: 3, backoff: "expo" })
    // @ts-expect-error: unknown key inside retryOn
    RetryPolicy.make({ retryOn: { status: [503] } })
    // @ts-expect-error: unknown key inside redact
    RetryPolicy.make({ redact: { header: ["X-Session"] } })
    const misspelt = { maxAttempt: 3 }
    // @ts-expect-error: a variable with no known field at all
    RetryPolicy.make(misspelt)
  })

  it("rejects ill-typed values", () => {
    // @ts-expect-error: jitter is "full" or "none"
    RetryPolicy.make({ jitter: "half" })
    // @ts-expect-error: not a duration
    RetryPolicy.make({ baseDelay: "soon" })
    // @ts-expect-error: a number, not a string
    RetryPolicy.make({ maxAttempts: "3" })
    // @ts-expect-error: "4xx", "5xx" or a number
    RetryPolicy.make({ retryOn: { statuses: ["3xx"] } })
  })

  it("the other places that take options reject unknown keys too", () => {
    // @ts-expect-error: unknown key
    RetryPolicy.merge(RetryPolicy.defaults, { maxAttempt: 3 })
    // @ts-expect-error: unknown key
    RetryPolicy.validate({ maxAttempt: 3 })
    // @ts-expect-error: unknown key
    HttpRetry.withPolicy(Effect.void, { maxAttempt: 3 })
    // @ts-expect-error: unknown key
    HttpRetry.request(HttpClientRequest.get("https://api.internal.test"), { maxAttempt: 3 })
  })
})
