/**
 * Conformance: user code written against `@effect/platform` must see the platform's behaviour from our layers.
 *
 * Every check runs first on the control, `NodeHttpClient.layerUndici`, whose observation is recorded, then on each
 * subject: `NodeHttpRetry.layerClient()` and `NodeHttpRetry.layer()` on every transport, and `HttpRetry.withRetry`
 * over the control itself. The subject's observation must equal the control's. An observation is plain data, with
 * the server's address replaced by `HOST`, so that runs against different servers compare.
 *
 * The only allowances are the retry semantics the README documents, applied where a check says so: a final non-2xx
 * answer is an `HttpStatusError` carrying the response (its response is observed in its place), and a request that
 * carries a secret has its span redacted (checked on its own below, not compared).
 *
 * This suite enumerates the transports itself, so it is left out of the platform-transport project
 * (vitest.config.ts).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { closedPort, eventually, fast, serve } from "../harness.js"
import * as TestServer from "../utils/TestServer.js"

// --- Subjects -------------------------------------------------------------------

type AnyLayer = Layer.Layer<HttpClient.HttpClient>

interface Subject {
  readonly name: string
  readonly layer: AnyLayer
  /** Applies the README's retry semantics: a final non-2xx is an HttpStatusError. */
  readonly retries: boolean
}

// Two attempts, 20 ms apart: a failure case retries once and ends quickly.
const policy = fast({ maxAttempts: 2 })

const control: AnyLayer = NodeHttpClient.layerUndici

const retryOver = (layer: AnyLayer): AnyLayer => HttpRetry.layer(policy).pipe(Layer.provide(layer))

const subjects: ReadonlyArray<Subject> = [
  ...(["direct", "platform"] as const).flatMap((transport): Array<Subject> => [
    { name: `layerClient ${transport}`, layer: NodeHttpRetry.layerClient({ transport }), retries: false },
    { name: `layer ${transport}`, layer: NodeHttpRetry.layer({ transport, policy }), retries: true }
  ]),
  { name: "withRetry over layerUndici", layer: retryOver(control), retries: true }
]

// --- Running a check --------------------------------------------------------------

interface Env {
  readonly retries: boolean
}

type Check = (env: Env) => Effect.Effect<unknown, unknown, HttpClient.HttpClient | Scope.Scope>

/** Plain data, the server's address and port out, so that two runs compare. */
const normalize = (observation: unknown): unknown =>
  JSON.parse(
    JSON.stringify(observation, (_key, value) => typeof value === "bigint" ? String(value) : value)
      .replace(/127\.0\.0\.1:\d+/g, "HOST")
      .replace(/"server\.port":\d+/g, "\"server.port\":\"PORT\"")
      .replace(/"http\.response\.header\.date":"[^"]*"/g, "\"http.response.header.date\":\"DATE\"")
  )

const observe = (check: Check, layer: AnyLayer, retries: boolean) =>
  Effect.scoped(Effect.map(Effect.provide(check({ retries }), layer), normalize))

/**
 * Runs `check` on the control, then on every subject, comparing each to the control; with `provided`, every layer
 * is built with those services given to it.
 */
const conforms = (name: string, check: Check, timeout = 20_000, provided?: Layer.Layer<never>) =>
  it.live(name, () =>
    Effect.gen(function*() {
      const given = (layer: AnyLayer): AnyLayer => provided === undefined ? layer : Layer.provide(layer, provided)
      const expected = yield* observe(check, given(control), false)
      for (const subject of subjects) {
        const actual = yield* observe(check, given(subject.layer), subject.retries)
        assert.deepStrictEqual(actual, expected, `${subject.name} differs from the control`)
      }
      return expected
    }), timeout)

// --- Observations ------------------------------------------------------------------

/** An error as user code tells errors apart: its tag and reason (and the response's status, for a body error). */
const errorOf = (error: unknown) =>
  Predicate.hasProperty(error, "_tag") ?
    {
      _tag: error._tag,
      reason: Predicate.hasProperty(error, "reason") ? error.reason : undefined,
      ...(Predicate.hasProperty(error, "response") && Predicate.hasProperty(error.response, "status") ?
        { status: error.response.status } :
        {})
    } :
    { defect: String(error) }

/** An error with its cause's name and message (an abort's cause is the platform's, or the subject's own). */
const withCauseOf = (error: unknown) => {
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  return {
    ...errorOf(error),
    cause: Predicate.hasProperty(cause, "name") && Predicate.hasProperty(cause, "message") ?
      { name: cause.name, message: cause.message } :
      String(cause)
  }
}

/**
 * The response of a request: under the retry a final non-2xx is an `HttpStatusError` carrying it (the README's
 * retry semantics), which the subject must raise, with the response the control returns.
 */
const responseOf = <R>(env: Env, effect: Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, R>) =>
  Effect.catchIf(
    effect,
    (error) => env.retries && HttpStatusError.isHttpStatusError(error),
    (error) => Effect.succeed((error as HttpStatusError.HttpStatusError).response)
  )

const client = HttpClient.HttpClient

/**
 * A request to a server that never answers, made under `withScope`, whose scope is closed once the server has the
 * request: how it ended within 2 s (none if it had not), and the server.
 */
const closedWhileWaiting = Effect.gen(function*() {
  const server = yield* serve(() => TestServer.hang())
  const scoped = HttpClient.withScope(yield* client)
  const scope = yield* Scope.make()
  const fiber = yield* Effect.fork(Scope.extend(scoped.get(server.url), scope))
  yield* eventually(() => server.requests.length === 1)
  yield* Scope.close(scope, Exit.void)
  const exit = yield* Effect.timeoutOption(Fiber.await(fiber), "2 seconds")
  yield* Fiber.interrupt(fiber)
  return { exit, server }
})

const headersOf = (response: HttpClientResponse.HttpClientResponse) =>
  Object.fromEntries(
    Object.entries(response.headers).filter(([name]) => name !== "date" && name !== "keep-alive").sort()
  )

const cookiesOf = (response: HttpClientResponse.HttpClientResponse) =>
  Object.values(response.cookies.cookies).map((c) => ({ name: c.name, value: c.value, options: c.options }))

const answerOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(Effect.either(response.text), (body) => ({
    status: response.status,
    headers: headersOf(response),
    body: body._tag === "Right" ? body.right : errorOf(body.left)
  }))

/** What the server received of one request. */
const received = (request: TestServer.TestRequest) => {
  const type = request.headers["content-type"]
  const boundary = typeof type === "string" ? /boundary=(.+)$/.exec(type)?.[1] : undefined
  const hide = (text: string) => boundary === undefined ? text : text.split(boundary).join("BOUNDARY")
  return {
    method: request.method,
    url: request.url,
    // Every header the server got, in order of name: the host names each run's own server, and trace ids are each
    // request's own.
    headers: Object.entries(request.headers).filter(([name]) => name !== "host").map(([name, value]) =>
      [
        name,
        name === "traceparent" || name === "b3" ?
          "(an id)" :
          name === "content-type" && typeof value === "string" ?
          hide(value) :
          value
      ] as const
    ).sort(([a], [b]) => a < b ? -1 : 1),
    body: hide(request.body.toString("utf8"))
  }
}

/** Closes within 2 s, or says it hung. */
const within2s = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timeoutOption(Effect.either(effect), "2 seconds"), (outcome) =>
    Option.isNone(outcome) ?
      "hung" :
      outcome.value._tag === "Right" ?
      { ok: true } :
      errorOf(outcome.value.left))

// --- Checks ------------------------------------------------------------------------

describe("conformance with NodeHttpClient.layerUndici", () => {
  describe("bodies sent", () => {
    const form = (data: FormData = new FormData()) => {
      data.append("field", "value")
      data.append("file", new Blob(["file body"], { type: "text/plain" }), "notes.txt")
      return data
    }
    const bodies: ReadonlyArray<readonly [string, () => HttpBody.HttpBody]> = [
      ["string", () => HttpBody.text("plain text", "text/plain")],
      ["Uint8Array", () => HttpBody.uint8Array(new Uint8Array([104, 105, 0, 255]), "application/octet-stream")],
      ["JSON", () => HttpBody.unsafeJson({ a: 1, list: ["x", "y"] })],
      ["urlencoded", () => HttpBody.urlParams([["a", "1"], ["b", "two words"], ["a", "3"]])],
      ["undici's FormData", () => HttpBody.formData(form(new Undici.FormData() as unknown as FormData))],
      [
        "a stream",
        () => HttpBody.stream(Stream.make("chunk one, ", "chunk two").pipe(Stream.encodeText), "text/plain")
      ],
      ["a stream of known length", () =>
        HttpBody.stream(
          Stream.make("0123456789").pipe(Stream.encodeText),
          "text/plain",
          10
        )]
    ]
    for (const [kind, body] of bodies) {
      conforms(
        `a POST with ${kind}: the server receives the same method, headers and bytes`,
        () =>
          Effect.gen(function*() {
            const server = yield* serve(TestServer.sequence([TestServer.respond(200, { body: "ok" })]))
            const response = yield* Effect.flatMap(
              client,
              (c) => c.execute(HttpClientRequest.post(`${server.url}/upload`).pipe(HttpClientRequest.setBody(body())))
            )
            return { answer: yield* answerOf(response), received: server.requests.map(received) }
          })
      )
    }
  })

  describe("responses", () => {
    conforms("a streamed response, read as a stream, arrives whole", () =>
      Effect.gen(function*() {
        const server = yield* serve(TestServer.sequence([TestServer.dripBody(200, 5, { body: "abcdefghij" })]))
        const response = yield* Effect.flatMap(client, (c) => c.get(server.url))
        const chunks = yield* Stream.runCollect(Stream.decodeText(response.stream))
        return { status: response.status, body: Chunk.join(chunks, "") }
      }))

    conforms(
      "URL parameters are appended to the query and the hash goes as the platform sends it",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([TestServer.respond(200)]))
          yield* Effect.flatMap(
            client,
            (c) => c.get(`${server.url}/path?a=1#section`, { urlParams: { b: "2", c: ["3", "4 5"] } })
          )
          return server.requests.map((r) => r.url)
        })
    )

    conforms(
      "a GET with the caller's headers: the server receives exactly these, and the same others",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([TestServer.respond(200), TestServer.respond(200)]))
          yield* Effect.flatMap(client, (c) =>
            c.get(server.url, {
              headers: {
                Accept: "application/json",
                "User-Agent": "caller/1.0",
                "X-Request-Id": "r-1",
                "Accept-Encoding": "identity"
              }
            }))
          // And with none: what each client adds of its own.
          yield* Effect.flatMap(client, (c) => c.get(server.url))
          return server.requests.map(received)
        })
    )

    conforms(
      "a body read twice: the same way gives the same value, another way a typed error",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(() => TestServer.respond(200, { body: "twice" }))
          const reads = (first: "text" | "arrayBuffer", second: "text" | "arrayBuffer") =>
            Effect.gen(function*() {
              const response = yield* Effect.flatMap(client, (c) => c.get(server.url))
              const read = (how: "text" | "arrayBuffer"): Effect.Effect<string, unknown> =>
                how === "text"
                  ? response.text
                  : Effect.map(response.arrayBuffer, (value) => new TextDecoder().decode(value))
              const outcome = (how: "text" | "arrayBuffer") =>
                read(how).pipe(
                  Effect.mapError((error) => withCauseOf(error)),
                  Effect.catchAllDefect((defect) => Effect.fail({ defect: String(defect) })),
                  Effect.either
                )
              return [yield* outcome(first), yield* outcome(second)]
            })
          return {
            textThenText: yield* reads("text", "text"),
            textThenArrayBuffer: yield* reads("text", "arrayBuffer"),
            arrayBufferThenText: yield* reads("arrayBuffer", "text")
          }
        })
    )

    conforms("multi-valued response headers and cookies", () =>
      Effect.gen(function*() {
        const server = yield* serve(TestServer.sequence([
          TestServer.respond(200, {
            headers: {
              "set-cookie": ["a=1; Path=/", "b=2; HttpOnly; Max-Age=60"],
              "x-multi": ["one", "two"],
              "X-Mixed-Case": "Value"
            },
            body: "cookies"
          })
        ]))
        const response = yield* Effect.flatMap(client, (c) => c.get(server.url))
        return { answer: yield* answerOf(response), cookies: cookiesOf(response) }
      }))

    for (
      const [label, method, status] of [
        ["HEAD", "HEAD", 200],
        ["204", "GET", 204],
        ["304", "GET", 304]
      ] as const
    ) {
      conforms(`${label}: no body`, (env) =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([
            TestServer.respond(status, { headers: { etag: "\"v1\"" }, body: status === 200 ? "not sent" : "" })
          ]))
          const request = HttpClientRequest.make(method)(server.url)
          const response = yield* responseOf(env, Effect.flatMap(client, (c) => c.execute(request)))
          return yield* answerOf(response)
        }))
    }
  })

  describe("per-request options", () => {
    conforms(
      "NodeHttpClient.UndiciRequestOptions given per request reach undici (reset: true sends close)",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([TestServer.respond(200), TestServer.respond(200)]))
          yield* Effect.flatMap(client, (c) => c.get(server.url)).pipe(
            Effect.flatMap((r) => r.text),
            Effect.provideService(
              NodeHttpClient.UndiciRequestOptions,
              { reset: true } as unknown as NodeHttpClient.UndiciRequestOptions["Type"]
            )
          )
          yield* Effect.flatMap(client, (c) => c.get(server.url)).pipe(Effect.flatMap((r) => r.text))
          return server.requests.map((r) => r.headers.connection)
        })
    )
  })

  describe("tracing", () => {
    interface Recorded {
      readonly name: string
      readonly kind: Tracer.SpanKind
      readonly parent: string | undefined
      readonly attributes: Map<string, unknown>
      exit?: string
    }
    /** The native tracer, recording what it is asked for. */
    const recording = (spans: Array<Recorded>) =>
      Effect.map(Effect.tracerWith(Effect.succeed), (native) =>
        Tracer.make({
          span(name, parent, context, links, startTime, kind, options) {
            const span = native.span(name, parent, context, links, startTime, kind, options)
            const recorded: Recorded = {
              name,
              kind,
              parent: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined,
              attributes: new Map()
            }
            spans.push(recorded)
            return Object.assign(Object.create(span) as Tracer.Span, {
              attribute(key: string, value: unknown) {
                recorded.attributes.set(key, value)
                span.attribute(key, value)
              },
              end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
                recorded.exit = Exit.isSuccess(exit) ?
                  "success" :
                  JSON.stringify(Cause.failures(exit.cause).pipe(Chunk.toArray).map(errorOf))
                span.end(endTime, exit)
              }
            })
          },
          context: (f, fiber) => native.context(f, fiber)
        }))

    const spansOf = (spans: ReadonlyArray<Recorded>) =>
      spans.map((s) => ({
        name: s.name,
        kind: s.kind,
        parent: s.parent,
        exit: s.exit,
        attributes: Object.fromEntries([...s.attributes].sort(([a], [b]) => a.localeCompare(b)))
      }))

    conforms(
      "under a caller's span: one client span with the platform's name, kind and attributes; trace headers",
      () =>
        Effect.gen(function*() {
          const spans: Array<Recorded> = []
          const tracer = yield* recording(spans)
          const server = yield* serve(TestServer.sequence([TestServer.respond(200, { body: "traced" })]))
          const caller = yield* Effect.flatMap(client, (c) =>
            c.get(`${server.url}/items?page=2`, { headers: { "x-request": "yes" } }).pipe(
              Effect.flatMap((r) =>
                r.text
              ),
              Effect.zipRight(Effect.currentSpan),
              Effect.withSpan("caller")
            )).pipe(Effect.withTracer(tracer))
          const [request] = server.requests
          return {
            spans: spansOf(spans),
            traceparent: String(request.headers.traceparent).split("-")[1] === caller.traceId,
            b3: String(request.headers.b3).split("-")[0] === caller.traceId
          }
        })
    )

    conforms("a failed request: the span ends with the same error", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const tracer = yield* recording(spans)
        const port = yield* closedPort
        yield* Effect.flatMap(client, (c) => c.get(`http://127.0.0.1:${port}/`)).pipe(
          Effect.either,
          Effect.withSpan("caller"),
          Effect.withTracer(tracer)
        )
        // The retry's two attempts are two spans; the control makes one. Compare the last, as user code sees it.
        const last = spansOf(spans).at(-1)!
        const { "http.request.resend_count": _, ...attributes } = last.attributes
        return { ...last, attributes }
      }))

    conforms(
      "services given to the layer reach every request: UndiciRequestOptions and the span name generator",
      () =>
        Effect.gen(function*() {
          const spans: Array<Recorded> = []
          const tracer = yield* recording(spans)
          const server = yield* serve(TestServer.sequence([TestServer.respond(200)]))
          yield* Effect.flatMap(client, (c) => c.get(server.url)).pipe(Effect.withTracer(tracer))
          return { spans: spansOf(spans).map((s) => s.name), connection: server.requests[0].headers.connection }
        }),
      20_000,
      Layer.mergeAll(
        Layer.succeed(
          NodeHttpClient.UndiciRequestOptions,
          { reset: true } as unknown as NodeHttpClient.UndiciRequestOptions["Type"]
        ),
        Layer.succeed(HttpClient.SpanNameGenerator, (request) => `named ${request.method}`)
      ) as Layer.Layer<never>
    )

    conforms("tracing disabled for the request: no span, no trace headers", () =>
      Effect.gen(function*() {
        const spans: Array<Recorded> = []
        const tracer = yield* recording(spans)
        const server = yield* serve(TestServer.sequence([TestServer.respond(200)]))
        yield* Effect.flatMap(client, (c) => c.pipe(HttpClient.withTracerDisabledWhen(() => true)).get(server.url))
          .pipe(Effect.withSpan("caller"), Effect.withTracer(tracer))
        return { spans: spansOf(spans).map((s) => s.name), traceparent: server.requests[0].headers.traceparent }
      }))
  })

  describe("withScope and interruption", () => {
    conforms(
      "withScope: closing the scope aborts the body read at once, and the server sees the socket close",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([TestServer.stallBody(200, { body: "0123456789", sent: 4 })]))
          const scoped = HttpClient.withScope(yield* client)
          const scope = yield* Scope.make()
          const response = yield* Scope.extend(scoped.get(server.url), scope)
          yield* Scope.close(scope, Exit.void)
          const read = yield* within2s(response.text)
          yield* eventually(() => server.openSockets() === 0)
          return { status: response.status, read, open: server.openSockets() }
        })
    )

    conforms(
      "withScope: closing the scope while waiting for the headers fails the request with the scope's abort as its cause",
      () =>
        Effect.gen(function*() {
          const { exit, server } = yield* closedWhileWaiting
          yield* eventually(() => server.openSockets() === 0)
          if (Option.isNone(exit)) return "hung"
          if (Exit.isSuccess(exit.value)) return { ok: true }
          const error = Cause.squash(exit.value.cause)
          return { ...withCauseOf(error), requests: server.requests.length }
        })
    )

    conforms(
      "withScope: a scope closed before the send fails the request with the scope's abort as its cause",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(() => TestServer.respond(200))
          const scoped = HttpClient.withScope(yield* client)
          const scope = yield* Scope.make()
          yield* Scope.close(scope, Exit.void)
          const error = yield* Effect.flip(Scope.extend(scoped.get(server.url), scope))
          yield* eventually(() => server.openSockets() === 0)
          return { ...withCauseOf(error), requests: server.requests.length }
        })
    )

    conforms(
      "interrupted while waiting for the headers: the server sees the socket close",
      () =>
        Effect.gen(function*() {
          const server = yield* serve(TestServer.sequence([TestServer.hang()]))
          const fiber = yield* Effect.fork(Effect.flatMap(client, (c) => c.get(server.url)))
          yield* eventually(() => server.requests.length === 1)
          const exit = yield* Fiber.interrupt(fiber)
          yield* eventually(() => server.openSockets() === 0)
          return { interrupted: Exit.isInterrupted(exit), requests: server.requests.length }
        })
    )

    conforms("interrupted while reading the body: the server sees the socket close", () =>
      Effect.gen(function*() {
        const server = yield* serve(TestServer.sequence([TestServer.stallBody(200, { body: "0123456789", sent: 4 })]))
        const response = yield* Effect.flatMap(client, (c) => c.get(server.url))
        const fiber = yield* Effect.fork(response.text)
        yield* Effect.sleep("20 millis")
        const exit = yield* Fiber.interrupt(fiber)
        yield* eventually(() => server.openSockets() === 0)
        return { interrupted: Exit.isInterrupted(exit) }
      }))
  })

  describe("failures", () => {
    conforms("connection refused", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        return errorOf(yield* Effect.flip(Effect.flatMap(client, (c) => c.get(`http://127.0.0.1:${port}/`))))
      }))

    conforms("reset before the headers", () =>
      Effect.gen(function*() {
        const server = yield* serve(() => TestServer.destroyBeforeHeaders())
        return errorOf(yield* Effect.flip(Effect.flatMap(client, (c) => c.get(server.url))))
      }))

    conforms("reset in the middle of the body", () =>
      Effect.gen(function*() {
        const server = yield* serve(TestServer.sequence([TestServer.destroyMidBody(200, { body: "0123456789" })]))
        const response = yield* Effect.flatMap(client, (c) => c.get(server.url))
        return errorOf(yield* Effect.flip(response.text))
      }))

    conforms("DNS name not found", () =>
      Effect.gen(function*() {
        return errorOf(yield* Effect.flip(Effect.flatMap(client, (c) => c.get("http://no-such-host.invalid/"))))
      }))

    conforms("an invalid URL", () =>
      Effect.gen(function*() {
        return errorOf(yield* Effect.flip(Effect.flatMap(client, (c) => c.get("http://"))))
      }))
  })
})

// --- One trace per call -----------------------------------------------------------------------

describe("the retry: one trace per call", () => {
  it.live(
    "with no caller span, every attempt of a call carries the first attempt's trace id, each its own span",
    () =>
      Effect.gen(function*() {
        for (const subject of subjects.filter((s) => s.retries)) {
          const server = yield* Effect.scoped(Effect.gen(function*() {
            const server = yield* serve(TestServer.sequence([503, 503, 200]))
            yield* Effect.flatMap(client, (c) => c.get(server.url)).pipe(
              Effect.provide(Layer.provide(HttpRetry.layer(fast()), subject.layer))
            )
            return server
          }))
          const parents = server.requests.map((r) => String(r.headers.traceparent).split("-"))
          assert.strictEqual(parents.length, 3, subject.name)
          assert.strictEqual(new Set(parents.map((p) => p[1])).size, 1, subject.name)
          assert.strictEqual(new Set(parents.map((p) => p[2])).size, 3, subject.name)
        }
      }),
    20_000
  )
})

// --- Node's global FormData: a documented difference ------------------------------------------

describe("a POST with Node 20's global FormData", () => {
  const post = (layer: AnyLayer, data: FormData = new FormData()) =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([TestServer.respond(200, { body: "ok" })]))
      data.append("field", "value")
      data.append("file", new Blob(["file body"], { type: "text/plain" }), "notes.txt")
      const outcome = yield* Effect.flatMap(client, (c) =>
        c.execute(HttpClientRequest.post(server.url).pipe(HttpClientRequest.bodyFormData(data)))).pipe(
          Effect.provide(layer),
          Effect.either
        )
      return outcome._tag === "Left" ? errorOf(outcome.left) : normalize(server.requests.map(received))
    }))

  it.live(
    "the platform's client cannot send it (undici writes only its own); the direct transport sends what undici's would",
    () =>
      Effect.gen(function*() {
        const failed = { _tag: "RequestError", reason: "Transport" }
        assert.deepStrictEqual(yield* post(control), failed)
        assert.deepStrictEqual(yield* post(NodeHttpRetry.layerClient({ transport: "platform" })), failed)
        // What the control sends for the same form in undici's own FormData.
        const sent = yield* post(control, new Undici.FormData() as unknown as FormData)
        assert.strictEqual((sent as Array<{ readonly method: string }>)[0].method, "POST")
        assert.deepStrictEqual(yield* post(NodeHttpRetry.layerClient({ transport: "direct" })), sent)
        assert.deepStrictEqual(yield* post(NodeHttpRetry.layer({ transport: "direct", policy })), sent)
      }),
    20_000
  )
})

// --- Secrets on spans: the one documented difference -----------------------------------------

describe("a request carrying a secret: the retry redacts the span the control records as written", () => {
  const secretUrl = (server: TestServer.TestServer) =>
    server.url.replace("http://", "http://user:hunter2@") + "/items?token=s3cret&page=2"

  const attributesOf = (layer: AnyLayer, url: (server: TestServer.TestServer) => string, headers = {}) =>
    Effect.scoped(Effect.gen(function*() {
      const attributes: Array<Map<string, unknown>> = []
      const errors: Array<string> = []
      const native = yield* Effect.tracerWith(Effect.succeed)
      const tracer = Tracer.make({
        span(...args) {
          const span = native.span(...args)
          const seen = new Map<string, unknown>()
          attributes.push(seen)
          return Object.assign(Object.create(span) as Tracer.Span, {
            attribute(key: string, value: unknown) {
              seen.set(key, value)
            },
            end(_: bigint, exit: Exit.Exit<unknown, unknown>) {
              if (Exit.isFailure(exit)) errors.push(Cause.pretty(exit.cause))
            }
          })
        },
        context: (f, fiber) => native.context(f, fiber)
      })
      const server = yield* serve(() => TestServer.destroyBeforeHeaders())
      yield* Effect.flatMap(client, (c) => c.get(url(server), { headers })).pipe(
        Effect.either,
        Effect.provide(layer),
        Effect.withSpan("caller"),
        Effect.withTracer(tracer)
      )
      return { attributes: attributes.slice(1), errors, text: JSON.stringify([...attributes.flatMap((a) => [...a])]) }
    }))

  it.live(
    "the control shows the URL's password and token; every retrying subject shows neither",
    () =>
      Effect.gen(function*() {
        const plain = yield* attributesOf(control, secretUrl)
        assert.include(plain.text, "hunter2")
        for (const subject of subjects.filter((s) => s.retries)) {
          const seen = yield* attributesOf(subject.layer, secretUrl, { "proxy-authorization": "Basic c2VjcmV0" })
          assert.isAbove(seen.attributes.length, 0, subject.name)
          for (const secret of ["hunter2", "s3cret", "c2VjcmV0"]) {
            assert.notInclude(seen.text, secret, subject.name)
            for (const error of seen.errors) assert.notInclude(error, secret, subject.name)
          }
          assert.include(seen.text, "page=2", subject.name)
          // The rest of the span is the platform's: the same attribute names as the control's.
          assert.deepStrictEqual(
            [...seen.attributes[0].keys()].filter((k) => !k.startsWith("http.request.header.")).sort(),
            [...plain.attributes[0].keys()].sort(),
            subject.name
          )
        }
      }),
    20_000
  )
})

// --- withScope through the retry over any client ----------------------------------------

describe("withScope through HttpRetry.withRetry, tracing on, over FetchHttpClient", () => {
  const check = Effect.gen(function*() {
    const server = yield* serve(TestServer.sequence([TestServer.stallBody(200, { body: "0123456789", sent: 4 })]))
    const scoped = HttpClient.withScope(yield* client)
    const scope = yield* Scope.make()
    const response = yield* Scope.extend(scoped.get(server.url), scope)
    yield* Scope.close(scope, Exit.void)
    const read = yield* within2s(response.text)
    yield* eventually(() => server.openSockets() === 0)
    return read
  })

  it.live(
    "aborts the body read at once as FetchHttpClient alone does, and the server sees the socket close",
    () =>
      Effect.gen(function*() {
        const alone = yield* Effect.scoped(Effect.provide(check, FetchHttpClient.layer))
        const retried = yield* Effect.scoped(Effect.provide(check, retryOver(FetchHttpClient.layer)))
        assert.notStrictEqual(alone, "hung")
        assert.deepStrictEqual(retried, alone)
      }),
    20_000
  )
})

// --- A request whose scope was closed is not retried ---------------------------------------

describe("a request whose withScope scope is closed before the headers is not retried", () => {
  // A retry would wait 5 s: the request must fail within 2 s, as it does on the client alone.
  const slow = RetryPolicy.make({ baseDelay: "5 seconds", jitter: "none" })
  const retrying: ReadonlyArray<readonly [string, AnyLayer]> = [
    ...(["direct", "platform"] as const).map((transport) =>
      [`NodeHttpRetry.layer ${transport}`, NodeHttpRetry.layer({ transport, policy: slow })] as const
    ),
    ["withRetry over layerUndici", HttpRetry.layer(slow).pipe(Layer.provide(control))],
    ["withRetry over FetchHttpClient", HttpRetry.layer(slow).pipe(Layer.provide(FetchHttpClient.layer))]
  ]
  const check = Effect.gen(function*() {
    const { exit, server } = yield* closedWhileWaiting
    return Option.isNone(exit) ? "hung" : Exit.isSuccess(exit.value) ? "answered" : {
      ...errorOf(Cause.squash(exit.value.cause)),
      requests: server.requests.length
    }
  })

  for (const [name, layer] of retrying) {
    it.live(name, () =>
      Effect.gen(function*() {
        const expected = { _tag: "RequestError", reason: "Transport", requests: 1 }
        const alone = yield* Effect.scoped(
          Effect.provide(check, name.includes("Fetch") ? FetchHttpClient.layer : control)
        )
        assert.deepStrictEqual(alone, expected)
        assert.deepStrictEqual(yield* Effect.scoped(Effect.provide(check, layer)), expected)
      }), 20_000)
  }
})
