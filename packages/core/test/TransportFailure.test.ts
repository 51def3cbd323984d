import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { TransportFailure } from "@http-retry/core"
import { url } from "./utils.js"

const coded = (code: string, message = `failed with ${code}`): Error => Object.assign(new Error(message), { code })

describe.concurrent("TransportFailure", () => {
  describe("classifyCause", () => {
    const cases: ReadonlyArray<readonly [string, TransportFailure.Kind]> = [
      ["ECONNREFUSED", "ConnectionRefused"],
      ["EHOSTUNREACH", "ConnectionRefused"],
      ["ECONNRESET", "ConnectionReset"],
      ["EPIPE", "ConnectionReset"],
      ["UND_ERR_SOCKET", "ConnectionReset"],
      ["ETIMEDOUT", "Timeout"],
      ["UND_ERR_CONNECT_TIMEOUT", "Timeout"],
      ["ENOTFOUND", "DnsNotFound"],
      ["EAI_NONAME", "DnsNotFound"],
      ["EAI_AGAIN", "DnsUnavailable"],
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "TlsVerification"],
      ["CERT_HAS_EXPIRED", "TlsVerification"],
      ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "TlsVerification"],
      ["ERR_TLS_CERT_ALTNAME_INVALID", "TlsVerification"],
      ["ERR_TLS_CERT_SOMETHING_NEW", "TlsVerification"],
      ["UND_ERR_INVALID_ARG", "InvalidRequest"],
      ["ERR_INVALID_HTTP_TOKEN", "InvalidRequest"],
      ["ERR_INVALID_CHAR", "InvalidRequest"]
    ]
    for (const [code, kind] of cases) {
      it(`${code} is ${kind}`, () => {
        assert.deepStrictEqual(TransportFailure.classifyCause(coded(code)), { kind, code })
      })
    }

    it("a proxy's 407 is ProxyAuthentication, whatever code undici gives it", () => {
      const tunnel = coded("UND_ERR_ABORTED", "Proxy response (407) !== 200 when HTTP Tunneling")
      assert.deepStrictEqual(TransportFailure.classifyCause(tunnel), {
        kind: "ProxyAuthentication",
        code: "UND_ERR_ABORTED"
      })
      const plain = coded("UND_ERR_INVALID_ARG", "Proxy Authentication Required (407)")
      assert.strictEqual(TransportFailure.classifyCause(plain).kind, "ProxyAuthentication")
      assert.isFalse(TransportFailure.isTransient("ProxyAuthentication"))
      assert.isFalse(TransportFailure.isTransient("InvalidRequest"))
    })

    it("the abort of the request's own signal (a DOMException named AbortError, as withScope gives) is Aborted", () => {
      const aborted = new DOMException("This operation was aborted", "AbortError")
      assert.deepStrictEqual(TransportFailure.classifyCause(aborted), { kind: "Aborted", code: undefined })
      assert.deepStrictEqual(
        TransportFailure.classifyCause(new TypeError("fetch failed", { cause: aborted })),
        { kind: "Aborted", code: undefined }
      )
      // undici names its RequestAbortedError AbortError too, and reports a proxy's refusal to tunnel with it: that
      // may heal, so only the DOMException is Aborted.
      const undiciAborted = Object.assign(
        coded("UND_ERR_ABORTED", "Proxy response (502) !== 200 when HTTP Tunneling"),
        {
          name: "AbortError"
        }
      )
      assert.deepStrictEqual(TransportFailure.classifyCause(undiciAborted), {
        kind: "Unknown",
        code: "UND_ERR_ABORTED"
      })
      assert.strictEqual(
        TransportFailure.classifyCause(new DOMException("The operation timed out", "TimeoutError")).kind,
        "Unknown"
      )
    })

    it("follows a nested cause chain", () => {
      const cause = new Error("fetch failed", {
        cause: new Error("connect failed", { cause: coded("ECONNREFUSED") })
      })
      assert.deepStrictEqual(TransportFailure.classifyCause(cause), { kind: "ConnectionRefused", code: "ECONNREFUSED" })
    })

    it("looks inside an AggregateError, as a failed happy-eyeballs connect gives", () => {
      const aggregate = new AggregateError([coded("ECONNREFUSED"), coded("ETIMEDOUT")], "all addresses failed")
      assert.deepStrictEqual(TransportFailure.classifyCause(aggregate), {
        kind: "ConnectionRefused",
        code: "ECONNREFUSED"
      })
      const wrapped = new Error("fetch failed", { cause: aggregate })
      assert.deepStrictEqual(TransportFailure.classifyCause(wrapped), {
        kind: "ConnectionRefused",
        code: "ECONNREFUSED"
      })
    })

    it("prefers a known code deeper down over an unknown one above it", () => {
      const cause = Object.assign(new Error("outer", { cause: coded("ECONNRESET") }), { code: "E_WRAPPER" })
      assert.deepStrictEqual(TransportFailure.classifyCause(cause), { kind: "ConnectionReset", code: "ECONNRESET" })
    })

    it("an unknown code is Unknown, keeping the first code seen", () => {
      const cause = Object.assign(new Error("outer", { cause: coded("E_INNER") }), { code: "E_OUTER" })
      assert.deepStrictEqual(TransportFailure.classifyCause(cause), { kind: "Unknown", code: "E_OUTER" })
    })

    it("anything without a code is Unknown", () => {
      for (const cause of [new Error("boom"), "boom", null, undefined, 42, { code: 7 }]) {
        assert.deepStrictEqual(TransportFailure.classifyCause(cause), { kind: "Unknown", code: undefined })
      }
    })

    it("stops on a cyclic cause chain", () => {
      const a: { cause?: unknown } = {}
      const b = { cause: a }
      a.cause = b
      assert.deepStrictEqual(TransportFailure.classifyCause(a), { kind: "Unknown", code: undefined })
    })
  })

  describe("classify", () => {
    it("reads the cause of a Transport RequestError", () => {
      const error = new HttpClientError.RequestError({
        request: HttpClientRequest.get(url),
        reason: "Transport",
        cause: coded("ENOTFOUND")
      })
      assert.deepStrictEqual(TransportFailure.classify(error), { kind: "DnsNotFound", code: "ENOTFOUND" })
    })

    it("Encode and InvalidUrl errors are not transport failures", () => {
      for (const reason of ["Encode", "InvalidUrl"] as const) {
        const error = new HttpClientError.RequestError({
          request: HttpClientRequest.get(url),
          reason,
          cause: coded("ECONNRESET")
        })
        assert.isUndefined(TransportFailure.classify(error))
      }
    })
  })

  describe("isTransient", () => {
    const cases: ReadonlyArray<readonly [TransportFailure.Kind, boolean]> = [
      ["ConnectionRefused", true],
      ["ConnectionReset", true],
      ["Timeout", true],
      ["DnsUnavailable", true],
      ["Unknown", true],
      ["DnsNotFound", false],
      ["TlsVerification", false],
      ["ProxyAuthentication", false],
      ["InvalidRequest", false],
      ["Aborted", false]
    ]
    for (const [kind, transient] of cases) {
      it(`${kind} is ${transient ? "" : "not "}transient`, () => {
        assert.strictEqual(TransportFailure.isTransient(kind), transient)
      })
    }
  })
})
