import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestServer from "../../node/test/utils/TestServer.js"
import { run } from "./utils.js"

// Each bad command line: the option it must name and the value it must show.
const bad: ReadonlyArray<{ readonly args: ReadonlyArray<string>; readonly says: ReadonlyArray<string> }> = [
  { args: ["--max-attempts", "0"], says: ["--max-attempts", "\"0\""] },
  { args: ["--max-attempts", "three"], says: ["--max-attempts", "\"three\""] },
  { args: ["--max-time", "0"], says: ["--max-time", "\"0\""] },
  { args: ["--max-time", "soon"], says: ["--max-time", "\"soon\""] },
  { args: ["--base-delay", "-1s"], says: ["--base-delay", "\"-1s\""] },
  { args: ["--max-delay", "1 fortnight"], says: ["--max-delay", "\"1 fortnight\""] },
  { args: ["--attempt-timeout", "0ms"], says: ["--attempt-timeout", "\"0ms\""] },
  { args: ["--hedge", "soon"], says: ["--hedge", "\"soon\""] },
  { args: ["--hedge", "0"], says: ["--hedge", "\"0\"", "must be greater than zero"] },
  { args: ["--retry-status", "200"], says: ["--retry-status", "\"200\""] },
  { args: ["--retry-status", "5xx,teapot"], says: ["--retry-status", "\"teapot\""] },
  { args: ["--retry-method", "GET,FETCH"], says: ["--retry-method", "\"FETCH\""] },
  { args: ["-X", "YEET"], says: ["--method", "\"YEET\""] },
  // Only up to the first space: the rest of a malformed header may be a credential.
  { args: ["-H", "no colon here"], says: ["--header", "\"no <redacted>\""] },
  { args: ["--proxy", "socks5://proxy:1080"], says: ["--proxy", "\"socks5://proxy:1080\""] },
  // undici's proxy agent refuses a path or query ("invalid url"): an internal error before, a usage error now.
  { args: ["--proxy", "http://127.0.0.1:1/?token=x y"], says: ["--proxy", "no path, query or fragment"] },
  { args: ["--data", "@/nonexistent/body.bin"], says: ["--data", "\"/nonexistent/body.bin\""] },
  { args: ["--cacert", "/nonexistent/ca.pem"], says: ["--cacert", "\"/nonexistent/ca.pem\""] },
  { args: ["--data", "a", "--json", "{}"], says: ["--json", "--data"] },
  { args: ["--max-attempts", "2", "--max-attempts", "3"], says: ["--max-attempts", "more than once"] },
  { args: ["--frobnicate"], says: ["--frobnicate", "unknown option"] },
  { args: ["-Z"], says: ["-Z", "unknown option"] },
  { args: ["--max-time"], says: ["--max-time", "missing value"] },
  { args: ["--connect-timeout", "0"], says: ["--connect-timeout", "\"0\""] },
  { args: ["--retry-max-time", "soon"], says: ["--retry-max-time", "\"soon\""] },
  { args: ["--retry-max-time", "10", "--max-time", "0"], says: ["--max-time", "\"0\"", "must be greater than zero"] },
  { args: ["--retry-delay", "1", "--base-delay", "1"], says: ["--retry-delay", "--base-delay"] },
  { args: ["-X", "GET", "-X", "PUT"], says: ["-X", "more than once"] },
  { args: ["-sZ"], says: ["-Z", "unknown option"] },
  { args: ["-sX"], says: ["-X", "missing value"] },
  { args: ["-so"], says: ["-o", "missing value"] },
  { args: ["--wizard"], says: ["--wizard", "unknown option"] }
]

describe("http-retry usage", () => {
  it.scopedLive(
    "2: a bad option value is one line naming the option and the value; no request is made",
    () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make(() => TestServer.respond(200))
        // The URL first: `--max-time` with no value must not swallow it.
        const results = yield* Effect.forEach(bad, ({ args }) => run([server.url, ...args]), { concurrency: 2 })
        for (const [i, { args, says }] of bad.entries()) {
          const result = results[i]
          const label = args.join(" ")
          assert.strictEqual(result.code, 2, label)
          assert.strictEqual(result.stdout.length, 0, label)
          const stderr = result.stderr.split("\n").filter((line) => line !== "")
          assert.strictEqual(stderr.length, 1, `${label}: ${result.stderr}`)
          assert.match(stderr[0], /^http-retry: /, label)
          for (const text of says) assert.include(stderr[0], text, label)
          assert.notMatch(result.stderr, /\n\s+at /, label)
        }
        assert.strictEqual(server.requests.length, 0)
      }),
    60_000
  )

  it.scopedLive("2: no URL, two URLs, or a URL that is not http(s)", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
        [[], /^http-retry: missing the URL/],
        [
          ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"],
          /^http-retry: unexpected argument "http:\/\/127.0.0.1:9\/b"/
        ],
        [["ftp://127.0.0.1/file"], /^http-retry: <url>: only http and https/]
      ]
      for (const [args, expected] of cases) {
        const result = yield* run(args)
        assert.strictEqual(result.code, 2, args.join(" "))
        assert.match(result.stderr, expected)
        assert.strictEqual(result.stderr.trimEnd().split("\n").length, 1)
      }
    }))

  it.scopedLive("stdin read twice (-d @- --cacert -): the second read finds nothing, a usage error, not a hang", () =>
    Effect.gen(function*() {
      const result = yield* run(["-d", "@-", "--cacert", "-", "http://127.0.0.1:9/"], {
        input: new TextEncoder().encode("x=1")
      })
      assert.strictEqual(result.code, 2)
      assert.match(result.stderr, /^http-retry: --cacert: /)
    }))

  it.scopedLive("a secret in a malformed header is not echoed", () =>
    Effect.gen(function*() {
      const result = yield* run(["-H", "Authorization Bearer sk-live-123", "http://127.0.0.1:9/"])
      assert.strictEqual(result.code, 2)
      assert.notInclude(result.stderr, "sk-live-123")
      assert.include(result.stderr, "--header")
    }))

  it.scopedLive("what may be a credential in a stray argument, a header or a URL is not echoed", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        // A second URL, with a password and a token.
        [
          ["http://127.0.0.1:9/a", "http://u:s3cr3t@127.0.0.1:9/b?token=s3cr3t"],
          "unexpected argument \"http://<redacted>@127.0.0.1:9\""
        ],
        [
          ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b?token=s3cr3t"],
          "unexpected argument \"http://127.0.0.1:9/b?<unparsed>\""
        ],
        // A token left over from an unquoted `-H Authorization: Bearer ...`.
        [["http://127.0.0.1:9/a", "s3cr3t-0123456789abcdef"], "unexpected argument \"s3cr…\""],
        [["http://127.0.0.1:9/a", "s3cr3tpw1"], "unexpected argument \"s3cr…\""],
        // A JWT reads as a host name: cut all the same.
        [
          ["http://127.0.0.1:9/a", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzM2NyM3QifQ.s3cr3t"],
          "unexpected argument \"eyJh…\""
        ],
        [["http://127.0.0.1:9/a", "admin:s3cr3t"], "unexpected argument \"admi…\""],
        [
          ["http://127.0.0.1:9/a", "example.com/path?token=s3cr3t"],
          "unexpected argument \"example.com/path?<unparsed>\""
        ],
        // A header with no name: its value is not shown either.
        [["-H", "Bearer k-s3cr3t", "http://127.0.0.1:9/"], "\"Bearer <redacted>\""],
        // A header written with "=": its value is not shown.
        [["-H", "Authorization=s3cr3t", "http://127.0.0.1:9/"], "\"Authorization <redacted>\""],
        // Whatever the name, only the text before the first "=" or space shows; one long word is cut.
        [["-H", "X-Auth-Key=s3cr3t", "http://127.0.0.1:9/"], "\"X-Auth-Key <redacted>\""],
        [["-H", "X-Tenant s3cr3t", "http://127.0.0.1:9/"], "\"X-Tenant <redacted>\""],
        [["-H", "s3cr3tAbcdefghijklmnop", "http://127.0.0.1:9/"], "\"s3cr…\""],
        // Base64 with its "=" padding: the text before the "=" is the credential, not a name.
        [["-H", "dXNlcjpzM2NyM3QxMjM==", "http://127.0.0.1:9/"], "\"dXNl… <redacted>\""],
        [["-H", "s3cr3t=", "http://127.0.0.1:9/"], "\"… <redacted>\""],
        [["-H", "YWRtaW46czNjcjN0=", "http://127.0.0.1:9/"], "\"YWRt… <redacted>\""],
        // One long word, letters only, is cut too (a passphrase); a header's name with digits shows.
        [["-H", "correct-horse-s3cr3t-staple", "http://127.0.0.1:9/"], "\"corr…\""],
        [["-H", "X-B3-Sampled s3cr3t", "http://127.0.0.1:9/"], "\"X-B3-Sampled <redacted>\""],
        // A URL that does not parse, with a token in its query and no "@".
        [["http://127.0.0.1:99999/?token=s3cr3t"], "not a URL: \"http://127.0.0.1:99999/?<unparsed>\""]
      ]
      const results = yield* Effect.forEach(cases, ([args]) => run(args), { concurrency: 2 })
      for (const [i, [args, says]] of cases.entries()) {
        const result = results[i]
        const label = args.join(" ")
        assert.strictEqual(result.code, 2, label)
        assert.include(result.stderr, says, label)
        assert.notInclude(result.stderr, "s3cr3t", label)
        assert.strictEqual(result.stderr.trimEnd().split("\n").length, 1, label)
      }
    }))

  it.scopedLive("a URL that does not parse or decode: a usage error that shows no password, not a crash", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        // No scheme, so `new URL` reads "user:" as one; the port is out of range.
        ["user:s3cr3t@example.test:99999", "not a URL: \"<redacted>@example.test:99999\""],
        // An unencoded "/" in the password.
        ["http://user:pa/ss3cr3t@example.test:99999", "not a URL: \"http://<redacted>@example.test:99999\""],
        // An "@" in a query value, and a secret after it.
        ["http://127.0.0.1:99999/x?email=a@b.test&k=s3cr3t", "not a URL: \"http://<redacted>@b.test\""],
        // A "%" that is not a percent-escape, in the user name.
        ["http://us%zzer:s3cr3t@127.0.0.1:9/", "the user name or password has a \"%\" that is not a percent-escape"]
      ]
      const results = yield* Effect.forEach(cases, ([url]) => run([url]), { concurrency: 2 })
      for (const [i, [url, says]] of cases.entries()) {
        const result = results[i]
        assert.strictEqual(result.code, 2, url)
        assert.match(result.stderr, /^http-retry: <url>: /, url)
        assert.include(result.stderr, says, url)
        assert.notInclude(result.stderr, "s3cr3t", url)
        assert.strictEqual(result.stderr.trimEnd().split("\n").length, 1, url)
      }
    }))

  it.scopedLive("--help lists every option with its default, examples and the exit codes", () =>
    Effect.gen(function*() {
      const result = yield* run(["--help"])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stderr, "")
      const help = result.stdout.toString()
      const options = [
        "-X, --method",
        "-H, --header",
        "-d, --data",
        "--json",
        "--max-attempts",
        "--max-time",
        "--retry-max-time",
        "--base-delay",
        "--retry-delay",
        "--max-delay",
        "--attempt-timeout",
        "--hedge",
        "--no-jitter",
        "--retry-status",
        "--retry-method",
        "-k, --insecure",
        "--cacert",
        "--proxy",
        "--connect-timeout",
        "-A, --user-agent",
        "-i, --include",
        "-o, --output",
        "-v, --verbose",
        "-s, --silent"
      ]
      // One entry per option: from its name to the next option's line.
      const entries = help.split(/\n(?= {2}-| {6}--)/)
      for (const option of options) {
        const entry = entries.find((e) => e.trimStart().startsWith(option))
        assert.isDefined(entry, option)
        assert.match(entry!, /\(default: [^)]+\)/, option)
      }
      // The core's defaults, as the help shows them.
      for (const text of ["(default: 4)", "(default: 50s)", "(default: 1s)", "(default: 20s)", "(default: 10s)"]) {
        assert.include(help, text)
      }
      assert.match(help, /Examples:\n {2}http-retry /)
      // Every code the command exits with (cli.ts's ExitCode), and no other.
      const listed = [...help.slice(help.indexOf("Exit codes")).matchAll(/\n {2}(\d+) /g)].map((m) => Number(m[1]))
      assert.deepStrictEqual(listed.sort((a, b) => a - b), [0, 1, 2, 6, 7, 22, 23, 28, 35, 56, 60, 130, 143])
    }))

  it.scopedLive("--help wins over a bad option, and so does it as -h", () =>
    Effect.gen(function*() {
      const result = yield* run(["--max-attempts", "0", "-h"])
      assert.strictEqual(result.code, 0)
      assert.include(result.stdout.toString(), "Usage: http-retry [options] <url>")
    }))
})
