import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as util from "node:util"

// Calls `f`, which must throw a NodeHttpRetryOptionsError, and returns it.
const rejected = (f: () => unknown): NodeHttpRetry.NodeHttpRetryOptionsError => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, NodeHttpRetry.NodeHttpRetryOptionsError)
    return error as NodeHttpRetry.NodeHttpRetryOptionsError
  }
  return assert.fail("expected a NodeHttpRetryOptionsError")
}

// Options as an untyped caller (JavaScript, JSON, a config file) might pass them.
const loose = (options: Record<string, unknown>) => options as NodeHttpRetry.Options

describe("NodeHttpRetry options are validated when the layer is made", () => {
  const cases: ReadonlyArray<readonly [string, NodeHttpRetry.Options, string]> = [
    ["proxy", { proxy: "ftp://proxy.internal:21" }, "only http: and https: proxies are supported"],
    ["proxy", { proxy: "not a url" }, "expected \"none\", \"env\" or an http(s) proxy URL"],
    // undici's proxy agents refuse them ("invalid url"), a defect when the layer is built.
    [
      "proxy",
      { proxy: "http://proxy.internal:3128/squid" },
      "a proxy URL is scheme, host and port (and user and password): no path, query or fragment"
    ],
    [
      "proxy",
      { proxy: "http://proxy.internal:3128?x=1" },
      "a proxy URL is scheme, host and port (and user and password): no path, query or fragment"
    ],
    [
      "proxy",
      { proxy: "https://proxy.internal#x" },
      "a proxy URL is scheme, host and port (and user and password): no path, query or fragment"
    ],
    ["proxy", loose({ proxy: 3128 }), "expected \"none\", \"env\" or an http(s) proxy URL"],
    // Decoded for Proxy-Authorization when the layer is built: a defect then, a typed error now.
    [
      "proxy",
      { proxy: "http://tok%zz@proxy.internal:3128" },
      "the user or password has a \"%\" that is not a percent-escape"
    ],
    ["connections", { connections: 0 }, "expected a whole number of at least 1"],
    ["connections", { connections: 1.5 }, "expected a whole number of at least 1"],
    ["keepAliveTimeout", { keepAliveTimeout: -1 }, "expected a positive, finite duration"],
    ["keepAliveTimeout", loose({ keepAliveTimeout: "later" }), "expected a duration"],
    ["connectTimeout", { connectTimeout: Duration.infinity }, "expected a positive, finite duration"],
    ["connectTimeout", { connectTimeout: 0 }, "expected a positive, finite duration"],
    // Zero written as text is zero too: undici would refuse it on every request, or turn its connect timeout off.
    ["keepAliveTimeout", loose({ keepAliveTimeout: "0ms" }), "expected a positive, finite duration"],
    ["connectTimeout", loose({ connectTimeout: "0 seconds" }), "expected a positive, finite duration"],
    ["tls.rejectUnauthorized", loose({ tls: { rejectUnauthorized: "no" } }), "expected true or false"],
    // Mutual TLS is not an option: a client certificate would not be sent.
    ["tls.cert", loose({ tls: { cert: "-----BEGIN CERTIFICATE-----" } }), "unknown option"],
    // Node would trust its public CAs instead of an empty one, and nothing for a path given for the contents.
    ["tls.ca", { tls: { ca: "" } }, "expected PEM certificates"],
    ["tls.ca", { tls: { ca: "./internal-ca.pem" } }, "the contents of a CA file, not its path"],
    ["tls.ca", { tls: { ca: [] } }, "expected PEM certificates, got none"],
    ["policy", loose({ policy: { maxAttempts: 2 } }), "expected a RetryPolicy from RetryPolicy.make"],
    ["tracing", loose({ tracing: "off" }), "expected true or false"],
    ["transport", loose({ transport: "fetch" }), "expected \"direct\" or \"platform\""],
    ["proxyUrl", loose({ proxyUrl: "http://proxy.internal:3128" }), "unknown option"]
  ]
  // The retry's options: layerClient has no retry, and says so for any value.
  const retryOnly = ["policy", "tracing"]
  for (const [field, options, reason] of cases) {
    it(`${field}: ${util.inspect(options, { breakLength: Infinity })}`, () => {
      if (retryOnly.includes(field)) {
        const error = rejected(() => NodeHttpRetry.layerClient(options))
        assert.strictEqual(error.field, field)
        assert.include(error.message, "a retry option: layerClient has no retry")
      }
      for (
        const make of retryOnly.includes(field)
          ? [NodeHttpRetry.layer]
          : [NodeHttpRetry.layer, NodeHttpRetry.layerClient]
      ) {
        const error = rejected(() => make(options))
        assert.strictEqual(error._tag, "NodeHttpRetryOptionsError")
        assert.strictEqual(error.field, field)
        assert.include(error.message, `Invalid NodeHttpRetry option: ${field} = `)
        assert.include(error.message, reason)
      }
    })
  }

  it("layerClient rejects the retry's options even when valid: its options type has none", () => {
    for (const options of [{ policy: RetryPolicy.defaults }, { tracing: false }]) {
      const error = rejected(() => NodeHttpRetry.layerClient(options as NodeHttpRetry.ClientOptions))
      assert.strictEqual(error.field, Object.keys(options)[0])
    }
  })

  it.effect("makeDispatcher rejects them as a defect of the effect, not when called", () =>
    Effect.gen(function*() {
      const effect = NodeHttpRetry.makeDispatcher({ connections: 0 })
      const defect = yield* Effect.scoped(effect).pipe(Effect.catchAllDefect(Effect.succeed))
      assert.instanceOf(defect, NodeHttpRetry.NodeHttpRetryOptionsError)
    }))

  it("good options are accepted", () => {
    NodeHttpRetry.layer()
    NodeHttpRetry.layer({
      policy: RetryPolicy.make({ maxAttempts: 2 }),
      tls: {
        rejectUnauthorized: true,
        ca: ["-----BEGIN CERTIFICATE-----\na\n", Buffer.from("-----BEGIN CERTIFICATE-----\nb\n")]
      },
      proxy: "https://user:pw@proxy.internal:3128",
      connections: 4,
      keepAliveTimeout: "2 seconds",
      connectTimeout: 250
    })
    NodeHttpRetry.layer({ proxy: "env" })
    NodeHttpRetry.layer({ proxy: "none", tls: {} })
  })
})

describe("a proxy password never appears in the error", () => {
  const secrets: ReadonlyArray<string> = [
    "ftp://svc:s3cret-pw@proxy.internal:21",
    "socks5://svc:s3cret-pw@proxy.internal:1080",
    "http://svc:s3cret-pw@proxy.internal:notaport",
    "http://svc:s3cret-pw@",
    "svc:s3cret-pw@proxy.internal:3128",
    "http://svc:s3cret/pw@proxy.internal:3128",
    "http://svc:s3cret pw@proxy internal",
    // An unencoded "?" or "#" in the password: the userinfo is found before the query is.
    "http://svc:s3cret?pw@proxy.internal:3128",
    // Userinfo that still reads as a host (an empty port, a user alone) before a "/", "?" or "#".
    "http://user:/s3cret@proxy.internal:3128",
    "http://ghp_s3cret/tail@proxy.internal:3128",
    "http://user:123#s3cret@proxy.internal:3128",
    "http://svc:s3cret#pw@proxy.internal:3128/x",
    "http://proxy.internal:notaport/?token=s3cret-pw",
    "socks5://proxy.internal:1080#s3cret-pw"
  ]
  for (const proxy of [...secrets, new URL("http://svc:s3cret-pw@proxy.internal:3128")]) {
    it(`proxy: ${JSON.stringify(proxy)}`, () => {
      const error = rejected(() => NodeHttpRetry.layer({ proxy: proxy as string }))
      assert.strictEqual(error.field, "proxy")
      for (const shown of [error.message, String(error), JSON.stringify(error), util.inspect(error), error.value]) {
        assert.notInclude(shown, "s3cret")
      }
    })
  }

  it("a proxy's URL given as the options themselves", () => {
    for (const make of [NodeHttpRetry.layer, NodeHttpRetry.layerClient]) {
      const error = rejected(() => make("http://svc:s3cret-pw@proxy.internal:3128" as unknown as NodeHttpRetry.Options))
      assert.strictEqual(error.field, "options")
      assert.include(error.message, "proxy.internal:3128")
      assert.include(error.message, "expected an object")
      for (const shown of [error.message, String(error), JSON.stringify(error), util.inspect(error), error.value]) {
        assert.notInclude(shown, "s3cret")
      }
    }
  })

  it("a URL given to any other option by mistake", () => {
    const url = "http://svc:s3cret-pw@proxy.internal:3128"
    const fields = ["policy", "connections", "tracing", "transport", "keepAliveTimeout", "connectTimeout", "tls"]
    for (const field of fields) {
      const error = rejected(() => NodeHttpRetry.layer(loose({ [field]: url })))
      assert.strictEqual(error.field, field)
      for (const shown of [error.message, String(error), JSON.stringify(error), util.inspect(error), error.value]) {
        assert.notInclude(shown, "s3cret", field)
      }
      assert.include(error.message, "proxy.internal:3128", field)
    }
    const tls = rejected(() => NodeHttpRetry.layer(loose({ tls: { rejectUnauthorized: url } })))
    assert.strictEqual(tls.field, "tls.rejectUnauthorized")
    assert.notInclude(tls.message, "s3cret")
    // Not a string: a URL object, a list.
    for (const [field, value] of [["policy", new URL(url)], ["tracing", [url]], ["transport", new URL(url)]] as const) {
      const error = rejected(() => NodeHttpRetry.layer(loose({ [field]: value })))
      assert.strictEqual(error.field, field)
      assert.notInclude(error.message, "s3cret", field)
      assert.notInclude(error.value, "s3cret", field)
    }
  })

  it("the rest of the URL still shows, to find the mistake", () => {
    const error = rejected(() => NodeHttpRetry.layer({ proxy: "ftp://svc:s3cret-pw@proxy.internal:21" }))
    assert.strictEqual(
      error.message,
      "Invalid NodeHttpRetry option: proxy = \"ftp://<redacted>@proxy.internal:21\" (only http: and https: proxies are supported)"
    )
  })
})
