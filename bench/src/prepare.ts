import * as Esbuild from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"

export const benchDir = Path.resolve(import.meta.dirname, "..")
export const rootDir = Path.resolve(benchDir, "..")
export const buildDir = Path.join(benchDir, "build")

const require = createRequire(import.meta.url)

/**
 * Builds @http-retry/core, @http-retry/node and @http-retry/redis (tsc -b, incremental) so that the bench measures
 * what ships, their dist/, never a stale one. A failing build is reported, and the bench goes on with whatever dist/ holds: a client
 * whose import then fails is skipped.
 */
export const buildPackages = (): string | undefined => {
  const tsc = require.resolve("typescript/bin/tsc")
  const result = ChildProcess.spawnSync(
    process.execPath,
    [
      tsc,
      "-b",
      Path.join(rootDir, "packages/node/tsconfig.src.json"),
      Path.join(rootDir, "packages/redis/tsconfig.src.json")
    ],
    { encoding: "utf8" }
  )
  if (result.status === 0) return undefined
  return (result.stdout + result.stderr).trim().split("\n").slice(0, 10).join("\n")
}

/** Transpiles the bench's own sources to build/, so that children run on plain `node`. */
export const transpile = async (): Promise<void> => {
  const srcDir = Path.join(benchDir, "src")
  const entryPoints = Fs.readdirSync(srcDir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => Path.join(srcDir, file))
  Fs.rmSync(buildDir, { recursive: true, force: true })
  await Esbuild.build({
    entryPoints,
    outdir: buildDir,
    outbase: srcDir,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "warning"
  })
}

const readVersion = (packageJson: string): string =>
  (JSON.parse(Fs.readFileSync(packageJson, "utf8")) as { version: string }).version

/** The version of each package as the bench resolves it. */
export const versionOf = (name: string): string => {
  try {
    return readVersion(Path.join(benchDir, "node_modules", name, "package.json"))
  } catch {
    return "not installed"
  }
}

/** undici as @effect/platform-node resolves it, and whether the bench's own undici is that same copy. */
export const undiciOfPlatformNode = (): { readonly version: string; readonly same: boolean } => {
  const platformNode = Fs.realpathSync(Path.join(benchDir, "node_modules/@effect/platform-node/package.json"))
  const fromPlatform = createRequire(platformNode).resolve("undici")
  const fromBench = require.resolve("undici")
  let dir = Path.dirname(fromPlatform)
  while (!Fs.existsSync(Path.join(dir, "package.json"))) dir = Path.dirname(dir)
  return { version: readVersion(Path.join(dir, "package.json")), same: fromPlatform === fromBench }
}
