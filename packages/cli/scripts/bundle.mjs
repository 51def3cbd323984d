/**
 * Bundles each command (`src/bin/*.ts`) with esbuild into one self-contained CommonJS file,
 * `dist/bin/<name>.bundle.cjs`, and writes its launcher, `dist/bin/<name>.cjs`: what the package ships, what the
 * tests run. One file instead of some 900 modules is most of the command's start-up:
 * Node resolves, reads and links each ES module on its own. The workspace packages are bundled from their sources
 * (the `@http-retry/source` condition), so no `tsc` build has to come first; type-checking is `pnpm check`'s.
 *
 * `node scripts/bundle.mjs` bundles both commands; `bundle()` is the same, for the scripts that run them.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

export const commands = ["http-retry", "demo"]

/** The file to run for a command: the launcher, next to the bundle it compiles. */
export const binPath = (command) => path.join(packageDir, "dist", "bin", `${command}.cjs`)

const bundlePath = (command) => path.join(packageDir, "dist", "bin", `${command}.bundle.cjs`)

/**
 * The launcher of a command. It compiles the bundle with V8's code cache, kept per user in
 * `$XDG_CACHE_HOME/http-retry` (or `~/.cache/http-retry`) and keyed by a hash of the bundle and of Node's version:
 * parsing and compiling the bundle and the functions a run calls are half of a cold start, and Node 20 caches no
 * code for scripts. The cache is written as a run exits, when it has none or this run compiled noticeably more; it
 * is used only from a directory of the
 * user's own that no one else can write, since V8 runs the code it reads back. HTTP_RETRY_COMPILE_CACHE=0 turns it
 * off; without a usable directory, the command runs without it.
 */
const launcher = (command) =>
  `#!/usr/bin/env node
"use strict"
const fs = require("node:fs")
const path = require("node:path")
const { createRequire, wrap } = require("node:module")
const file = path.join(__dirname, ${JSON.stringify(path.basename(bundlePath(command)))})
const source = fs.readFileSync(file, "utf8").replace(/^#!.*/, "")
const cacheFile = () => {
  if (process.env.HTTP_RETRY_COMPILE_CACHE === "0") return undefined
  try {
    const os = require("node:os")
    const dir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "http-retry")
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const stat = fs.statSync(dir)
    if (!stat.isDirectory() || (stat.mode & 0o022) !== 0) return undefined
    if (typeof process.getuid === "function" && stat.uid !== process.getuid()) return undefined
    const hash = require("node:crypto").createHash("sha256").update(source).update(process.version)
      .update(process.arch).digest("hex").slice(0, 20)
    return path.join(dir, ${JSON.stringify(command)} + "-" + hash + ".v8cache")
  } catch {
    return undefined
  }
}
const cache = cacheFile()
let cachedData
if (cache !== undefined) {
  try {
    cachedData = fs.readFileSync(cache)
  } catch {}
}
const script = new (require("node:vm").Script)(wrap(source), { filename: file, cachedData })
if (cache !== undefined) {
  process.once("exit", () => {
    try {
      // Rewritten when this run compiled noticeably more than the cache holds: a GET after a first --version.
      const data = script.createCachedData()
      if (cachedData !== undefined && !script.cachedDataRejected && data.length <= cachedData.length * 1.05) return
      const temporary = cache + "." + process.pid + ".tmp"
      fs.writeFileSync(temporary, data, { mode: 0o600 })
      fs.renameSync(temporary, cache)
    } catch {}
  })
}
const module_ = { exports: {}, filename: file, id: file, loaded: false }
script.runInThisContext()(module_.exports, createRequire(file), module_, file, __dirname)
`

/**
 * undici's index loads all of undici (fetch, WebSocket, caches, mocks, interceptors: about 150 ms of a cold start)
 * where the command uses its agents alone. Bundled, `undici` is this module instead: the same exports, each loaded on
 * first use; the agents without the rest. The index's one side effect, the request methods it puts on
 * `Dispatcher.prototype`, comes with the first agent. Any other export loads the real index.
 */
const lazyUndici = {
  name: "lazy-undici",
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, async (args) => {
      if (args.pluginData === "real") return undefined
      const real = await build.resolve("undici", {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: "real"
      })
      if (real.errors.length > 0) return { errors: real.errors }
      return { path: real.path, namespace: "lazy-undici" }
    })
    build.onLoad({ filter: /.*/, namespace: "lazy-undici" }, (args) => {
      const keys = Object.keys(createRequire(args.path)(args.path))
      const contents = `
let full
const index = () => full ??= require("./index.js")
let api = false
const withApi = (load) => () => {
  if (!api) {
    api = true
    Object.assign(require("./lib/dispatcher/dispatcher.js").prototype, require("./lib/api/index.js"))
  }
  return load()
}
const parts = {
  Agent: withApi(() => require("./lib/dispatcher/agent.js")),
  ProxyAgent: withApi(() => require("./lib/dispatcher/proxy-agent.js")),
  EnvHttpProxyAgent: withApi(() => require("./lib/dispatcher/env-http-proxy-agent.js")),
  Dispatcher: withApi(() => require("./lib/dispatcher/dispatcher.js"))
}
for (const key of ${JSON.stringify(keys)}) {
  Object.defineProperty(module.exports, key, { enumerable: true, get: () => parts[key] ? parts[key]() : index()[key] })
}
`
      return { contents, loader: "js", resolveDir: path.dirname(args.path) }
    })
  }
}

export const bundle = async (names = commands) => {
  const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"))
  const result = await esbuild.build({
    entryPoints: Object.fromEntries(
      names.map((name) => [`${name}.bundle`, path.join(packageDir, "src", "bin", `${name}.ts`)])
    ),
    outdir: path.join(packageDir, "dist", "bin"),
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    // CommonJS, so that the launcher can compile it as a script, with V8's code cache.
    format: "cjs",
    conditions: ["@http-retry/source"],
    minify: true,
    // No source map: the command prints one-line errors, never a stack, and a map would be ten times the bundle.
    sourcemap: false,
    legalComments: "none",
    plugins: [lazyUndici],
    logLevel: "warning",
    define: { HTTP_RETRY_VERSION: JSON.stringify(version) }
  })
  if (result.errors.length > 0) throw new Error("esbuild failed")
  for (const name of names) {
    fs.writeFileSync(binPath(name), launcher(name), { mode: 0o755 })
    fs.chmodSync(binPath(name), 0o755)
  }
}

if (process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundle()
}
