/**
 * The direct transport: an `HttpClient` straight over an undici dispatcher.
 *
 * It sends what `NodeHttpClient.makeUndici` sends (the same dispatcher call,
 * the same headers object, the same body conversion) and answers with the
 * same `HttpClientResponse` interface, but with less around each request:
 * one `Effect.async` whose canceller aborts the request, the response headers
 * converted once rather than on every read, and a body read straight from
 * undici's promise instead of through a cached effect run on a fiber of its
 * own. It records no span: under `withRetry` the retry owns one per attempt.
 *
 * @internal
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Undici from "@effect/platform-node/Undici"
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { globalValue } from "effect/GlobalValue"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

// --- Attempt budget -------------------------------------------------------------

/**
 * The timeout of the attempt each fiber is sending, set by the retry through
 * `enforce` around each attempt and read where the request is dispatched.
 * Kept beside the fiber rather than in its `Context`: updating the context
 * copies its whole map on every attempt.
 *
 * @internal
 */
export interface AttemptBudget {
  readonly millis: number
  readonly onTimeout: () => Cause.TimeoutException
}

const budgets = globalValue(
  "@http-retry/node/undiciClient/budgets",
  () => new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, AttemptBudget>()
)

/** @internal */
export const budgetOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): AttemptBudget | undefined => budgets.get(fiber)

/**
 * Sets the budget for the attempt and clears it when the attempt ends, so a
 * later request on the same fiber that is not an attempt has none. (An
 * interrupted attempt leaves it set on a fiber that is ending.)
 *
 * @internal
 */
export const withBudget = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  timeout: number,
  onTimeout: () => Cause.TimeoutException
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    // An attempt that starts at the deadline still gets 1 ms rather than none.
    budgets.set(fiber, { millis: Math.max(1, Math.ceil(timeout)), onTimeout })
    return Effect.matchCauseEffect(effect, {
      onSuccess: (a) => {
        budgets.delete(fiber)
        return Effect.succeed(a)
      },
      onFailure: (cause) => {
        budgets.delete(fiber)
        return Effect.failCause(cause)
      }
    })
  })

// --- Requests -----------------------------------------------------------------

type DispatchBody = Exclude<Undici.Dispatcher.DispatchOptions["body"], undefined>

const convertBody = (body: HttpBody.HttpBody): DispatchBody | undefined => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
    case "Raw":
      return body.body as Uint8Array
    case "FormData":
      return undiciFormData(body.formData)
    case "Stream":
      // Converted by an effect: see `send`.
      return undefined
  }
}

/**
 * undici reads only its own `FormData`: the global one of Node 20 (from the
 * undici bundled with Node) is copied into it, entries and file names kept.
 */
const undiciFormData = (form: FormData): Undici.FormData => {
  if (form instanceof Undici.FormData) return form
  const copy = new Undici.FormData()
  form.forEach((value, name) => {
    if (typeof value === "string") copy.append(name, value)
    else copy.append(name, value, value.name)
  })
  return copy
}

/**
 * What undici listens to for an abort: an `EventEmitter`-shaped handle it
 * accepts in place of an `AbortSignal` (it calls `once` and
 * `removeListener`, and checks for `on`). An `AbortController` and its
 * signal per request were about 4% of the client's CPU in a profile.
 */
class Abort {
  aborted = false
  reason: unknown = undefined
  private listener: (() => void) | undefined = undefined
  on(_event: "abort", listener: () => void): this {
    this.listener = listener
    return this
  }
  once(_event: "abort", listener: () => void): this {
    this.listener = listener
    return this
  }
  removeListener(_event: "abort", listener: () => void): this {
    if (this.listener === listener) this.listener = undefined
    return this
  }
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    const listener = this.listener
    this.listener = undefined
    listener?.()
  }
}

/**
 * A response whose body nobody reads holds its connection until the body is
 * aborted: as the platform's client does, abort it when the response is
 * garbage collected unread.
 */
const unread = globalValue(
  "@http-retry/node/undiciClient/unread",
  () => new FinalizationRegistry<Abort>((controller) => controller.abort())
)

/** @internal */
export const make = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient =>
  HttpClient.makeWith(
    (effect) =>
      Effect.flatMap(effect, (request) => Effect.withFiberRuntime((fiber) => send(dispatcher, request, fiber))),
    Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
  )

const send = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  fiber: Fiber.RuntimeFiber<unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  if (url._tag === "Left") {
    return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
  }
  const budget = budgets.get(fiber)
  const body = convertBody(request.body)
  if (body !== undefined) return dispatch(dispatcher, request, url.right, body, budget)
  return Effect.flatMap(
    NodeStream.toReadable((request.body as HttpBody.Stream).stream),
    (readable) => dispatch(dispatcher, request, url.right, readable, budget)
  )
}

const dispatch = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  body: DispatchBody,
  budget: AttemptBudget | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.async((resume) => {
    const controller = new Abort()
    let timer: ReturnType<typeof setTimeout> | undefined
    let late: ReturnType<typeof setImmediate> | undefined
    let settled = false
    let timedOut = false
    if (budget !== undefined) {
      // One native timer, cleared when the headers arrive: a slow body is never cut by it. Its abort waits for the
      // poll phase that follows (`setImmediate`): after a stall of the event loop Node runs expired timers before it
      // reads the I/O that arrived meanwhile, and an answer or a refusal that was already there must win.
      timer = setTimeout(() => {
        late = setImmediate(() => {
          if (settled) return
          timedOut = true
          controller.abort()
        })
      }, budget.millis)
    }
    dispatcher.request({
      signal: controller as unknown as Undici.Dispatcher.RequestOptions["signal"],
      method: request.method,
      headers: request.headers,
      origin: url.origin,
      path: url.pathname + url.search + url.hash,
      body,
      // No timers of undici's own, as the platform's client: timeouts belong to Effect and to the attempt budget.
      headersTimeout: 0,
      bodyTimeout: 0
    }).then(
      (source) => {
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        resume(Effect.succeed(new UndiciResponse(request, source, controller)))
      },
      (cause) => {
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        resume(Effect.fail(
          // Typed as the client's error; `enforce`, which set the budget, declares the TimeoutException it adds.
          timedOut ?
            budget!.onTimeout() as unknown as HttpClientError.RequestError :
            new HttpClientError.RequestError({ request, reason: "Transport", cause })
        ))
      }
    )
    return Effect.sync(() => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      if (late !== undefined) clearImmediate(late)
      controller.abort()
    })
  })

// --- Responses ----------------------------------------------------------------

const noop = () => {}

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId

  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Cookies.Cookies | undefined
  private textPromise: Promise<string> | undefined
  private arrayBufferPromise: Promise<ArrayBuffer> | undefined
  private formDataPromise: Promise<FormData> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly source: Undici.Dispatcher.ResponseData,
    readonly controller: Abort
  ) {
    super()
    // A body that fails unread must not be an unhandled 'error' event.
    source.body.on("error", noop)
    unread.register(this, controller, this)
  }

  get status(): number {
    return this.source.statusCode
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.source.headers as Headers.Input)
  }

  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.source.headers["set-cookie"]
    return this.cachedCookies = header === undefined ?
      Cookies.empty :
      Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  /**
   * Reads the body once through `read` (later reads of the same kind get the
   * same result, as with the platform's client). Interrupting a read aborts
   * the request, which closes its connection.
   */
  private read<A>(read: () => Promise<A>): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.async((resume) => {
      unread.unregister(this)
      read().then(
        (value) => resume(Effect.succeed(value)),
        (cause) => resume(Effect.fail(this.decodeError(cause)))
      )
      return Effect.sync(() => this.controller.abort())
    })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.read(() => this.textPromise ??= this.source.body.text())
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) => {
      try {
        return Effect.succeed(text === "" ? null : JSON.parse(text) as unknown)
      } catch (cause) {
        return Effect.fail(this.decodeError(cause))
      }
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) => {
      try {
        return Effect.succeed(UrlParams.fromInput(new URLSearchParams(text)))
      } catch (cause) {
        return Effect.fail(this.decodeError(cause))
      }
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return this.read(() => this.arrayBufferPromise ??= this.source.body.arrayBuffer())
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.read(() => this.formDataPromise ??= this.source.body.formData() as Promise<FormData>)
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      unread.unregister(this)
      // The stream destroys the body when it ends early, which aborts the request and closes the connection.
      return NodeStream.fromReadable(() => this.source.body, (cause) => this.decodeError(cause))
    })
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}
