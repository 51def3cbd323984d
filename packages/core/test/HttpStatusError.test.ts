import * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError } from "@http-retry/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as util from "node:util"
import { url } from "./utils.js"

const responseOf = (
  status: number,
  request: HttpClientRequest.HttpClientRequest = HttpClientRequest.get(url),
  headers: Record<string, string> = {}
) => HttpClientResponse.fromWeb(request, new Response("body", { status, headers }))

/** One header as `HttpRetry.redactedHeaders` shows it. */
const shown = (name: string, value: string) => HttpRetry.redactedHeaders(Headers.fromInput({ [name]: value }))[name]

describe.concurrent("HttpStatusError", () => {
  it("make fills the fields from the response, with one attempt and NotRetryable by default", () => {
    const error = HttpStatusError.make({ response: responseOf(404) })
    assert.strictEqual(error._tag, "HttpStatusError")
    assert.strictEqual(error.status, 404)
    assert.strictEqual(error.method, "GET")
    assert.strictEqual(error.url, url)
    assert.strictEqual(error.attempts, 1)
    assert.strictEqual(error.reason, "NotRetryable")
    assert.isTrue(Option.isNone(error.retryAfter))
    assert.strictEqual(error.response.status, 404)
    assert.strictEqual(error.request.url, url)
  })

  it("message names status, method, URL, attempts and why", () => {
    assert.strictEqual(
      HttpStatusError.make({ response: responseOf(404) }).message,
      `HTTP 404 for GET ${url} after 1 attempt (status not retried)`
    )
    assert.strictEqual(
      HttpStatusError.make({
        response: responseOf(503, HttpClientRequest.put(url)),
        attempts: 3,
        reason: "AttemptsExhausted",
        retryAfter: Option.some(Duration.seconds(3))
      }).message,
      `HTTP 503 for PUT ${url} after 3 attempts (attempts exhausted, Retry-After 3s)`
    )
  })

  const reasons: ReadonlyArray<readonly [HttpStatusError.GiveUpReason, string]> = [
    ["NotRetryable", "status not retried"],
    ["MethodNotRetried", "method not retried"],
    ["BodyNotReplayable", "body not replayable"],
    ["AttemptsExhausted", "attempts exhausted"],
    ["DeadlineExceeded", "deadline exceeded"],
    ["RetryAfterTooLong", "Retry-After too long"],
    ["BudgetExhausted", "retry budget exhausted"]
  ]
  for (const [reason, text] of reasons) {
    it(`reason ${reason} reads "${text}"`, () => {
      const error = HttpStatusError.make({ response: responseOf(500), reason, attempts: 2 })
      assert.strictEqual(error.reason, reason)
      assert.strictEqual(error.message, `HTTP 500 for GET ${url} after 2 attempts (${text})`)
    })
  }

  it("toString, JSON and inspection show the same redacted summary", () => {
    const error = HttpStatusError.make({
      response: responseOf(429, HttpClientRequest.get(url), { "retry-after": "5" })
    })
    assert.strictEqual(String(error), `HttpStatusError: ${error.message}`)
    const json = JSON.parse(JSON.stringify(error))
    assert.deepStrictEqual(json, {
      _tag: "HttpStatusError",
      message: error.message,
      status: 429,
      method: "GET",
      url,
      attempts: 1,
      reason: "NotRetryable",
      requestHeaders: {},
      responseHeaders: { "content-type": "text/plain;charset=UTF-8", "retry-after": "5" }
    })
    assert.include(util.inspect(error), "HttpStatusError")
    assert.include(util.inspect(error), "status: 429")
  })

  it("redacts userinfo, secret query values and secret headers, with the caller's names too", () => {
    const request = HttpClientRequest.get(
      "https://bob:pw-9f2@api.test/v1/items?token=tok-1&api_key=k-2&tenant=t-3&page=2"
    )
      .pipe(
        HttpClientRequest.setHeaders({ authorization: "Bearer b-4", "x-tenant": "h-5", accept: "text/plain" })
      )
    const response = HttpClientResponse.fromWeb(
      request,
      new Response("", { status: 400, headers: { "set-cookie": "sid=c-6" } })
    )
    const error = HttpStatusError.make({ response, redact: { headers: ["X-Tenant"], query: ["tenant"] } })
    assert.strictEqual(
      error.url,
      "https://<redacted>@api.test/v1/items?token=<redacted>&api_key=<redacted>&tenant=<redacted>&page=2"
    )
    const texts = [error.message, JSON.stringify(error), util.inspect(error, { depth: 10 }), String(error)]
    for (const text of texts) {
      for (const secret of ["bob", "pw-9f2", "tok-1", "k-2", "t-3", "b-4", "h-5", "c-6"]) {
        assert.notInclude(text, secret)
      }
      assert.include(text, "page=2")
    }
    const json = JSON.parse(JSON.stringify(error))
    assert.deepStrictEqual(json.requestHeaders, {
      authorization: "<redacted>",
      "x-tenant": "<redacted>",
      accept: "text/plain"
    })
    assert.strictEqual(json.responseHeaders["set-cookie"], "<redacted>")
  })

  it("redacts the URLs that headers carry: Location, Content-Location, Link, Refresh, Referer", () => {
    const request = HttpClientRequest.get(url).pipe(
      HttpClientRequest.setHeaders({
        referer: "https://app.test/cb?code=ok-1&access_token=r-1&api-key=ak-1",
        "x-amz-security-token": "sts-1",
        apikey: "sb-1",
        "api-key": "az-1",
        "x-auth-token": "xa-1",
        "private-token": "gl-1"
      })
    )
    const headers = {
      location: "https://bob:pw-2@bucket.test/f?X-Amz-Signature=sig-2&X-Amz-Credential=cred-2&part=3#frag-2",
      "content-location": "/items/7?token=cl-3&page=2#access_token=h-3",
      link: "<https://api.test/p?sig=l-4&page=3>; rel=\"next\", <https://api.test/p?page=1>; rel=\"first\"",
      refresh: "5; url=https://api.test/r?secret=rf-5"
    }
    const error = HttpStatusError.make({
      response: HttpClientResponse.fromWeb(request, new Response(null, { status: 302, headers }))
    })
    const json = JSON.parse(JSON.stringify(error))
    assert.deepStrictEqual(json.responseHeaders, {
      location: "https://<redacted>@bucket.test/f?X-Amz-Signature=<redacted>&X-Amz-Credential=<redacted>&part=3",
      "content-location": "/items/7?token=<redacted>&page=2",
      link: "<https://api.test/p?sig=<redacted>&page=3>; rel=\"next\", <https://api.test/p?page=1>; rel=\"first\"",
      refresh: "5; url=https://api.test/r?secret=<redacted>"
    })
    assert.deepStrictEqual(json.requestHeaders, {
      referer: "https://app.test/cb?code=ok-1&access_token=<redacted>&api-key=<redacted>",
      "x-amz-security-token": "<redacted>",
      apikey: "<redacted>",
      "api-key": "<redacted>",
      "x-auth-token": "<redacted>",
      "private-token": "<redacted>"
    })
    for (const text of [JSON.stringify(error), util.inspect(error, { depth: 10 })]) {
      for (
        const secret of [
          "pw-2",
          "sig-2",
          "cred-2",
          "frag-2",
          "cl-3",
          "h-3",
          "l-4",
          "rf-5",
          "r-1",
          "sts-1",
          "ak-1",
          "sb-1",
          "az-1",
          "xa-1",
          "gl-1"
        ]
      ) {
        assert.notInclude(text, secret)
      }
    }
  })

  it("a URL's secrets are hidden in any header, relative or not, any scheme, a Link's targets included", () => {
    const responseHeaders = (headers: Record<string, string>) =>
      JSON.parse(
        JSON.stringify(HttpStatusError.make({ response: responseOf(302, undefined, headers) }))
      ).responseHeaders as Record<string, string>
    // A native app's redirect (RFC 8252) carries its token in the fragment, with no "//".
    assert.strictEqual(
      responseHeaders({ location: "com.example.app:/oauth2redirect#access_token=at-1&token_type=bearer" }).location,
      "com.example.app:/oauth2redirect"
    )
    assert.strictEqual(
      responseHeaders({ location: "https:/u:pw-2@h.test/p?token=t-2" }).location,
      "https://<redacted>@h.test/p?token=<redacted>"
    )
    assert.strictEqual(
      responseHeaders({ location: "myapp:callback?token=t-3" }).location,
      "myapp:callback?token=<redacted>"
    )
    assert.strictEqual(
      responseHeaders({ link: "</items?page=2&access_token=l-4>; rel=\"next\", </items#sig=l-5>; rel=\"prev\"" }).link,
      "</items?page=2&access_token=<redacted>>; rel=\"next\", </items>; rel=\"prev\""
    )
    assert.strictEqual(
      responseHeaders({ refresh: "0; url=/login?token=r-6&next=%2Fhome" }).refresh,
      "0; url=/login?token=<redacted>&next=%2Fhome"
    )
    assert.strictEqual(
      responseHeaders({ "x-next": "/page?cursor=c-1&api%5Fkey=k-7 then #access_token=a-8" })["x-next"],
      "/page?cursor=c-1&api%5Fkey=<redacted> then #access_token=<redacted>"
    )
  })

  it("secrets nested in a value, after a \";\", in userinfo without \"//\", quoted or padded, are hidden too", () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      [
        "refresh",
        "0; url=/login?next=https://h.test/?token=n-1",
        "0; url=/login?next=https://h.test/?token=<redacted>"
      ],
      ["refresh", "0; url=/login?next=https://user:n-2@evil.test/", "0; url=/login?next=https://<redacted>@evil.test/"],
      ["location", "/login?next=https://h.test/?token=n-3", "/login?next=https%3A%2F%2Fh.test%2F%3Ftoken%3D<redacted>"],
      ["location", "/p?a=1;token=n-4", "/p?a=1%3Btoken%3D<redacted>"],
      ["refresh", "0; url=/x?a=1&amp;token=n-5", "0; url=/x?a=1&amp;token=<redacted>"],
      ["location", "/x?a=1&amp;token=n-6", "/x?a=1&amp%3Btoken=<redacted>"],
      ["link", "< https://u:n-7@h.test/>; rel=next", "<https://<redacted>@h.test/>; rel=next"],
      ["link", "<\"https://u:n-8@h.test/\">", "<\"https://<redacted>@h.test/\">"],
      ["location", "\"https://u:n-9@h.test/\"", "\"https://<redacted>@h.test/\""],
      ["refresh", "0; url=//u:n-10@h.test/", "0; url=//<redacted>@h.test/"],
      ["refresh", "0; url=https:u:n-11@h.test/", "0; url=https:<redacted>@h.test/"],
      ["location", "\\\\u:n-12@h.test/", "//<redacted>@h.test/"],
      [
        "link",
        "<urn:isbn:0451450523>; rel=cite, <mailto:a@b.test>; rel=author",
        "<urn:isbn:0451450523>; rel=cite, <mailto:a@b.test>; rel=author"
      ],
      ["location", "data:text/plain,hi", "data:text/plain,hi"],
      ["content-type", "multipart/form-data; boundary=----x=y", "multipart/form-data; boundary=----x=y"],
      ["etag", "\"abc==\"", "\"abc==\""]
    ]
    for (const [name, value, expected] of cases) assert.strictEqual(shown(name, value), expected, `${name}: ${value}`)
  })

  it("a value nested in a value is read once: a token with spaces or commas is hidden whole, deep nesting costs its length", () => {
    assert.strictEqual(
      shown("location", "/cb?next=https://h.test/?token=ab+cd,ef&page=2"),
      "/cb?next=https%3A%2F%2Fh.test%2F%3Ftoken%3D<redacted>&page=2"
    )
    assert.strictEqual(shown("location", "/p?a=1;token=ab+cd"), "/p?a=1%3Btoken%3D<redacted>")
    assert.strictEqual(shown("refresh", "0; url=/cb?token=ab,cd&x=1"), "0; url=/cb?token=<redacted>&x=1")
    assert.strictEqual(shown("x-next", "https:/u:pw-1@h.test/"), "https:/<redacted>@h.test/")
    assert.strictEqual(shown("refresh", "0; url=https:\\u:pw-2@h.test/"), "0; url=https:\\<redacted>@h.test/")
    assert.strictEqual(
      shown("location", "/cb?next=https:/u:pw-3@h.test/"),
      "/cb?next=https%3A%2F<redacted>%40h.test%2F"
    )
    for (const name of ["x-next", "link", "location"]) {
      const deep = "a://?a=".repeat(2_000) + "1"
      const started = performance.now()
      const out = shown(name, name === "link" ? `<${deep}>` : deep)
      assert.isBelow(out.length, 4 * deep.length, name)
      assert.isBelow(performance.now() - started, 2_000, name)
    }
    const url = "https://api.test/x?a=" + "https://h.test/?a=".repeat(2_000) + "1&token=t-4"
    const redacted = HttpRetry.redactedUrl(HttpClientRequest.get(url))
    assert.notInclude(redacted, "t-4")
    assert.isBelow(redacted.length, 4 * url.length)
  })

  it("a long header value is redacted in one pass over it, not one per character", () => {
    // A quadratic scan took seconds on 64,000 characters; this one has 400,000.
    const value = "://" + "a".repeat(200_000) + "?" + "b".repeat(200_000)
    const started = performance.now()
    const json = JSON.stringify(HttpStatusError.make({ response: responseOf(503, undefined, { "x-trace": value }) }))
    assert.include(json, "aaaa")
    assert.isBelow(performance.now() - started, 2_000)
  })

  it("a relative Location keeps its path, scheme-relative ones their host", () => {
    const location = (value: string) =>
      JSON.parse(JSON.stringify(HttpStatusError.make({ response: responseOf(301, undefined, { location: value }) })))
        .responseHeaders.location
    assert.strictEqual(location("/next"), "/next")
    assert.strictEqual(location("next?page=2"), "next?page=2")
    assert.strictEqual(location("/cb#access_token=t-1"), "/cb")
    assert.strictEqual(location("?key=k-1"), "?key=<redacted>")
    assert.strictEqual(location("//u:p-1@cdn.test/x?sig=s-1"), "//<redacted>@cdn.test/x?sig=<redacted>")
  })

  it("without the caller's names only the built-in secrets are hidden", () => {
    const request = HttpClientRequest.get(`${url}?tenant=t-3&sig=s-7`)
    const error = HttpStatusError.make({ response: responseOf(400, request) })
    assert.strictEqual(error.url, `${url}?tenant=t-3&sig=<redacted>`)
  })

  it("isHttpStatusError recognises only this error", () => {
    const error = HttpStatusError.make({ response: responseOf(500) })
    assert.isTrue(HttpStatusError.isHttpStatusError(error))
    assert.isFalse(HttpStatusError.isHttpStatusError({ _tag: "HttpStatusError", status: 500 }))
    assert.isFalse(
      HttpStatusError.isHttpStatusError(
        new HttpClientError.RequestError({ request: HttpClientRequest.get(url), reason: "Transport" })
      )
    )
    assert.isFalse(HttpStatusError.isHttpStatusError(null))
    assert.instanceOf(error, Error)
    assert.instanceOf(error, HttpStatusError.HttpStatusError)
  })

  it.effect("is a yieldable error that Effect.catchTag selects", () =>
    Effect.gen(function*() {
      const error = HttpStatusError.make({ response: responseOf(502), attempts: 4, reason: "AttemptsExhausted" })
      const caught = yield* Effect.gen(function*() {
        return yield* error
      }).pipe(Effect.catchTag("HttpStatusError", (e) => Effect.succeed(e)))
      assert.strictEqual(caught, error)
      assert.strictEqual(caught.attempts, 4)
    }))
})
