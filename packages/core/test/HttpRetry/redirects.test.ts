import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, TestHttpClient } from "@http-retry/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { failure, noJitter, observe, success, timeoutError } from "../utils.js"

const { delayed, ok, respond } = TestHttpClient

// A retry after a redirect sends the caller's request again, from the first URL: the chain is followed inside each
// attempt. The first URL is what the caller asked for; where it points may change between attempts (a 302 to another
// replica, a signed URL that expires), and the retry's rules (method, body, Idempotency-Key) are about the caller's
// request, not a hop's.
describe("HttpRetry.followRedirects inside a retry", () => {
  it.effect("each attempt starts the chain again at the first URL", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make((request, index) =>
        request.url.endsWith("/a") ?
          respond(302, { headers: { location: "/b" } }) :
          index === 2 ?
          respond(503) :
          ok("b")
      )
      const client = HttpRetry.withRetry(HttpRetry.followRedirects(test.client), noJitter())
      const out = yield* observe(test, client.get("http://api.test/a"))
      assert.strictEqual(success(out.result).status, 200)
      assert.deepStrictEqual(out.requests.map((r) => new URL(r.request.url).pathname), ["/a", "/b", "/a", "/b"])
      assert.deepStrictEqual(out.at, [0, 0, 1000, 1000])
    }))

  it.effect("credentials reach the first origin on every attempt, never the other origin", () =>
    Effect.gen(function*() {
      const test = yield* TestHttpClient.make((request, index) =>
        request.url.startsWith("http://api.test/") ?
          respond(307, { headers: { location: "http://files.test/b" } }) :
          index === 2 ?
          respond(503) :
          ok("b")
      )
      const client = HttpRetry.withRetry(HttpRetry.followRedirects(test.client), noJitter())
      const out = yield* observe(
        test,
        client.execute(HttpClientRequest.get("http://api.test/a", { headers: { authorization: "Bearer s3cret" } }))
      )
      assert.strictEqual(success(out.result).status, 200)
      assert.deepStrictEqual(
        out.requests.map((r) => [new URL(r.request.url).host, r.request.headers.authorization]),
        [
          ["api.test", "Bearer s3cret"],
          ["files.test", undefined],
          ["api.test", "Bearer s3cret"],
          ["files.test", undefined]
        ]
      )
    }))

  it.effect("every secret header stays with the first origin: API keys, tokens, the policy's own names", () =>
    Effect.gen(function*() {
      const headers = {
        "x-api-key": "k1",
        "private-token": "k2",
        "x-amz-security-token": "k3",
        "x-tenant": "k4",
        // Not listed, a credential's by its name: a token, a subscription key.
        "x-vault-token": "k5",
        "ocp-apim-subscription-key": "k6",
        accept: "application/json",
        "idempotency-key": "i1"
      }
      const hosts = (requests: ReadonlyArray<TestHttpClient.Recorded>) =>
        requests.map((r): [string, Record<string, string>] => {
          const { b3: _b3, traceparent: _traceparent, ...sent } = r.request.headers
          return [new URL(r.request.url).host, sent]
        })
      const script = (request: HttpClientRequest.HttpClientRequest) =>
        request.url.startsWith("http://api.test/")
          ? respond(307, { headers: { location: "http://files.test/b" } })
          : ok()
      // Over a retrying client, the policy's secret names are known.
      const test = yield* TestHttpClient.make(script)
      const policy = noJitter({ redact: { headers: ["X-Tenant"] } })
      const client = HttpRetry.withRetry(test.client, policy).pipe(HttpRetry.followRedirects())
      const out = yield* observe(test, client.execute(HttpClientRequest.get("http://api.test/a", { headers })))
      assert.strictEqual(success(out.result).status, 200)
      assert.deepStrictEqual(hosts(out.requests), [["api.test", headers], ["files.test", {
        accept: "application/json",
        "idempotency-key": "i1"
      }]])
      // A name added for one call (withPolicy around it) is the call's secret too.
      const perCall = yield* TestHttpClient.make(script)
      const overridden = yield* observe(
        perCall,
        HttpRetry.withPolicy(
          HttpRetry.withRetry(perCall.client, noJitter()).pipe(HttpRetry.followRedirects()).execute(
            HttpClientRequest.get("http://api.test/a", { headers })
          ),
          { redact: { headers: ["x-tenant"] } }
        )
      )
      assert.strictEqual(success(overridden.result).status, 200)
      assert.deepStrictEqual(hosts(overridden.requests), [["api.test", headers], ["files.test", {
        accept: "application/json",
        "idempotency-key": "i1"
      }]])
      // Over a plain client, the default secret names.
      const plain = yield* TestHttpClient.make(script)
      const followed = yield* observe(
        plain,
        HttpRetry.followRedirects(plain.client).execute(HttpClientRequest.get("http://api.test/a", { headers }))
      )
      assert.strictEqual(success(followed.result).status, 200)
      assert.deepStrictEqual(hosts(followed.requests), [["api.test", headers], ["files.test", {
        "x-tenant": "k4",
        accept: "application/json",
        "idempotency-key": "i1"
      }]])
    }))
})

describe("HttpRetry.followRedirects over a client that reads the attempt's timeout", () => {
  /** The scripted client, enforcing `AttemptTimeout` itself on the fiber's clock, as the Node layer's transport does. */
  const enforcing = <E, R>(client: HttpClient.HttpClient.With<E, R>) =>
    HttpRetry.readsAttemptTimeout(HttpClient.transform(client, (effect) =>
      Effect.flatMap(
        Effect.serviceOption(HttpRetry.AttemptTimeout),
        (timeout) =>
          Option.isSome(timeout) ?
            Effect.timeoutFail(effect, { duration: timeout.value.millis, onTimeout: timeout.value.onTimeout }) :
            effect
      )))

  it.effect("the hops share the attempt's timeout: a chain slower than it times out, as over any other client", () =>
    Effect.gen(function*() {
      // Every hop answers after 600 ms; the attempt has 1 s.
      const test = yield* TestHttpClient.make((request) => {
        const n = Number(new URL(request.url).pathname.slice(1))
        return delayed("600 millis", n < 3 ? respond(302, { headers: { location: `/${n + 1}` } }) : ok("done"))
      })
      const policy = noJitter({ maxAttempts: 1, attemptTimeout: "1 second" })
      for (const client of [enforcing(test.client), test.client]) {
        const out = yield* observe(
          test,
          HttpRetry.withRetry(HttpRetry.followRedirects(client), policy).get("http://api.test/0")
        )
        // Hop 0 answers at 600 ms; hop 1 has the 400 ms left, and is cut at 1,000 ms.
        assert.strictEqual(timeoutError(failure(out.result))._tag, "TimeoutException")
        assert.strictEqual(out.end, 1000)
      }
    }))
})
