/**
 * A redirect to another origin, on a request carrying Authorization, Cookie and Proxy-Authorization.
 *
 * `NodeHttpRetry.layer` does not follow redirects (nor does the platform's undici client under it): a 3xx is a final
 * answer, an `HttpStatusError`, and the other origin receives nothing. The platform's `HttpClient.followRedirects`
 * resends every header to wherever `Location` points, credentials included (shown below, against the platform);
 * `HttpRetry.followRedirects` follows without them.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { eventually } from "../harness.js"
import * as TlsFixtures from "../utils/TlsFixtures.js"
import * as Chaos from "./ChaosServer.js"
import * as Ledger from "./Ledger.js"

const ledger = Ledger.make("redirects")
afterAll(() => ledger.flush())

const secrets = ["auth-s3cr3t", "cookie-s3cr3t", "proxy-s3cr3t"]
const credentials = {
  authorization: "Bearer auth-s3cr3t",
  cookie: "sid=cookie-s3cr3t",
  "proxy-authorization": "Basic proxy-s3cr3t"
}
const withCredentials = (request: HttpClientRequest.HttpClientRequest) =>
  HttpClientRequest.setHeaders(request, { ...credentials, accept: "application/json", "x-request-id": "r-1" })

const policy = RetryPolicy.make({ maxAttempts: 3, baseDelay: "20 millis", jitter: "none" })
const layer = NodeHttpRetry.layer({ policy, tls: { ca: TlsFixtures.ca } })

const credentialsSeen = (server: Chaos.ChaosServer) =>
  server.requests.map((r) => ["authorization", "cookie", "proxy-authorization"].filter((name) => name in r.headers))

/** Runs `f` with the retrying client of `NodeHttpRetry.layer`, reading the body; counts the call. */
const through = <E>(
  f: (client: HttpClient.HttpClient.With<HttpRetry.RetryError<E>>) => HttpClient.HttpClient.With<unknown>,
  request: HttpClientRequest.HttpClientRequest
) =>
  ledger.observe(
    HttpRetry.client.pipe(
      Effect.flatMap((client) => f(client as never).execute(request)),
      Effect.flatMap((response) => Effect.map(response.text, (body) => ({ status: response.status, body }))),
      Effect.provide(layer)
    )
  )

const statusError = (exit: Exit.Exit<unknown, unknown>): HttpStatusError.HttpStatusError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  assert.isTrue(HttpStatusError.isHttpStatusError(error), String(error))
  return error as HttpStatusError.HttpStatusError
}

const noSocketsLeft = (...servers: ReadonlyArray<Chaos.ChaosServer>) =>
  Effect.gen(function*() {
    for (const server of servers) {
      yield* eventually(() => server.openSockets() === 0, 1_000).pipe(Effect.catchAllDefect(() => Effect.void))
      ledger.sockets(server.openSockets())
      assert.strictEqual(server.openSockets(), 0)
    }
  })

describe("without following: a 3xx is a final answer", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it.scopedLive(`${status} to another origin: HttpStatusError after 1 attempt; the other origin receives nothing`, () =>
      Effect.gen(function*() {
        ledger.fault(`${status} to another origin, not followed`)
        const elsewhere = yield* Chaos.make(() => Chaos.respond(200))
        const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`, status))
        const exit = yield* through((client) => client, withCredentials(HttpClientRequest.get(`${server.url}/start`)))
        const error = statusError(exit)
        assert.deepStrictEqual([error.status, error.attempts, error.reason], [status, 1, "NotRetryable"])
        assert.deepStrictEqual([elsewhere.connections, elsewhere.requests.length], [0, 0])
        yield* noSocketsLeft(server, elsewhere)
      }))
  }

  it.scopedLive("the platform's HttpClient.followRedirects over the retrying client changes nothing: the retry fails the 3xx first", () =>
    Effect.gen(function*() {
      ledger.fault("302 to another origin under HttpClient.followRedirects over the retrying client")
      const elsewhere = yield* Chaos.make(() => Chaos.respond(200))
      const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`))
      const exit = yield* through(
        (client) => HttpClient.followRedirects(client),
        withCredentials(HttpClientRequest.get(server.url))
      )
      assert.strictEqual(statusError(exit).status, 302)
      assert.strictEqual(elsewhere.requests.length, 0)
    }))
})

describe("the platform's HttpClient.followRedirects under the retry", () => {
  it.scopedLive("resends Authorization, Cookie and Proxy-Authorization to the other origin: why HttpRetry.followRedirects exists", () =>
    Effect.gen(function*() {
      const elsewhere = yield* Chaos.make(() => Chaos.respond(200, { body: "elsewhere" }))
      const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`))
      const answer = yield* HttpClient.HttpClient.pipe(
        Effect.map((client) => HttpRetry.withRetry(HttpClient.followRedirects(client), policy)),
        Effect.flatMap((client) => client.execute(withCredentials(HttpClientRequest.get(server.url)))),
        Effect.flatMap((response) => response.text),
        Effect.provide(NodeHttpRetry.layerClient())
      )
      assert.strictEqual(answer, "elsewhere")
      // If this starts failing, the platform stopped leaking them: HttpRetry.followRedirects may then defer to it.
      assert.deepStrictEqual(credentialsSeen(elsewhere), [["authorization", "cookie", "proxy-authorization"]])
    }))

  it.scopedLive("dies on a Location that does not parse, where HttpRetry.followRedirects returns the 3xx", () =>
    Effect.gen(function*() {
      const server = yield* Chaos.make(() => Chaos.redirect("http://[::1"))
      const exit = yield* HttpClient.HttpClient.pipe(
        Effect.flatMap((client) => HttpClient.followRedirects(client).get(server.url)),
        Effect.exit,
        Effect.provide(NodeHttpRetry.layerClient())
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), String(exit))
    }))
})

describe("HttpRetry.followRedirects", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it.scopedLive(`${status} to another origin: followed, without Authorization, Cookie, Proxy-Authorization`, () =>
      Effect.gen(function*() {
        ledger.fault(`${status} to another origin, followed`)
        const elsewhere = yield* Chaos.make(() => Chaos.respond(200, { body: "elsewhere" }))
        const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing?from=start`, status))
        const exit = yield* through(
          HttpRetry.followRedirects(),
          withCredentials(HttpClientRequest.get(`${server.url}/start`))
        )
        assert.deepStrictEqual(Exit.isSuccess(exit) && exit.value, { status: 200, body: "elsewhere" })
        assert.deepStrictEqual(credentialsSeen(server), [["authorization", "cookie", "proxy-authorization"]])
        assert.deepStrictEqual(credentialsSeen(elsewhere), [[]])
        const landed = elsewhere.requests[0]
        assert.deepStrictEqual([landed.method, landed.path], ["GET", "/landing?from=start"])
        assert.deepStrictEqual([landed.headers.accept, landed.headers["x-request-id"]], ["application/json", "r-1"])
        assert.deepStrictEqual(ledger.scan(JSON.stringify(elsewhere.requests), secrets), [])
        yield* noSocketsLeft(server, elsewhere)
      }))
  }

  it.scopedLive("a redirect within the origin keeps them", () =>
    Effect.gen(function*() {
      ledger.fault("302 within the origin, followed")
      const server = yield* Chaos.make(Chaos.sequence([Chaos.redirect("/moved"), Chaos.respond(200, { body: "here" })]))
      const exit = yield* through(HttpRetry.followRedirects(), withCredentials(HttpClientRequest.get(server.url)))
      assert.deepStrictEqual(Exit.isSuccess(exit) && exit.value.body, "here")
      assert.deepStrictEqual(server.requests.map((r) => r.path), ["/", "/moved"])
      assert.deepStrictEqual(credentialsSeen(server), [
        ["authorization", "cookie", "proxy-authorization"],
        ["authorization", "cookie", "proxy-authorization"]
      ])
    }))

  it.scopedLive("the same port under another host name is another origin", () =>
    Effect.gen(function*() {
      ledger.fault("302 to the same port under another host name")
      const server = yield* Chaos.make((request) =>
        request.path === "/start" ?
          Chaos.redirect(`http://localhost:${request.headers.host.split(":")[1]}/landing`) :
          Chaos.respond(200)
      )
      yield* through(HttpRetry.followRedirects(), withCredentials(HttpClientRequest.get(`${server.url}/start`)))
      assert.deepStrictEqual(server.requests.map((r) => r.headers.host.split(":")[0]), ["127.0.0.1", "localhost"])
      assert.deepStrictEqual(credentialsSeen(server), [["authorization", "cookie", "proxy-authorization"], []])
    }))

  it.scopedLive("https to http (a downgrade) drops them", () =>
    Effect.gen(function*() {
      ledger.fault("302 from https to http")
      const plain = yield* Chaos.make(() => Chaos.respond(200))
      const secure = yield* Chaos.makeHttps(() => Chaos.redirect(`${plain.url}/landing`))
      yield* through(HttpRetry.followRedirects(), withCredentials(HttpClientRequest.get(secure.url)))
      assert.deepStrictEqual(credentialsSeen(plain), [[]])
    }))

  it.scopedLive("once dropped they stay dropped, even back on the first origin", () =>
    Effect.gen(function*() {
      ledger.fault("302 away and back again")
      const first = yield* Chaos.make((request) =>
        request.path === "/start" ? Chaos.redirect(`${elsewhere.url}/bounce`) : Chaos.respond(200, { body: "back" })
      )
      const elsewhere: Chaos.ChaosServer = yield* Chaos.make(() => Chaos.redirect(`${first.url}/back`))
      const exit = yield* through(
        HttpRetry.followRedirects(),
        withCredentials(HttpClientRequest.get(`${first.url}/start`))
      )
      assert.deepStrictEqual(Exit.isSuccess(exit) && exit.value.body, "back")
      assert.deepStrictEqual(credentialsSeen(first), [["authorization", "cookie", "proxy-authorization"], []])
      assert.deepStrictEqual(credentialsSeen(elsewhere), [[]])
    }))

  it.scopedLive("303 after a POST is a GET without the body; 307 and 308 resend the POST and its body", () =>
    Effect.gen(function*() {
      const post = HttpClientRequest.post("/").pipe(HttpClientRequest.bodyText("{\"n\":1}", "application/json"))
      for (
        const [status, method, body] of [[303, "GET", ""], [307, "POST", "{\"n\":1}"], [
          308,
          "POST",
          "{\"n\":1}"
        ]] as const
      ) {
        ledger.fault(`${status} after a POST`)
        const elsewhere = yield* Chaos.make(() => Chaos.respond(200))
        const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`, status))
        const request = HttpClientRequest.setUrl(withCredentials(post), `${server.url}/orders`).pipe(
          HttpClientRequest.setHeader("idempotency-key", "k-1")
        )
        yield* through(HttpRetry.followRedirects(), request)
        const landed = elsewhere.requests[0]
        assert.deepStrictEqual([landed.method, landed.body.toString()], [method, body], String(status))
        assert.strictEqual(landed.headers["content-type"], method === "GET" ? undefined : "application/json")
        assert.deepStrictEqual(credentialsSeen(elsewhere), [[]])
      }
    }))

  it.scopedLive("stops after maxRedirects hops: the last 3xx is an HttpStatusError", () =>
    Effect.gen(function*() {
      ledger.fault("redirect loop")
      const server = yield* Chaos.make((request) =>
        Chaos.redirect(`/hop${request.index}`, 302, { body: "moved ".repeat(200) })
      )
      const exit = yield* through(HttpRetry.followRedirects(3), HttpClientRequest.get(server.url))
      const error = statusError(exit)
      assert.deepStrictEqual([error.status, error.attempts, error.reason], [302, 1, "NotRetryable"])
      assert.deepStrictEqual(server.requests.map((r) => r.path), ["/", "/hop1", "/hop2", "/hop3"])
      // Every 3xx body was drained, so connections were reused (undici frees one a tick after its body ends: two
      // alternate); an undrained body would have held its connection, one per hop.
      assert.isAtMost(server.connections, 2)
    }))

  const unfollowable: ReadonlyArray<readonly [string, Chaos.Fault]> = [
    ["a Location that does not parse", Chaos.redirect("http://[::1")],
    ["an ftp: Location", Chaos.redirect("ftp://127.0.0.1/file")],
    ["a javascript: Location", Chaos.redirect("javascript:alert(1)")],
    ["a file: Location", Chaos.redirect("file:///etc/passwd")],
    ["no Location", Chaos.respond(302)]
  ]
  for (const [name, fault] of unfollowable) {
    it.scopedLive(`${name}: the 302 is returned, as an HttpStatusError`, () =>
      Effect.gen(function*() {
        ledger.fault(`302 with ${name}`)
        const server = yield* Chaos.make(() => fault)
        const exit = yield* through(HttpRetry.followRedirects(), withCredentials(HttpClientRequest.get(server.url)))
        assert.deepStrictEqual([statusError(exit).status, server.requests.length], [302, 1])
      }))
  }

  it.scopedLive("retries the whole chain from the first URL, with the client's onRetry", () =>
    Effect.gen(function*() {
      ledger.fault("302 to an origin answering 503, 503, 200")
      const elsewhere = yield* Chaos.make(Chaos.sequence([503, 503, Chaos.respond(200, { body: "third time" })]))
      const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`))
      let retries = 0
      const answer = yield* HttpClient.HttpClient.pipe(
        Effect.map((client) =>
          HttpRetry.withRetry(client, policy, { onRetry: () => Effect.sync(() => retries++) }).pipe(
            HttpRetry.followRedirects()
          )
        ),
        Effect.flatMap((client) => client.execute(withCredentials(HttpClientRequest.get(server.url)))),
        Effect.flatMap((response) => response.text),
        Effect.provide(NodeHttpRetry.layerClient())
      )
      assert.strictEqual(answer, "third time")
      assert.deepStrictEqual([server.requests.length, elsewhere.requests.length, retries], [3, 3, 2])
      assert.deepStrictEqual(credentialsSeen(elsewhere), [[], [], []])
    }))

  it.scopedLive("keeps the Node layer's attempt timeout on every hop", () =>
    Effect.gen(function*() {
      ledger.fault("302 to an origin that never answers")
      const elsewhere = yield* Chaos.make(() => Chaos.hang())
      const server = yield* Chaos.make(() => Chaos.redirect(`${elsewhere.url}/landing`))
      const exit = yield* ledger.observe(
        HttpRetry.client.pipe(
          Effect.flatMap((client) => HttpRetry.followRedirects(client).get(server.url)),
          Effect.provide(
            NodeHttpRetry.layer({ policy: RetryPolicy.make({ maxAttempts: 2, attemptTimeout: "150 millis" }) })
          )
        )
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.isTimeoutException(Cause.squash(exit.cause)), String(exit))
      assert.deepStrictEqual([server.requests.length, elsewhere.requests.length], [2, 2])
    }))

  it("rejects a maxRedirects that is not a whole number of at least 0, naming it", () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      ledger.fault(`followRedirects(${bad})`)
      assert.throws(() => HttpRetry.followRedirects(bad), new RegExp(`maxRedirects = ${bad}`))
    }
  })
})
