/**
 * The direct transport: an `HttpClient` straight over an undici dispatcher.
 *
 * Built, as `NodeHttpClient.makeUndici` is, on the platform's public
 * `HttpClient.make`: the span per request, trace propagation, `withScope`,
 * the abort on interruption and the garbage-collected unread body are the
 * platform's own. It sends what `makeUndici` sends (the same dispatcher call
 * with the per-request `NodeHttpClient.UndiciRequestOptions`, the same
 * headers object) with less around each request: one `Effect.async` rather
 * than four steps, the response headers converted once rather than on every
 * read, and a body read straight from undici's promise instead of through a
 * cached effect run on a fiber of its own. It reads the retry's
 * `HttpRetry.AttemptTimeout` and enforces it with one native timer.
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
import { HttpRetry } from "@http-retry/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Stream from "effect/Stream"

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
 * What undici listens to for an abort when an attempt timeout is set: an
 * `EventEmitter`-shaped handle it accepts in place of an `AbortSignal` (it
 * calls `once` and `removeListener`, checks for `on`, and reads `aborted` and
 * `reason` as a signal's), cheaper than a second `AbortController` per
 * request.
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
  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listener = this.listener
    this.listener = undefined
    listener?.()
  }
}

/**
 * The key `NodeHttpClient.UndiciRequestOptions` is stored under in a
 * `Context`: read by key, as the platform's client reads it, so that this
 * module need not load `NodeHttpClient` (and the node:http client with it).
 */
const undiciOptionsKey = "@effect/platform-node/NodeHttpClient/undiciOptions"

/** The longest delay a native timer takes (about 24.8 days): Node fires a longer one after 1 ms. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * As the platform's layers (`HttpClient.layerMergedContext`): the services
 * of `built` (the layer's: `NodeHttpClient.UndiciRequestOptions`, a
 * `SpanNameGenerator`...) reach every request, under the request's own.
 * Given none, a request pays nothing.
 *
 * @internal
 */
export const withContext = (client: HttpClient.HttpClient, built: Context.Context<never>): HttpClient.HttpClient =>
  built.unsafeMap.size === 0 ?
    client :
    HttpClient.transformResponse(
      client,
      Effect.mapInputContext((input: Context.Context<never>) => Context.merge(built, input))
    )

/**
 * The direct transport over `dispatcher`, with the services of `built` in
 * every request's context (`withContext`).
 *
 * @internal
 */
export const make = (
  dispatcher: Undici.Dispatcher,
  built: Context.Context<never> = Context.empty()
): HttpClient.HttpClient =>
  HttpRetry.readsAttemptTimeout(
    withContext(
      HttpClient.make((request, url, signal, fiber) => {
        const context = fiber.currentContext.unsafeMap
        const options: Undici.Dispatcher.RequestOptions | undefined = context.get(undiciOptionsKey)
        const timeout: HttpRetry.AttemptTimeout.Service | undefined = context.get(HttpRetry.AttemptTimeout.key)
        // A signal aborted already (the scope of `withScope` closed before the send, or a retry of a request whose
        // scope was): the request fails as on the platform's client, with the signal's reason, and opens no connection.
        if (signal.aborted) {
          return Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: signal.reason }))
        }
        const body = convertBody(request.body)
        if (body !== undefined) return dispatch(dispatcher, request, url, body, signal, options, timeout)
        return Effect.flatMap(
          NodeStream.toReadable((request.body as HttpBody.Stream).stream),
          (readable) => dispatch(dispatcher, request, url, readable, signal, options, timeout)
        )
      }),
      built
    ),
    { abortable: true }
  )

const dispatch = (
  dispatcher: Undici.Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  body: DispatchBody,
  signal: AbortSignal,
  options: Undici.Dispatcher.RequestOptions | undefined,
  timeout: HttpRetry.AttemptTimeout.Service | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.async((resume) => {
    let abort: AbortSignal | Abort = signal
    let timer: ReturnType<typeof setTimeout> | undefined
    let late: ReturnType<typeof setImmediate> | undefined
    let settled = false
    /** Ends the send with `outcome`, once: undici's own rejection of a request aborted here comes later, or never. */
    const end = (
      outcome: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
    ): void => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resume(outcome)
    }
    if (timeout !== undefined) {
      // One native timer, cleared when the headers arrive: a slow body is never cut by it. The platform's signal
      // (interruption, withScope, an unread body collected) still aborts the request and its body. The timer's abort
      // waits for the poll phase that follows (`setImmediate`): after a stall of the event loop Node runs expired
      // timers before it reads the I/O that arrived meanwhile, and an answer or a refusal already there must win.
      // Every abort ends the send at once: undici acts on one only when the request has a connection, so a request
      // still queued in the pool would otherwise wait for one.
      const controller = new Abort()
      // The platform's signal aborts with its own reason: the error's cause, as on the platform's client.
      signal.addEventListener("abort", () => {
        controller.abort(signal.reason)
        end(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: signal.reason })))
      }, { once: true })
      // The first attempt of a hedge round: a hedge that wins aborts it (and its body, if the headers are in), and
      // it ends as an interrupted send does, so that its span does too.
      timeout.abortWith?.(() => {
        controller.abort(undefined)
        end(Effect.interrupt)
      })
      // Aborted already (a redirect hop's send, after a hedge won): nothing is sent and no timer is left behind.
      if (settled) return
      abort = controller
      // Past the longest delay a native timer takes, no timer: the attempt has no limit, as on Effect's own clock.
      if (timeout.millis <= MAX_TIMER_MILLIS) {
        timer = setTimeout(() => {
          late = setImmediate(() => {
            late = undefined
            if (settled) return
            controller.abort(undefined)
            // The retry that provided the timeout declares the TimeoutException it adds to the client's errors.
            end(Effect.fail(timeout.onTimeout() as unknown as HttpClientError.RequestError))
          })
        }, Math.max(1, Math.ceil(timeout.millis)))
      }
    }
    dispatcher.request({
      ...options,
      signal: abort as Undici.Dispatcher.RequestOptions["signal"],
      method: request.method,
      headers: request.headers,
      origin: url.origin,
      path: url.pathname + url.search + url.hash,
      body,
      // No timers of undici's own: timeouts belong to Effect and to the attempt's timeout.
      headersTimeout: 0,
      bodyTimeout: 0
    }).then(
      (source) => {
        // Answered after the send was ended here (nobody will read it): its body goes, and its connection with it.
        if (settled) source.body.destroy()
        else end(Effect.succeed(new UndiciResponse(request, source)))
      },
      (cause) => end(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    )
    // Interruption reaches undici through the platform's signal, aborted by `HttpClient.make`.
    return timer === undefined ? undefined : Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      if (late !== undefined) clearImmediate(late)
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
  /** Body bytes that arrived, for the error of a body that broke off. */
  private received: number

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly source: Undici.Dispatcher.ResponseData
  ) {
    super()
    const body = source.body
    // A body that fails unread must not be an unhandled 'error' event.
    body.on("error", noop)
    // Every chunk enters a Readable through `push`, whoever reads it (text, arrayBuffer, stream, the retry's drain).
    // Counted here, rather than by a 'data' listener, which would start the body flowing before anyone reads it.
    // What came with the headers is already buffered, unread: `readableLength`.
    this.received = body.readableLength
    const push = body.push
    body.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null && chunk !== undefined) this.received += (chunk as Uint8Array).length
      return push.call(body, chunk, encoding)
    }
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
    const description = this.source.body.errored === null ? undefined : this.brokeOff(cause)
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause,
      ...(description === undefined ? {} : { description })
    })
  }

  /**
   * What a body that broke off says, for the error's `description` (the
   * platform's own field, shown in its `message`; `_tag` and `reason` stay
   * the platform's): the cause's code and words and how much of the body
   * arrived, `other side closed (UND_ERR_SOCKET) after 16 of 100 body bytes`.
   * Only a cause with a code gives its words: those of undici and Node name
   * no URL or header, so nothing secret is shown.
   */
  private brokeOff(cause: unknown): string {
    const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined
    const message = Predicate.hasProperty(cause, "message") && typeof cause.message === "string" ?
      cause.message :
      undefined
    const said = code === undefined ?
      "the body broke off" :
      message === undefined || message === "" ?
      code :
      message.includes(code) ?
      message :
      `${message} (${code})`
    const length = this.source.headers["content-length"]
    const total = typeof length === "string" && /^\d+$/.test(length) ? ` of ${length}` : ""
    return `${said} after ${this.received}${total} body bytes`
  }

  /**
   * Reads the body once through `read` (later reads of the same kind get the
   * same result, as with the platform's client). Interrupting a read aborts
   * the request through `HttpClient.make`'s response, which closes its
   * connection.
   */
  private read<A>(read: () => Promise<A>): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.async((resume) => {
      let reading: Promise<A>
      try {
        reading = read()
      } catch (cause) {
        // undici throws at once for a body already being read another way (`text` after `arrayBuffer`): a failed
        // read, as the platform's `Effect.tryPromise` makes it.
        return resume(Effect.fail(this.decodeError(cause)))
      }
      reading.then(
        (value) => resume(Effect.succeed(value)),
        (cause) => resume(Effect.fail(this.decodeError(cause)))
      )
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
    // The stream destroys the body when it ends early, which aborts the request and closes the connection.
    return NodeStream.fromReadable(() => this.source.body, (cause) => this.decodeError(cause))
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}
