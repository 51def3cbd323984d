import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { Hedging, HttpRetry, RetryPolicy, TestHttpClient, TransportFailure } from "@http-retry/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as util from "node:util"
import { planOf } from "../../src/internal/plan.js"
import * as Redact from "../../src/internal/redact.js"
import { describeCause, redactCause } from "../../src/internal/redactedErrors.js"
import * as RedactingTracer from "../../src/internal/redactingTracer.js"
import { captureLogs, failure, noJitter, requestError, runScript, statusError, timeoutError, times } from "../utils.js"

const { fail, hang, respond } = TestHttpClient

describe.concurrent("HttpRetry.withRetry: redaction", () => {
  describe("redaction", () => {
    const secrets = [
      "u-alice",
      "pw-hunter2",
      "tok-abc",
      "auth-s3cr3t",
      "cookie-s3cr3t",
      "apikey-s3cr3t",
      "tenant-s3cr3t",
      "session-s3cr3t"
    ]
    const secretRequest = HttpClientRequest.get("http://u-alice:pw-hunter2@api.test/x?token=tok-abc&page=2").pipe(
      HttpClientRequest.setUrlParam("session", "session-s3cr3t"),
      HttpClientRequest.setHeaders({
        Authorization: "Bearer auth-s3cr3t",
        Cookie: "sid=cookie-s3cr3t",
        "X-Api-Key": "apikey-s3cr3t",
        "X-Tenant": "tenant-s3cr3t",
        Accept: "application/json"
      })
    )
    const policy = noJitter({
      redact: { headers: ["x-tenant"], query: ["session"] },
      log: { level: "Debug", query: true },
      attemptTimeout: "2 seconds"
    })

    const assertNoSecret = (text: string, where: string) => {
      for (const secret of secrets) assert.notInclude(text, secret, `${where} leaks ${secret}`)
    }

    const renderings = (error: unknown): Record<string, string> => ({
      message: (error as Error).message,
      "JSON.stringify": JSON.stringify(error),
      "util.inspect": util.inspect(error, { depth: 10 }),
      String: String(error)
    })

    it.effect("keeps secrets out of log lines, even with query logging", () =>
      Effect.gen(function*() {
        const [out, lines] = yield* captureLogs(runScript(times(4, respond(503)), policy, secretRequest))
        assert.strictEqual(out.attempts, 4)
        assert.strictEqual(lines.length, 4)
        for (const line of lines) {
          assertNoSecret(line.message, "log line")
          assert.include(line.message, "api.test/x")
          assert.include(line.message, "page=2")
        }
        assert.include(lines[0].message, "token=<redacted>")
      }))

    it.effect("keeps secrets out of HttpStatusError message, JSON and inspection", () =>
      Effect.gen(function*() {
        for (const script of [times(4, respond(503)), [respond(400)]]) {
          const out = yield* runScript(script, policy, secretRequest)
          const error = statusError(out.result)
          for (const [where, text] of Object.entries(renderings(error))) {
            assertNoSecret(text, where)
            assert.include(text, "api.test/x", where)
            assert.include(text, "page=2", where)
          }
          assertNoSecret(error.url, "url")
          const json = JSON.parse(JSON.stringify(error))
          assert.strictEqual(json.requestHeaders.authorization, "<redacted>")
          assert.strictEqual(json.requestHeaders["x-tenant"], "<redacted>")
          assert.strictEqual(json.requestHeaders.accept, "application/json")
          // The raw request stays available to code that asks for it.
          assert.strictEqual(error.request.headers.authorization, "Bearer auth-s3cr3t")
        }
      }))

    it.effect("an HttpStatusError failed under a span hides the policy's own names in JSON and inspection too", () =>
      Effect.gen(function*() {
        // Failed under a span, the error reaches the caller as Effect's proxy of it.
        const out = yield* Effect.withSpan(runScript(times(4, respond(503)), policy, secretRequest), "caller")
        const error = statusError(out.result)
        for (const [where, text] of Object.entries(renderings(error))) assertNoSecret(text, where)
        assert.strictEqual(JSON.parse(JSON.stringify(error)).requestHeaders["x-tenant"], "<redacted>")
      }))

    it.effect("well-known credential names are hidden in any spelling; cursors and look-alikes stay readable", () =>
      Effect.gen(function*() {
        const request = HttpClientRequest.get(
          "http://api.test/x?private_token=pt-s3cr3t&X-Goog-Signature=gs-s3cr3t&accessToken=at-s3cr3t" +
            "&password2=p2-s3cr3t&api_token=apt-s3cr3t&access_key=ak2-s3cr3t&password%5B0%5D=pa-s3cr3t" +
            "&pageToken=p7&pagination_token=p8&%24skiptoken=p9&hasPassword=true"
        ).pipe(HttpClientRequest.setHeaders({
          "X-Vault-Token": "vt-s3cr3t",
          "X-Gitlab-Token": "gl-s3cr3t",
          "Access-Token": "at2-s3cr3t",
          "Ocp-Apim-Subscription-Key": "sk-s3cr3t",
          "X-Auth-Key": "ak-s3cr3t",
          "X-Hub-Signature-256": "hs-s3cr3t",
          "Idempotency-Key": "idem-1",
          "X-Continuation-Token": "c1",
          "Access-Control-Allow-Credentials": "true"
        }))
        const out = yield* runScript(times(4, respond(503)), noJitter(), request)
        const error = statusError(out.result)
        for (const [where, text] of Object.entries(renderings(error))) {
          assert.notMatch(text, /s3cr3t/, where)
          // Cursors and flags are no credentials: they stay readable, to debug with.
          for (const kept of ["pageToken=p7", "pagination_token=p8", "%24skiptoken=p9", "hasPassword=true"]) {
            assert.include(text, kept, where)
          }
        }
        const json = JSON.parse(JSON.stringify(error))
        assert.strictEqual(json.requestHeaders["x-vault-token"], "<redacted>")
        assert.strictEqual(json.requestHeaders["x-hub-signature-256"], "<redacted>")
        assert.strictEqual(json.requestHeaders["idempotency-key"], "idem-1")
        assert.strictEqual(json.requestHeaders["x-continuation-token"], "c1")
        assert.strictEqual(json.requestHeaders["access-control-allow-credentials"], "true")
        // A policy's name that reads as nothing hides nothing more.
        const odd = Redact.make([], ["123", "-"])
        assert.isFalse(Redact.isSecretName("42", odd))
        assert.isFalse(Redact.isSecretName("a[0]", odd))
        assert.isTrue(Redact.isSecretName("password", odd))
      }))

    it.effect("keeps secrets out of a transport RequestError after withRetry", () =>
      Effect.gen(function*() {
        for (const script of [times(4, fail("ECONNRESET")), [fail("ENOTFOUND")]]) {
          const out = yield* runScript(script, policy, secretRequest)
          const error = requestError(failure(out.result))
          for (const [where, text] of Object.entries(renderings(error))) {
            assertNoSecret(text, where)
            assert.include(text, "api.test/x", where)
          }
          assert.strictEqual(error.reason, "Transport")
        }
      }))

    it.effect("onRetry and onGiveUp see the transport error redacted, as the caller does", () =>
      Effect.gen(function*() {
        const seen: Array<unknown> = []
        const hooks: HttpRetry.RetryOptions<unknown, never> = {
          onRetry: (info) =>
            Effect.sync(() => seen.push(info.failure._tag === "Error" ? info.failure.error : undefined)),
          onGiveUp: (info) =>
            Effect.sync(() => seen.push(info.failure._tag === "Error" ? info.failure.error : undefined))
        }
        const out = yield* runScript(times(4, fail("ECONNRESET")), policy, secretRequest, hooks)
        assert.strictEqual(out.attempts, 4)
        assert.strictEqual(seen.length, 4)
        // onGiveUp gets the very error the caller does.
        assert.strictEqual(seen[3], failure(out.result))
        for (const error of seen) {
          assert.strictEqual(requestError(error).reason, "Transport")
          for (const [where, text] of Object.entries(renderings(error))) {
            assertNoSecret(text, `hook's ${where}`)
            assert.include(text, "api.test/x", where)
          }
        }
      }))

    it("an option error keeps no password or token of the value it rejects (a misplaced Redis or proxy URL)", () => {
      const policy = noJitter()
      // Each wrong option, and what its error still shows of it.
      const given: ReadonlyArray<readonly [() => unknown, string]> = [
        [
          () => HttpRetry.layer(policy, { budget: { redis: "redis://:pw-hunter2@cache.test:6379" } } as never),
          "cache.test"
        ],
        [() => HttpRetry.withRetry(policy, { budget: "redis://u-alice:pw-hunter2@cache.test" } as never), "cache.test"],
        [
          () =>
            HttpRetry.layer(policy, { breaker: { redis: new URL("redis://u-alice:pw-hunter2@cache.test") } } as never),
          "cache.test"
        ],
        [
          () => HttpRetry.layer(policy, { budget: { store: { host: "cache.test", password: "pw-hunter2" } } } as never),
          "cache.test"
        ],
        [
          () => HttpRetry.withHedging({ budget: { redis: ["https://proxy.test/?token=tok-abc"] } } as never),
          "proxy.test"
        ],
        [() => RetryPolicy.make({ baseDelay: "http://u-alice:pw-hunter2@cache.test" as never }), "cache.test"],
        // A client given where options go: its fields hold the password, so it is named, not shown.
        [
          () =>
            HttpRetry.withRetry(policy, {
              budget: new (class Redis {
                readonly options = { host: "cache.test", password: "pw-hunter2" }
              })()
            } as never),
          "[Redis]"
        ],
        // Too deep to look into: not shown.
        [
          () =>
            HttpRetry.withRetry(policy, { budget: { a: { b: { c: { d: { password: "pw-hunter2" } } } } } } as never),
          "…"
        ]
      ]
      for (const [make, shown] of given) {
        let error: unknown
        try {
          make()
        } catch (thrown) {
          error = thrown
        }
        assert.isTrue(error instanceof RetryPolicy.RetryPolicyError || error instanceof Hedging.HedgingError)
        for (const [where, text] of Object.entries(renderings(error))) {
          assertNoSecret(text, where)
          assert.include(text, shown, where)
        }
      }
    })

    it("an option error keeps what holds no secret as it was given, and never throws anything but itself", () => {
      const given = [{ maxTokens: 10, tokenRatio: 0.1 }]
      let error: unknown
      try {
        HttpRetry.withRetry(noJitter(), { budget: given } as never)
      } catch (thrown) {
        error = thrown
      }
      assert.instanceOf(error, RetryPolicy.RetryPolicyError)
      assert.strictEqual((error as RetryPolicy.RetryPolicyError).value, given)
      assert.include((error as Error).message, "\"tokenRatio\":0.1")
      // A credential's name hides its value, as the option itself or in an object: text, a number, a list.
      for (
        const make of [
          () => RetryPolicy.make({ password: "pw-hunter2" } as never),
          () => HttpRetry.withRetry(noJitter(), { budget: { redis: { password: 4242 } } } as never),
          () =>
            HttpRetry.withRetry(
              noJitter(),
              { budget: { tls: { privateKeyPem: "pw-hunter2", secret2: "tok-abc" } } } as never
            ),
          () =>
            HttpRetry.withRetry(noJitter(), { budget: { store: { tokens: ["tok-abc"], keyPrefix: "app:" } } } as never)
        ]
      ) {
        let rejected: unknown
        try {
          make()
        } catch (thrown) {
          rejected = thrown
        }
        assert.instanceOf(rejected, RetryPolicy.RetryPolicyError)
        const text = `${(rejected as Error).message} ${JSON.stringify(rejected)}`
        for (const secret of ["pw-hunter2", "4242", "tok-abc"]) assert.notInclude(text, secret)
        // This library's own option names are no credential's.
        if (text.includes("keyPrefix")) assert.include(text, "\"keyPrefix\":\"app:\"")
      }
      // A getter that throws: the typed error, its value not kept.
      const hostile = {
        get x(): never {
          throw new Error("boom")
        }
      }
      assert.throws(() => HttpRetry.withHedging({ bogus: hostile } as never), Hedging.HedgingError)
    })

    it.effect("a 200 whose body is not JSON: the decode error quotes none of the body, as the platform's does not", () =>
      Effect.gen(function*() {
        const test = yield* TestHttpClient.make(() => TestHttpClient.ok("access_token=body-s3cr3t&x=1"))
        const response = yield* HttpRetry.withRetry(test.client, policy).execute(secretRequest)
        const error = yield* Effect.flip(response.json)
        assert.strictEqual(error._tag, "ResponseError")
        assert.strictEqual(error.reason, "Decode")
        assert.strictEqual(error.description, undefined)
        for (const [where, text] of Object.entries(renderings(error))) {
          assertNoSecret(text, where)
          assert.notInclude(text, "access_tok", where)
          assert.notInclude(text, "body-s3cr3t", where)
        }
        // Nor does the cause it carries, as `Cause.pretty` with `renderErrorCause` (and loggers) print it.
        const quoting = yield* TestHttpClient.make(() => TestHttpClient.ok("{\"access_token\": body-s3cr3t}"))
        const decoded = yield* Effect.flip(
          Effect.flatMap(HttpRetry.withRetry(quoting.client, policy).execute(secretRequest), (r) => r.json)
        )
        assert.strictEqual(decoded._tag === "ResponseError" && decoded.reason, "Decode")
        const pretty = Cause.pretty(Cause.fail(decoded), { renderErrorCause: true })
        assert.include(pretty, "SyntaxError while decoding the body")
        assert.notInclude(pretty, "body-s3cr3", "Cause.pretty")
        assert.notInclude(util.inspect((decoded as { readonly cause?: unknown }).cause), "body-s3cr3", "the cause")
        // The same read on the client without the retry: the platform's message.
        const plain = yield* Effect.flip(Effect.flatMap(test.client.get("http://api.test/x"), (r) => r.json)).pipe(
          Effect.catchAllDefect(Effect.fail)
        )
        assert.strictEqual((plain as { readonly description?: string }).description, undefined)
      }))

    it.effect("a transport error says what its cause says: code and address, the platform's tag and reason", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          times(4, fail("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:4000")),
          noJitter()
        )
        const error = requestError(failure(out.result))
        assert.strictEqual(error._tag, "RequestError")
        assert.strictEqual(error.reason, "Transport")
        assert.strictEqual(error.description, "connect ECONNREFUSED 127.0.0.1:4000")
        assert.strictEqual(error.message, "Transport: connect ECONNREFUSED 127.0.0.1:4000 (GET http://api.test/items)")
      }))

    it.effect("a cause without the code in its message gets it appended; a URL in it loses its secrets", () =>
      Effect.gen(function*() {
        const out = yield* runScript(
          times(4, fail("ECONNRESET", "reset by http://u-alice:pw-hunter2@api.test/x?token=tok-abc")),
          policy,
          secretRequest
        )
        const error = requestError(failure(out.result))
        assert.strictEqual(error.description, "reset by http://<redacted>@api.test/x (ECONNRESET)")
        for (const [where, text] of Object.entries(renderings(error))) assertNoSecret(text, where)
        // Effect's loggers print the cause in full: its message and stack lose the URL's secrets too, and it keeps
        // what a classification reads.
        assertNoSecret(Cause.pretty(Cause.fail(error), { renderErrorCause: true }), "Cause.pretty")
        assert.include(
          Cause.pretty(Cause.fail(error), { renderErrorCause: true }),
          "reset by http://<redacted>@api.test/x"
        )
        assert.strictEqual((error.cause as { readonly code?: string }).code, "ECONNRESET")
        assert.deepStrictEqual(TransportFailure.classify(error), { kind: "ConnectionReset", code: "ECONNRESET" })
      }))

    it("a body that breaks off while read keeps its cause and the cause's chain", () =>
      Effect.gen(function*() {
        const socket = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            controller.error(new TypeError("terminated", { cause: socket }))
          }
        })
        const client = HttpClient.make((request) =>
          Effect.succeed(HttpClientResponse.fromWeb(request, new Response(body, { status: 200 })))
        )
        const response = yield* HttpRetry.withRetry(client, policy).get("http://api.test/x")
        const error = yield* Effect.flip(response.text)
        assert.strictEqual(error._tag === "ResponseError" && error.reason, "Decode")
        const cause = (error as { readonly cause?: unknown }).cause
        assert.instanceOf(cause, TypeError)
        assert.strictEqual((cause as TypeError).message, "terminated")
        assert.strictEqual(((cause as TypeError).cause as { readonly code?: string }).code, "UND_ERR_SOCKET")
      }))

    it("a header value quoted by fetch's refusal of it is hidden, in the description and the cause", () => {
      // Only the quoted value of fetch's own message; a quote elsewhere in the text stays.
      assert.strictEqual(
        (redactCause(new TypeError("foo \"a\" and Headers.set: \"b-s3cr3t\" is an invalid header value.")) as Error)
          .message,
        "foo \"a\" and Headers.set: \"<redacted>\" is an invalid header value."
      )
      // A URL in the value: hidden with the rest of it, not cut at the URL.
      assert.strictEqual(
        (redactCause(
          new TypeError("Headers.append: \"Bearer s3cr3t\nhttps://h.test/?a\" is an invalid header value.")
        ) as Error)
          .message,
        "Headers.append: \"<redacted>\" is an invalid header value."
      )
      for (const quoted of ["\"Bearer auth-s3cr3t\\\nx\"", "\"Bearer \"auth-s3cr3t\"\""]) {
        const message = (redactCause(new TypeError(`Headers.append: ${quoted} is an invalid header value.`)) as Error)
          .message
        assert.strictEqual(message, "Headers.append: \"<redacted>\" is an invalid header value.", quoted)
      }
      const cause = new TypeError("Headers.append: \"Bearer auth-s3cr3t\r\nx\" is an invalid header value.")
      const redacted = redactCause(cause) as TypeError
      assert.instanceOf(redacted, TypeError)
      assert.strictEqual(redacted.message, "Headers.append: \"<redacted>\" is an invalid header value.")
      assertNoSecret(String(redacted.stack), "stack")
      assert.strictEqual(describeCause(cause), "Headers.append: \"<redacted>\" is an invalid header value.")
    })

    it.effect("a URL that does not parse: nothing between its scheme and its last \"@\" is shown, cause included", () =>
      Effect.gen(function*() {
        for (
          const raw of ["http://u-alice:pw-hunter2/x@api.test:99999/x", "http://u-alice:pw-hunter2?x@api.test:99999/x"]
        ) {
          const out = yield* runScript([respond(200)], policy, HttpClientRequest.get(raw))
          const error = requestError(failure(out.result))
          assert.strictEqual(error.reason, "InvalidUrl", raw)
          assert.strictEqual(out.requests.length, 0, raw)
          const shown = {
            ...renderings(error),
            "Cause.pretty": Cause.pretty(Cause.fail(error), { renderErrorCause: true }),
            "util.inspect(cause)": util.inspect(error.cause, { depth: 10 })
          }
          for (const [where, text] of Object.entries(shown)) assertNoSecret(text, `${raw}: ${where}`)
          assert.include(error.message, "http://<redacted>@api.test:99999", raw)
        }
      }))

    it.effect("keeps secrets out of a TimeoutException", () =>
      Effect.gen(function*() {
        const out = yield* runScript(times(4, hang), policy, secretRequest)
        const error = timeoutError(failure(out.result))
        for (const [where, text] of Object.entries(renderings(error))) assertNoSecret(text, where)
        assert.include(error.message, "api.test/x")
      }))

    it("a URL quoted in text: an \"@\" in its query hides no secret after it; a space, a frozen error, a stack", () => {
      const secret = "api-SECRET-1"
      // An "@" in a query value: everything but the host-like text after it goes.
      const quoted = `request to https://api.x.test/v1?user=me@x.test&api_key=${secret} failed`
      assert.notInclude(describeCause(Object.assign(new Error(quoted), { code: "ECONNRESET" }))!, secret)
      for (const raw of [`/users?email=a@b.test&api_key=${secret}`, `http://ho st/p?email=a@b.test&k=${secret}`]) {
        assert.notInclude(Redact.url(raw, [], planOf(noJitter()).redaction, true), secret, raw)
      }
      // Node's ERR_INVALID_URL keeps the refused URL, space and all, in `input`.
      let invalid: unknown
      try {
        new URL(`http://ho st/p?x=1&api_key=${secret}`)
      } catch (error) {
        invalid = error
      }
      const copy = redactCause(invalid)
      assert.notInclude(util.inspect(copy, { depth: 5 }), secret)
      assert.strictEqual((copy as { readonly code?: string }).code, "ERR_INVALID_URL")
      // A stack's file: URLs (a path through .pnpm/undici@7.30.2/) are not URLs to redact: the error stays itself.
      const framed = new Error("connect ECONNREFUSED 127.0.0.1:9")
      framed.stack =
        `${framed.message}\n    at connect (file:///app/node_modules/.pnpm/undici@7.30.2/lib/core/connect.js:1:1)`
      assert.strictEqual(redactCause(framed), framed)
      // A cause that cannot be copied or changed: its redacted text, with its name and code, rather than a defect.
      const frozen = Object.freeze(Object.assign(new Error(`to http://u:${secret}@api.test/x`), { code: "EPIPE" }))
      const plain = redactCause(frozen) as Error & { readonly code?: string }
      assert.notInclude(plain.message, secret)
      assert.strictEqual(plain.code, "EPIPE")
    })

    it("a span is redacted for userinfo, a fragment or an \"@\" in the query (a nested URL's), not for an \"@\" in the path", () => {
      const secrets = RedactingTracer.secretsOf(planOf(noJitter()).redaction)
      const cases: ReadonlyArray<readonly [string, boolean]> = [
        ["http://u-alice:pw-hunter2@api.test/x", true],
        ["https://u-alice@api.test", true],
        ["http://u-alice@api.test?page=2", true],
        ["//u-alice:pw@api.test/x", true],
        // WHATWG URL finds userinfo here too (one slash, a backslash, none): so must the check.
        ["http:/u-alice:pw-hunter2@api.test/x", true],
        ["http:\\\\u-alice:pw-hunter2@api.test/x", true],
        ["http:u-alice:pw-hunter2@api.test/x", true],
        ["http://api.test/users/@me", false],
        ["/users/@me", false],
        ["mailto:someone@api.test", false],
        // Where a nested URL's userinfo may be: the span is redacted (a false alarm costs only the redacting tracer).
        ["http://api.test/x?mention=@me", true],
        ["http://api.test?next=http://u:p@other.test/", true],
        ["/x?next=http://u:p@other.test/", true],
        ["/x?next=http%3A%2F%2Fu%3Ap%40other.test%2F", true],
        // A fragment is secret as a whole, as Redact.url has it (`#access_token=...`).
        ["http://api.test/x#@me", true],
        ["http://api.test/x#section", true],
        // "&" and ";" both end a parameter.
        ["http://api.test/x?page=1;token=t", true],
        ["http://api.test/x?a=1&amp;token=t", true],
        ["http://api.test/x?page=1;sort=asc", false],
        // A nested URL written out, and an escaped name, as Redact.url reads them.
        ["https://api.test/p?next=http://h2.test/?token=x", true],
        ["https://api.test/p?%20token=x", true],
        ["https://api.test/p?a%3Btoken=x", true],
        ["https://api.test/p?q=a+b&page=2", false],
        // An escaped "&" or ";" that Redact.url reads as one, a tab the URL parser drops.
        ["https://api.test/p?a=x%26token%3Dsecret", true],
        ["https://api.test/p?a=x%3Btoken=secret", true],
        ["https://api.test/p?to\tken=secret", true]
      ]
      for (const [url, secret] of cases) {
        assert.strictEqual(RedactingTracer.hasSecret(HttpClientRequest.get(url), secrets), secret, url)
      }
      // A URL or a query in a URL parameter's value, written into the platform's `url.full`.
      // A parameter's name read as Redact.url reads it.
      for (const name of ["token ", "a;token", "TOKEN"]) {
        const request = HttpClientRequest.get("http://api.test/x").pipe(HttpClientRequest.appendUrlParam(name, "s"))
        assert.isTrue(RedactingTracer.hasSecret(request, secrets), name)
      }
      for (const value of ["https://u:p@h.test/", "a&token=secret", "x;token=secret"]) {
        const request = HttpClientRequest.get("http://api.test/x").pipe(HttpClientRequest.appendUrlParam("next", value))
        assert.isTrue(RedactingTracer.hasSecret(request, secrets), value)
      }
      assert.isFalse(
        RedactingTracer.hasSecret(
          HttpClientRequest.get("http://api.test/x").pipe(HttpClientRequest.appendUrlParam("page", "2")),
          secrets
        )
      )
      // A secret query name is still found after an "@" in the path.
      assert.isTrue(RedactingTracer.hasSecret(HttpClientRequest.get("http://api.test/users/@me?token=t"), secrets))
    })

    it.effect("redactedHeaders and redactedUrl show what a policy hides", () =>
      Effect.sync(() => {
        assert.deepStrictEqual(HttpRetry.redactedHeaders(secretRequest.headers, policy), {
          authorization: "<redacted>",
          cookie: "<redacted>",
          "x-api-key": "<redacted>",
          "x-tenant": "<redacted>",
          accept: "application/json"
        })
        assert.strictEqual(
          HttpRetry.redactedUrl(secretRequest, policy),
          "http://<redacted>@api.test/x?token=<redacted>&page=2&session=<redacted>"
        )
        // Without the caller's names only the built-in ones are hidden.
        assert.strictEqual(HttpRetry.redactedHeaders(secretRequest.headers)["x-tenant"], "tenant-s3cr3t")
        assert.strictEqual(
          HttpRetry.redactedUrl(secretRequest),
          "http://<redacted>@api.test/x?token=<redacted>&page=2&session=session-s3cr3t"
        )
        // A user name alone is marked as hidden too: the reader sees that the URL had userinfo.
        assert.strictEqual(
          HttpRetry.redactedUrl(HttpClientRequest.get("https://u-alice@api.test/x")),
          "https://<redacted>@api.test/x"
        )
      }))
  })
})
