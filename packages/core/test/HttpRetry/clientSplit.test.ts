import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry } from "@http-retry/core"
import * as Effect from "effect/Effect"
import { noJitter, url } from "../utils.js"

// The retry reads the `preprocess` and `postprocess` of a client (src/internal/clientSplit.ts): @effect/platform
// 0.97.2 has no public way to send a request of one's own through a client without preprocessing it again. These
// tests pin what that relies on.
describe("clientSplit", () => {
  it.effect("every client HttpClient makes carries preprocess and postprocess, and execute is one after the other", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const base = HttpClient.make((request) =>
        Effect.sync(() => {
          seen.push(request.url)
          return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
        })
      )
      const clients = [
        base,
        HttpClient.mapRequest(base, HttpClientRequest.appendUrl("/mapped")),
        HttpClient.transform(base, (effect) => effect),
        HttpClient.filterStatusOk(base)
      ]
      for (const client of clients) {
        const parts = client as unknown as Record<string, unknown>
        assert.strictEqual(typeof parts.preprocess, "function")
        assert.strictEqual(typeof parts.postprocess, "function")
      }
      const mapped = clients[1] as unknown as {
        preprocess: HttpClient.HttpClient.Preprocess<never, never>
        postprocess: HttpClient.HttpClient.Postprocess<never, never>
      }
      const request = yield* mapped.preprocess(HttpClientRequest.get(url))
      assert.strictEqual(request.url, `${url}/mapped`)
      yield* mapped.postprocess(Effect.succeed(HttpClientRequest.get("http://api.test/other")))
      assert.deepStrictEqual(seen, ["http://api.test/other"])
    }))

  it.effect("the retry preprocesses once per call and sends the preprocessed request on every attempt", () =>
    Effect.gen(function*() {
      let mapped = 0
      const sent: Array<string> = []
      let n = 0
      const base = HttpClient.make((request) =>
        Effect.sync(() => {
          sent.push(request.url)
          return HttpClientResponse.fromWeb(request, new Response(null, { status: ++n < 3 ? 503 : 200 }))
        })
      )
      const client = HttpRetry.withRetry(
        HttpClient.mapRequest(base, (request) => {
          mapped++
          return HttpClientRequest.appendUrl(request, "/mapped")
        }),
        noJitter({ baseDelay: 0 })
      )
      const response = yield* client.get(url)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(mapped, 1)
      assert.deepStrictEqual(sent, [`${url}/mapped`, `${url}/mapped`, `${url}/mapped`])
    }))
})
