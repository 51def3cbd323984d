/**
 * Bundles each command (`src/bin/*.ts`) with esbuild into one self-contained ES module, `dist/bin/<name>.js`: what
 * the package ships, what the tests run. One file instead of some 900 modules is most of the command's start-up:
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

/** The bundled file of a command. */
export const binPath = (command) => path.join(packageDir, "dist", "bin", `${command}.js`)

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
  await esbuild.build({
    entryPoints: names.map((name) => path.join(packageDir, "src", "bin", `${name}.ts`)),
    outdir: path.join(packageDir, "dist", "bin"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    conditions: ["@http-retry/source"],
    minify: true,
    // No source map: the command prints one-line errors, never a stack, and a map would be ten times the bundle.
    sourcemap: false,
    legalComments: "none",
    plugins: [lazyUndici],
    logLevel: "warning",
    define: { HTTP_RETRY_VERSION: JSON.stringify(version) },
    // Bundled CommonJS (undici) calls `require` for Node's built-ins; an ES module has none of its own.
    banner: {
      js: "import { createRequire as __httpRetryRequire } from \"node:module\";" +
        "const require = __httpRetryRequire(import.meta.url);"
    }
  })
  for (const name of names) fs.chmodSync(binPath(name), 0o755)
}

if (process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundle()
}
