/**
 * A scripted `HttpClient` for tests without a network: it answers each
 * request from a script (statuses, headers, bodies, transport failures,
 * hangs, delays on Effect's `Clock`) and records what it received, so retry
 * behaviour can be asserted exactly under `TestClock`.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Redact from "./internal/redact.js"
import * as policyInternal from "./internal/retryPolicy.js"
import type * as RetryPolicy from "./RetryPolicy.js"

/**
 * One scripted answer.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | {
    /** Answer with a response: see `respond` and `ok`. */
    readonly _tag: "Respond"
    /** 200 to 599. */
    readonly status: number
    /** Response headers. */
    readonly headers: Readonly<Record<string, string>>
    /** Response body; empty when `undefined`. */
    readonly body: string | Uint8Array | undefined
  }
  | {
    /** Fail as a transport error: see `fail`. */
    readonly _tag: "Fail"
    /** The Node error code on the cause, e.g. `"ECONNRESET"`. */
    readonly code: string
    /** The cause's message. */
    readonly message: string
  }
  | {
    /** Never answer: see `hang`. */
    readonly _tag: "Hang"
  }
  | {
    /** Wait, then take `step`: see `delayed`. */
    readonly _tag: "Delay"
    /** How long to wait on the `Clock`. */
    readonly delay: Duration.Duration
    /** The step taken after the wait. */
    readonly step: Step
  }

/**
 * A list of steps, one per request in order, or a function of the request
 * and its 1-based index. A request past the end of a list is a defect that
 * names the script's length, so an unexpected extra attempt fails the test.
 *
 * @since 0.1.0
 * @category models
 */
export type Script =
  | ReadonlyArray<Step>
  | ((request: HttpClientRequest.HttpClientRequest, index: number) => Step)

/**
 * A request as the client received it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorded {
  /** The request as received (after the client's preprocessing). */
  readonly request: HttpClientRequest.HttpClientRequest
  /** 1-based position among all requests this client received. */
  readonly index: number
  /** `Clock.currentTimeMillis` when it arrived: exact under `TestClock`. */
  readonly at: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TestHttpClientService {
  /** The scripted client: wrap it with `HttpRetry.withRetry`, or provide it as `HttpClient.HttpClient`. */
  readonly client: HttpClient.HttpClient
  /** Everything received so far, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<Recorded>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TestHttpClient extends Context.Tag("@http-retry/core/TestHttpClient")<
  TestHttpClient,
  TestHttpClientService
>() {}

/**
 * Answer with a status.
 *
 * @since 0.1.0
 * @category steps
 */
export const respond = (
  status: number,
  options?: {
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly body?: string | Uint8Array | undefined
  }
): Step => ({ _tag: "Respond", status, headers: options?.headers ?? {}, body: options?.body })

/**
 * Answer 200 with a body.
 *
 * @since 0.1.0
 * @category steps
 */
export const ok = (body?: string | Uint8Array): Step => respond(200, { body })

/**
 * Fail as a transport error whose cause carries a Node error `code`, e.g.
 * `"ECONNRESET"`, `"ECONNREFUSED"`, `"ENOTFOUND"`, `"DEPTH_ZERO_SELF_SIGNED_CERT"`.
 *
 * @since 0.1.0
 * @category steps
 */
export const fail = (code: string, message?: string): Step => ({
  _tag: "Fail",
  code,
  message: message ?? `simulated ${code}`
})

/**
 * Never answer (until interrupted, e.g. by the attempt timeout).
 *
 * @since 0.1.0
 * @category steps
 */
export const hang: Step = { _tag: "Hang" }

/** A request as a defect's message names it: its method and its URL, secrets hidden. */
const shown = (request: HttpClientRequest.HttpClientRequest): string =>
  `${request.method} ${Redact.requestUrl(request, Redact.defaults, true)}`

/**
 * Wait on the `Clock` before taking `step`. The delay is written as a retry
 * policy's durations are (`"250ms"`, `"2 seconds"`, a `Duration`, or
 * milliseconds); a negative, infinite or unreadable one throws an
 * `IllegalArgumentException` naming it.
 *
 * @since 0.1.0
 * @category steps
 */
export const delayed = (delay: RetryPolicy.DurationInput, step: Step): Step => {
  let decoded: Duration.Duration
  try {
    decoded = policyInternal.decodeDuration("delay", delay, true)
  } catch (error) {
    if (!(error instanceof policyInternal.RetryPolicyError)) throw error
    throw new Cause.IllegalArgumentException(
      `TestHttpClient.delayed: ${policyInternal.show(delay)} is not a delay (${error.reason})`
    )
  }
  return { _tag: "Delay", delay: decoded, step }
}

const answer = (
  request: HttpClientRequest.HttpClientRequest,
  index: number,
  step: Step
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  // A script written in plain JavaScript, or a function that returned nothing.
  if (!isStep(step)) {
    return Effect.dieMessage(
      `TestHttpClient: request ${index} (${shown(request)}): the script gave ${
        policyInternal.show(step)
      }, not a step (use respond, ok, fail, hang or delayed)`
    )
  }
  switch (step._tag) {
    case "Respond": {
      if (!Number.isInteger(step.status) || step.status < 200 || step.status > 599) {
        return Effect.dieMessage(`TestHttpClient: status must be 200 to 599, got ${step.status}`)
      }
      const noBody = step.status === 204 || step.status === 205 || step.status === 304
      const body = noBody ? null : step.body ?? ""
      const web = new Response(body as BodyInit | null, { status: step.status, headers: step.headers })
      return Effect.succeed(HttpClientResponse.fromWeb(request, web))
    }
    case "Fail":
      return Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: Object.assign(new Error(step.message), { code: step.code })
        })
      )
    case "Hang":
      return Effect.never
    case "Delay":
      return Effect.zipRight(Effect.sleep(step.delay), answer(request, index, step.step))
  }
}

const stepTags: ReadonlySet<unknown> = new Set(["Respond", "Fail", "Hang", "Delay"])

const isStep = (u: unknown): u is Step => Predicate.hasProperty(u, "_tag") && stepTags.has(u._tag)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (script: Script): Effect.Effect<TestHttpClientService> =>
  Effect.map(Ref.make<ReadonlyArray<Recorded>>([]), (received) => {
    const client = HttpClient.make((request) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Ref.modify(received, (list) => {
          const index = list.length + 1
          return [index, [...list, { request, index, at }]] as const
        }).pipe(
          Effect.flatMap((index) => {
            if (typeof script === "function") return answer(request, index, script(request, index))
            const step = script[index - 1]
            return step === undefined ?
              Effect.dieMessage(
                `TestHttpClient: request ${index} (${shown(request)}) but the script has ${script.length} steps`
              ) :
              answer(request, index, step)
          })
        ))
    )
    return { client, requests: Ref.get(received) }
  })

/**
 * Provides both the scripted `HttpClient` and the `TestHttpClient` service to
 * read what it received.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { HttpRetry, TestHttpClient } from "@http-retry/core"
 * import { Effect, Layer } from "effect"
 *
 * const TestLive = HttpRetry.layer().pipe(
 *   Layer.provideMerge(TestHttpClient.layer([TestHttpClient.respond(503), TestHttpClient.ok("done")]))
 * )
 *
 * // Run it with TestClock.adjust past the 1 s backoff: the 503 is retried once.
 * const attempts = Effect.gen(function*() {
 *   yield* HttpClient.get("http://api.test/items")
 *   const test = yield* TestHttpClient.TestHttpClient
 *   return (yield* test.requests).length // 2
 * }).pipe(Effect.provide(TestLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (script: Script): Layer.Layer<HttpClient.HttpClient | TestHttpClient> =>
  Layer.effectContext(
    Effect.map(make(script), (service) =>
      Context.make(TestHttpClient, service).pipe(Context.add(HttpClient.HttpClient, service.client)))
  )
