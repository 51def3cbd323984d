/**
 * Runs in the scratch project, against the installed tarballs: what a user's ESM program does, plus the checks
 * that only an installed copy can answer (subpath exports, blocked internals, one copy of the core, the bin).
 * The public module names come from the workspace (PUBLIC_MODULES), so a module missing from `exports` fails here.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpRetry, HttpStatusError, RetryPolicy } from "@http-retry/core"
import { NodeHttpRetry } from "@http-retry/node"
import { RedisRetryBudget } from "@http-retry/redis"
import * as Effect from "effect/Effect"
import * as assert from "node:assert/strict"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as path from "node:path"

const require = createRequire(import.meta.url)

// --- Subpaths: every public module importable, the root re-exporting the same module, internals blocked ----------

const publicModules = JSON.parse(process.env.PUBLIC_MODULES ?? "{}")
assert.ok(Object.keys(publicModules).length === 3, "PUBLIC_MODULES names the three library packages")
for (const [pkg, modules] of Object.entries(publicModules)) {
  const root = await import(pkg)
  assert.deepEqual(Object.keys(root).sort(), [...modules].sort(), `${pkg} root exports`)
  for (const name of modules) {
    const sub = await import(`${pkg}/${name}`)
    assert.equal(root[name], sub, `${pkg} re-exports ${pkg}/${name} as the same module`)
  }
}
for (
  const blocked of [
    "@http-retry/core/internal/retry",
    "@http-retry/node/internal/nodeHttpRetry",
    "@http-retry/redis/internal/redisRetryBudget",
    "@http-retry/cli/dist/bin/http-retry.cjs"
  ]
) {
  await assert.rejects(import(blocked), { code: "ERR_PACKAGE_PATH_NOT_EXPORTED" }, `${blocked} is not exported`)
}

// One copy of the core and of effect: the node package's errors are the user's classes.
const installed = (name, from) =>
  fs.realpathSync(path.dirname(require.resolve(`${name}/package.json`, { paths: [from] })))
for (const pkg of ["@http-retry/node", "@http-retry/redis"]) {
  const dir = installed(pkg, process.cwd())
  assert.equal(installed("@http-retry/core", dir), installed("@http-retry/core", process.cwd()), `${pkg}'s core`)
  assert.equal(installed("effect", dir), installed("effect", process.cwd()), `${pkg}'s effect`)
}

// --- A loopback server: /flaky answers 503 once per key, then 200; /missing always 404 -------------------------------

const hits = new Map()
const server = http.createServer((request, response) => {
  const url = new URL(request.url, "http://localhost")
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
  if (url.pathname.startsWith("/flaky/")) {
    if (hits.get(url.pathname) === 1) response.writeHead(503).end("busy")
    else response.writeHead(200, { "content-type": "text/plain" }).end(`ok ${url.pathname}`)
  } else {
    response.writeHead(404).end("no such thing")
  }
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const base = `http://127.0.0.1:${server.address().port}`

try {
  // --- The library, as a user calls it ------------------------------------------------------------------------------

  const policy = RetryPolicy.make({ baseDelay: "10ms", jitter: "none" })
  const program = Effect.gen(function*() {
    const response = yield* HttpRetry.request(HttpClientRequest.get(`${base}/flaky/request`))
    const body = yield* response.text
    const error = yield* Effect.flip(HttpRetry.request(HttpClientRequest.get(`${base}/missing`)))
    const recovered = yield* HttpRetry.request(HttpClientRequest.get(`${base}/missing`)).pipe(
      Effect.catchTag("HttpStatusError", (e) => Effect.succeed(`gave up: ${e.status} ${e.reason}`))
    )
    return { status: response.status, body, error, recovered }
  }).pipe(Effect.provide(NodeHttpRetry.layer({ policy })))

  const result = await Effect.runPromise(program)
  assert.equal(result.status, 200)
  assert.equal(result.body, "ok /flaky/request")
  assert.equal(hits.get("/flaky/request"), 2, "503 then 200: exactly 2 attempts")
  assert.ok(result.error instanceof HttpStatusError.HttpStatusError, "the user's HttpStatusError class")
  assert.ok(HttpStatusError.isHttpStatusError(result.error))
  assert.equal(result.error.status, 404)
  assert.equal(result.error.attempts, 1)
  assert.equal(result.error.reason, "NotRetryable")
  assert.equal(result.recovered, "gave up: 404 NotRetryable")
  assert.equal(hits.get("/missing"), 2, "a 404 is not retried")
  console.log("library: 503 then 200 in 2 attempts; 404 is an HttpStatusError after 1 attempt")

  // --- The bin, as installed by npm -----------------------------------------------------------------------------------

  const bin = path.join("node_modules", ".bin", "http-retry")
  const run = (args) =>
    new Promise((resolve) =>
      child_process.execFile(
        bin,
        args,
        { encoding: "utf8" },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : error.code, stdout, stderr })
      )
    )
  const version = await run(["--version"])
  assert.equal(version.code, 0, version.stderr)
  assert.equal(version.stdout, `http-retry ${process.env.CLI_VERSION}\n`)
  const ok = await run(["--base-delay", "10ms", "--no-jitter", `${base}/flaky/bin`])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stdout, "ok /flaky/bin")
  assert.equal(hits.get("/flaky/bin"), 2, "the bin retried the 503 once")
  const missing = await run(["--base-delay", "10ms", `${base}/missing`])
  assert.equal(missing.code, 22, missing.stderr)
  assert.match(missing.stderr, /HTTP 404 for GET .*\/missing after 1 attempt/)
  console.log(`bin: http-retry ${process.env.CLI_VERSION}: 503 then 200 in 2 attempts, exit 0; 404 exits 22`)

  // --- The Redis store, on a redis-server of its own (CI installs one; elsewhere this part says it is skipped) ------

  if (child_process.spawnSync("redis-server", ["--version"]).status === 0) {
    const port = await new Promise((resolve) => {
      const probe = http.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address()
        probe.close(() => resolve(port))
      })
    })
    const redis = child_process.spawn("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no"
    ], { stdio: "ignore", cwd: fs.mkdtempSync(path.join(process.cwd(), "redis-")) })
    try {
      const { RetryBudget } = await import("@http-retry/core")
      const tokens = await Effect.runPromise(
        Effect.gen(function*() {
          const budget = yield* RetryBudget.RetryBudget
          for (let i = 0; i < 50; i++) budget.record("http://api.test:80", "failure")
          const allowed = yield* budget.acquire("http://api.test:80")
          return { allowed, tokens: budget.tokens("http://api.test:80") }
        }).pipe(
          Effect.provide(RedisRetryBudget.layer({ redis: `redis://127.0.0.1:${port}`, connectTimeout: "10 seconds" }))
        )
      )
      assert.deepEqual(tokens, { allowed: false, tokens: 50 })
      console.log("redis: 50 failures leave 50 of 100 tokens in Redis: retries refused")
    } finally {
      redis.kill()
    }
  } else {
    console.log("redis: skipped, no redis-server here (apt-get install -y redis-server)")
  }
} finally {
  server.close()
}
