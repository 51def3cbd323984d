/**
 * The two transports side by side: the direct one (the default) must answer every read the platform's undici client
 * answers, with the same values and the same errors. The rest of the Node layer's tests run on both through the
 * platform-transport project (vitest.config.ts); these pin the response object itself.
 */
import * as Undici from "@effect/platform-node/Undici"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import { assert, describe, it } from "@effect/vitest"
import { NodeHttpRetry } from "@http-retry/node"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { eventually, fast, serve } from "./harness.js"
import * as TestServer from "./utils/TestServer.js"

const transports = ["direct", "platform"] as const

const json = { "content-type": "application/json" }

describe.each(transports)("transport %s", (transport) => {
  const layer = NodeHttpRetry.layer({ transport, policy: fast() })
  const get = (url: string) => Effect.flatMap(HttpClient.HttpClient, (client) => client.get(url))

  it.scopedLive("text twice, then json: the same body each time; headers lower-cased, cookies from every Set-Cookie", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(200, {
          headers: { ...json, "X-Trace": "abc", "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"] },
          body: "{\"items\":[1,2]}"
        })
      ]))
      const response = yield* get(`${server.url}/items`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers["x-trace"], "abc")
      assert.strictEqual(response.headers["content-type"], "application/json")
      assert.strictEqual(yield* response.text, "{\"items\":[1,2]}")
      assert.strictEqual(yield* response.text, "{\"items\":[1,2]}")
      assert.deepStrictEqual(yield* response.json, { items: [1, 2] })
      assert.deepStrictEqual(Object.keys(response.cookies.cookies).sort(), ["a", "b"])
      assert.strictEqual(response.cookies.cookies.a.value, "1")
    }).pipe(Effect.provide(layer)))

  it.scopedLive("an empty body is null as json; a body that is not JSON fails with a Decode ResponseError", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(200, { body: "" }),
        TestServer.respond(200, { headers: json, body: "{not json" })
      ]))
      assert.isNull(yield* Effect.flatMap(get(server.url), (response) => response.json))
      const error = yield* Effect.flip(Effect.flatMap(get(server.url), (response) => response.json))
      assert.isTrue(HttpClientError.isHttpClientError(error))
      assert.strictEqual(error._tag, "ResponseError")
      assert.strictEqual((error as HttpClientError.ResponseError).reason, "Decode")
      assert.strictEqual((error as HttpClientError.ResponseError).response.status, 200)
    }).pipe(Effect.provide(layer)))

  it.scopedLive("arrayBuffer, urlParamsBody and stream give the bytes the server sent", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array(100_000).map((_, i) => i % 251)
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(200, { body: bytes }),
        TestServer.respond(200, { body: "a=1&b=two&a=3" }),
        TestServer.respond(200, { body: bytes })
      ]))
      const buffer = yield* Effect.flatMap(get(server.url), (response) => response.arrayBuffer)
      assert.deepStrictEqual(new Uint8Array(buffer), bytes)
      const params = yield* Effect.flatMap(get(server.url), (response) => response.urlParamsBody)
      assert.deepStrictEqual(params, UrlParams.fromInput([["a", "1"], ["b", "two"], ["a", "3"]]))
      const chunks = yield* Effect.flatMap(get(server.url), (response) => Stream.runCollect(response.stream))
      assert.deepStrictEqual(Buffer.concat(Chunk.toArray(chunks)), Buffer.from(bytes))
    }).pipe(Effect.provide(layer)))

  it.scopedLive("HEAD: the headers of the answer, an empty body", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([
        TestServer.respond(200, { headers: { "content-length": 10 }, body: "0123456789" })
      ]))
      const response = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.head(server.url))
      assert.strictEqual(response.headers["content-length"], "10")
      assert.strictEqual(yield* response.text, "")
      assert.strictEqual(server.requests[0].method, "HEAD")
    }).pipe(Effect.provide(layer)))

  it.scopedLive("request bodies: bytes, text, a stream and undici's form data reach the server as written", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([204]))
      const post = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request))
      const form = new Undici.FormData()
      form.append("name", "value")
      yield* post(HttpClientRequest.post(server.url).pipe(HttpClientRequest.bodyUint8Array(new Uint8Array([1, 2, 3]))))
      yield* post(HttpClientRequest.put(server.url).pipe(HttpClientRequest.bodyText("hello", "text/plain")))
      yield* post(
        HttpClientRequest.post(server.url).pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("str"), new TextEncoder().encode("eam")))
        )
      )
      yield* post(
        HttpClientRequest.post(server.url).pipe(
          HttpClientRequest.setBody(HttpBody.formData(form as unknown as FormData))
        )
      )
      const [bytes, text, stream, formData] = server.requests
      assert.deepStrictEqual([...bytes.body], [1, 2, 3])
      assert.strictEqual(bytes.headers["content-length"], "3")
      assert.strictEqual(text.method, "PUT")
      assert.strictEqual(text.body.toString(), "hello")
      assert.strictEqual(text.headers["content-type"], "text/plain")
      assert.strictEqual(stream.body.toString(), "stream")
      assert.match(String(formData.headers["content-type"]), /^multipart\/form-data; boundary=/)
      assert.include(formData.body.toString(), "name=\"name\"")
      assert.include(formData.body.toString(), "value")
    }).pipe(Effect.provide(layer)))

  it.scopedLive("a URL that does not parse is a RequestError with reason InvalidUrl", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(get("http://[::1"))
      assert.isTrue(HttpClientError.isHttpClientError(error))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual((error as HttpClientError.RequestError).reason, "InvalidUrl")
    }).pipe(Effect.provide(layer)))

  it.scopedLive("interrupting a body read closes the connection: the server sees its socket go", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([TestServer.stallBody(200)]))
      const response = yield* get(server.url)
      const reading = yield* Effect.fork(response.text)
      // Let the read start (and wait on the stalled body) before it is interrupted.
      yield* Effect.sleep("50 millis")
      assert.strictEqual(server.openSockets(), 1)
      yield* Fiber.interrupt(reading)
      yield* eventually(() => server.openSockets() === 0)
    }).pipe(Effect.provide(layer)))

  it.scopedLive("a stream taken in part closes the connection rather than reading the rest", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([TestServer.dripBody(200, 20, { body: "x".repeat(1_000) })]))
      const response = yield* get(server.url)
      const first = yield* Stream.runCollect(Stream.take(response.stream, 1))
      assert.strictEqual(Chunk.size(first), 1)
      yield* eventually(() => server.openSockets() === 0)
    }).pipe(Effect.provide(layer)))
})

describe("transport direct", () => {
  it.scopedLive("a body that breaks off says how much of it arrived, as the platform's ResponseError with a description", () =>
    Effect.gen(function*() {
      const body = "x".repeat(100)
      const server = yield* serve(TestServer.sequence([
        TestServer.destroyMidBody(200, { body, sent: 16 }),
        TestServer.destroyMidBody(200, { body, sent: 16 }),
        TestServer.destroyMidBody(200, { body, sent: 40, headers: { "transfer-encoding": "chunked" } }),
        TestServer.destroyMidBody(200, { body, sent: 16 }),
        TestServer.respond(200, { headers: json, body: "{not json" })
      ]))
      // Secrets in the URL stay out of the message, as everywhere.
      const secretUrl = server.url.replace("://", "://ada:hunter2@") + "/items?token=s3cret"
      const read = <A, E>(
        transport: "direct" | "platform",
        f: (r: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, E>
      ) =>
        Effect.flatMap(HttpClient.HttpClient, (client) => Effect.flatMap(client.get(secretUrl), f)).pipe(
          Effect.provide(NodeHttpRetry.layer({ transport, policy: fast() })),
          Effect.flip
        )
      const text = yield* read("direct", (r) => r.text)
      const stream = yield* read("direct", (r) => Stream.runDrain(r.stream))
      const chunked = yield* read("direct", (r) => r.arrayBuffer)
      const platform = yield* read("platform", (r) => r.text)
      for (const error of [text, stream, chunked]) {
        assert.isTrue(HttpClientError.isHttpClientError(error))
        assert.strictEqual(error._tag, platform._tag)
        assert.strictEqual((error as HttpClientError.ResponseError).reason, platform.reason)
        assert.notMatch(error.message, /hunter2|s3cret/)
      }
      const description = (e: unknown) => (e as HttpClientError.ResponseError).description
      assert.strictEqual(description(text), "other side closed (UND_ERR_SOCKET) after 16 of 100 body bytes")
      assert.strictEqual(description(stream), "other side closed (UND_ERR_SOCKET) after 16 of 100 body bytes")
      assert.strictEqual(description(chunked), "other side closed (UND_ERR_SOCKET) after 40 body bytes")
      assert.strictEqual(
        text.message,
        `Decode: other side closed (UND_ERR_SOCKET) after 16 of 100 body bytes (200 GET ${
          server.url.replace("://", "://<redacted>@")
        }/items?token=<redacted>)`
      )
      // A body that arrived whole but is not JSON says nothing of bytes: only a body that broke off does.
      assert.notInclude(String(description(yield* read("direct", (r) => r.json))), "body bytes")
    }))

  it.scopedLive("the global FormData of Node 20 is sent too (the platform's client hands it to undici 7, which cannot read it)", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestServer.sequence([204]))
      const form = new FormData()
      form.append("name", "value")
      form.append("file", new Blob(["bytes"], { type: "text/plain" }), "a.txt")
      const send = (transport: "direct" | "platform") =>
        Effect.flatMap(HttpClient.HttpClient, (client) => client.post(server.url, { body: HttpBody.formData(form) }))
          .pipe(
            Effect.provide(NodeHttpRetry.layer({ transport, policy: fast() }))
          )
      yield* send("direct")
      const body = server.requests[0].body.toString()
      assert.match(String(server.requests[0].headers["content-type"]), /^multipart\/form-data; boundary=/)
      assert.include(body, "name=\"name\"\r\n\r\nvalue")
      assert.include(body, "filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nbytes")
      const error = yield* Effect.flip(send("platform"))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual(server.requests.length, 1)
    }))
})
