import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Predicate from "effect/Predicate"
import type * as HttpRetry from "../HttpRetry.js"
import { AttemptTimeout, isReadingAttemptTimeout, keepMarks, NoSpansTypeId } from "./clientMarks.js"
import { split } from "./clientSplit.js"
import { drain, MAX_DRAIN_MILLIS } from "./drain.js"
import { CurrentOverrides } from "./overrides.js"
import { type Plan, planOf, planWith } from "./plan.js"
import * as Redact from "./redact.js"
import * as RedactingTracer from "./redactingTracer.js"
import { isRetrying, retrying, RetryingTypeId } from "./retry.js"
import * as policyInternal from "./retryPolicy.js"
import { clockOf } from "./timeout.js"

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/**
 * The headers without the credentials of the origin they were written for:
 * the ones fetch and undici drop on a cross-origin hop (`authorization`,
 * `cookie`, `proxy-authorization`), and every other header the redaction
 * counts as a secret (`x-api-key`, `private-token`, `x-vault-token`, the
 * policy's `redact.headers`: an API key is as much the origin's as a bearer
 * token is).
 */
const withoutCredentials = (headers: Headers.Headers, redaction: Redact.Redaction): Headers.Headers => {
  const secret = Object.keys(headers).filter((name) => Redact.isSecretHeader(name, redaction))
  return secret.length === 0 ? headers : Headers.remove(headers, secret)
}

/**
 * The request for the next hop, or `undefined` when the answer is to be
 * returned as it is: a `Location` that is missing, does not parse or is not
 * http(s).
 */
const nextHop = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  redaction: Redact.Redaction
): HttpClientRequest.HttpClientRequest | undefined => {
  const location = response.headers.location
  if (location === undefined) return undefined
  let from: URL
  let to: URL
  try {
    from = new URL(request.url)
    to = new URL(location, request.url)
  } catch {
    return undefined
  }
  if (to.protocol !== "http:" && to.protocol !== "https:") return undefined
  // As fetch: a 303 turns into a GET, and so does a POST answered by 301 or 302; 307 and 308 resend as they are.
  const status = response.status
  const toGet = (status === 303 && request.method !== "GET" && request.method !== "HEAD") ||
    ((status === 301 || status === 302) && request.method === "POST")
  const headers = from.origin === to.origin ? request.headers : withoutCredentials(request.headers, redaction)
  const next = HttpClientRequest.make(toGet ? "GET" : request.method)(to, { headers })
  return HttpClientRequest.setBody(next, toGet ? HttpBody.empty : request.body)
}

/**
 * A later hop's send, on a client that reads the attempt's timeout: bounded
 * by what is left of it since the attempt's first hop started at
 * `startMillis`, so that the chain as a whole keeps to the attempt's timeout
 * (and to the deadline it was cut to), as it does on any other client, whose
 * whole send the retry bounds.
 */
const withinAttempt = <E, R>(
  send: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
  startMillis: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const timeout: HttpRetry.AttemptTimeout.Service | undefined = fiber.currentContext.unsafeMap.get(
      AttemptTimeout.key
    )
    if (timeout === undefined) return send
    const left = timeout.millis - (clockOf(fiber).unsafeCurrentTimeMillis() - startMillis)
    // The retry that provided the timeout declares the TimeoutException it adds to the client's errors.
    if (left <= 0) return Effect.fail(timeout.onTimeout() as E)
    return Effect.provideService(send, AttemptTimeout, { ...timeout, millis: left })
  })

/**
 * Follows redirects on `client`, with the redaction of `base` (a retrying
 * client's policy, with the `withPolicy` overrides around each call) or the
 * defaults.
 */
const follow = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  maxRedirects: number,
  base: Plan | undefined
): HttpClient.HttpClient.With<E, R> => {
  const { preprocess, send: sendRaw } = split(client)
  const readsTimeout = isReadingAttemptTimeout(client)
  const noSpans = Predicate.hasProperty(client, NoSpansTypeId)
  // A client that records its own span (any made with the platform's `HttpClient.make`) records each hop's URL and
  // the answer's `Location` as they are: a hop to a signed URL, or a `Location` that carries a token, would show in
  // it. Its spans are redacted here, hop by hop (the retry redacts an attempt's only for a request with a secret).
  const send = (
    request: HttpClientRequest.HttpClientRequest,
    redaction: Redact.Redaction,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ) =>
    noSpans
      ? sendRaw(request)
      : Effect.withTracer(sendRaw(request), RedactingTracer.forRequests(fiber.currentTracer, redaction))
  const loop = (
    request: HttpClientRequest.HttpClientRequest,
    hops: number,
    startMillis: number,
    redaction: Redact.Redaction,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> => {
    const sent = send(request, redaction, fiber)
    return Effect.flatMap(hops > 0 && readsTimeout ? withinAttempt(sent, startMillis) : sent, (response) => {
      if (!REDIRECTS.has(response.status) || hops >= maxRedirects) return Effect.succeed(response)
      const next = nextHop(request, response, redaction)
      return next === undefined ?
        Effect.succeed(response) :
        Effect.zipRight(
          drain(response, policyInternal.defaults.maxDrainBytes, MAX_DRAIN_MILLIS),
          loop(next, hops + 1, startMillis, redaction, fiber)
        )
    })
  }
  const followed = HttpClient.makeWith(
    (request) =>
      Effect.flatMap(
        request,
        (request) =>
          Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, E, R>((fiber) => {
            // The policy's secret headers as this call has them: a `withPolicy` around it may name more.
            const redaction = base === undefined ?
              Redact.defaults :
              planWith(base, Context.get(fiber.currentContext, CurrentOverrides)).redaction
            return loop(request, 0, readsTimeout ? clockOf(fiber).unsafeCurrentTimeMillis() : 0, redaction, fiber)
          })
      ),
    preprocess
  )
  // Keep the client's own attempt timeout, if it has one: the chain's hops share it (withinAttempt).
  return keepMarks(client, followed)
}

const checkMaxRedirects = (maxRedirects: number): number => {
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new Cause.IllegalArgumentException(
      `HttpRetry.followRedirects: maxRedirects = ${maxRedirects} (expected a whole number of at least 0)`
    )
  }
  return maxRedirects
}

const following = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  maxRedirects: number
): HttpClient.HttpClient.With<E, R> => {
  if (!isRetrying(self)) return follow(self, maxRedirects, undefined)
  // Follow inside each attempt, so that the retry sees (and gives up on) the final answer, not the 3xx; the policy's
  // own secret headers stay with the first origin too.
  const { defer, hedging, inner, options, policy } = self[RetryingTypeId]
  const followed = follow(inner, maxRedirects, planOf(policy))
  return retrying(followed, policy, options, hedging, defer) as HttpClient.HttpClient.With<E, R>
}

/** @internal */
export const followRedirects: {
  (maxRedirects?: number): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
  <E, R>(self: HttpClient.HttpClient.With<E, R>, maxRedirects?: number): HttpClient.HttpClient.With<E, R>
} = function(...args: ReadonlyArray<unknown>) {
  // Not `dual`: a bad maxRedirects throws where it is written, data-last too.
  if (Predicate.hasProperty(args[0], HttpClient.TypeId)) {
    return following(
      args[0] as HttpClient.HttpClient.With<unknown, unknown>,
      checkMaxRedirects((args[1] as number | undefined) ?? 10)
    )
  }
  const maxRedirects = checkMaxRedirects((args[0] as number | undefined) ?? 10)
  return (self: HttpClient.HttpClient.With<unknown, unknown>) => following(self, maxRedirects)
} as typeof followRedirects
