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
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

export const commands = ["http-retry", "demo"]

/** The bundled file of a command. */
export const binPath = (command) => path.join(packageDir, "dist", "bin", `${command}.js`)

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
    sourcemap: "linked",
    legalComments: "none",
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
