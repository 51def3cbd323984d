/**
 * `pnpm pack-test`: the packages as a user gets them. Builds, packs the four packages with pnpm, checks the packed
 * manifests, installs the tarballs into a scratch project outside the workspace (third-party packages from the npm
 * registry, at the workspace's ranges), then runs consumer.mjs there (ESM imports, a retrying request against a
 * loopback server, the `http-retry` bin installed from @http-retry/cli's tarball) and type-checks consumer.ts with
 * the workspace's `tsc`.
 *
 * KEEP_SCRATCH=1 keeps the scratch directory for inspection.
 */
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const started = performance.now()
const packages = ["core", "node", "redis"].map((name) => {
  const dir = path.join(root, "packages", name)
  return { dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) }
})
// The command's package: one bundled file and its manifest, no library modules.
const cliDir = path.join(root, "packages", "cli")
const cliManifest = JSON.parse(fs.readFileSync(path.join(cliDir, "package.json"), "utf8"))

const step = (text) => console.log(`pack-test: ${text} (${((performance.now() - started) / 1000).toFixed(1)}s)`)
const fail = (text) => {
  console.error(`pack-test: FAILED: ${text}`)
  process.exit(1)
}
const sh = (command, args, options = {}) => {
  const result = child_process.spawnSync(command, args, { encoding: "utf8", ...options })
  if (result.status !== 0) {
    fail(
      `${command} ${args.join(" ")} exited ${result.status ?? result.signal}\n${result.stdout ?? ""}${
        result.stderr ?? ""
      }`
    )
  }
  return result.stdout
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "http-retry-pack-test-"))
if (scratch.startsWith(root + path.sep)) fail("the scratch project must be outside the workspace")
process.on("exit", () => {
  if (process.env.KEEP_SCRATCH) console.log(`pack-test: scratch project kept in ${scratch}`)
  else fs.rmSync(scratch, { recursive: true, force: true })
})

// --- Build and pack ------------------------------------------------------------------------------------------------

sh(process.execPath, [path.join(root, "scripts", "build.mjs")], { stdio: ["ignore", "ignore", "inherit"] })
step("built")

const tarballs = {}
for (const { dir, manifest } of packages) {
  const packed = JSON.parse(sh("pnpm", ["pack", "--json", "--pack-destination", scratch], { cwd: dir }))
  const files = new Set(packed.files.map((file) => file.path))
  tarballs[manifest.name] = packed.filename

  // The manifest as packed: pnpm rewrites workspace: specifiers, so read it from the tarball.
  const unpacked = path.join(scratch, "unpacked", path.basename(dir))
  fs.mkdirSync(unpacked, { recursive: true })
  sh("tar", ["-xzf", packed.filename, "-C", unpacked, "--strip-components=1", "package/package.json"])
  const published = JSON.parse(fs.readFileSync(path.join(unpacked, "package.json"), "utf8"))
  const problems = []
  const expect = (ok, text) => ok || problems.push(text)

  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(published[field] ?? {})) {
      expect(!String(range).startsWith("workspace:"), `${field}.${name} is still ${range}`)
    }
  }
  // Every public module (each src/*.ts but index) is a subpath, every target of every condition is in the tarball.
  const modules = fs.readdirSync(path.join(dir, "src")).filter((f) => f.endsWith(".ts") && f !== "index.ts")
  const subpaths = [".", "./package.json", ...modules.map((f) => `./${f.slice(0, -3)}`)].sort()
  expect(
    JSON.stringify(Object.keys(published.exports).sort()) === JSON.stringify(subpaths),
    `exports has ${Object.keys(published.exports).sort().join(", ")}; the public modules need ${subpaths.join(", ")}`
  )
  const targets = (entry) => typeof entry === "string" ? [entry] : Object.values(entry ?? {}).flatMap(targets)
  for (const [subpath, entry] of Object.entries(published.exports)) {
    for (const target of targets(entry)) {
      expect(
        target === "./package.json" || files.has(target.slice(2)),
        `exports["${subpath}"] -> ${target} is not packed`
      )
    }
  }
  for (const target of [published.main, published.types, ...Object.values(published.bin ?? {})]) {
    if (target !== undefined) expect(files.has(target.replace(/^\.\//, "")), `${target} is not packed`)
  }
  expect([...files].every((file) => !/^(test|examples)\/|\.tsbuildinfo/.test(file)), "tests or build info are packed")
  expect(published.type === "module", "type is not module")
  expect(published.engines?.node === ">=20", "engines.node is not >=20")
  expect(published.license === "MIT", "license is not MIT")
  expect(published.sideEffects === false || Array.isArray(published.sideEffects), "sideEffects is not declared")
  for (const peer of ["effect", "@effect/platform"]) {
    expect(published.peerDependencies?.[peer] !== undefined, `${peer} is not a peer dependency`)
    expect(published.dependencies?.[peer] === undefined, `${peer} is a regular dependency`)
  }
  if (manifest.name === "@http-retry/node") {
    expect(published.dependencies["@http-retry/core"] === `^${packages[0].manifest.version}`, "core range")
    expect(published.peerDependencies["@effect/platform-node"] !== undefined, "@effect/platform-node is not a peer")
    for (const dep of ["@effect/cli", "@effect/printer", "@effect/printer-ansi", "@effect/typeclass"]) {
      expect(published.dependencies[dep] === undefined, `the layer depends on the command's ${dep}`)
    }
    expect(published.bin === undefined, "the layer's package still has a bin")
    expect([...files].every((file) => !/\b(cli|demo)\b/.test(file)), "the command's files are packed with the layer")
  }
  if (manifest.name === "@http-retry/redis") {
    expect(published.dependencies["@http-retry/core"] === `^${packages[0].manifest.version}`, "core range")
    expect(published.dependencies.ioredis !== undefined, "ioredis is not a dependency")
    expect(published.bin === undefined, "the Redis store has a bin")
  }
  if (problems.length > 0) fail(`${manifest.name}:\n  ${problems.join("\n  ")}`)
}
{
  const packed = JSON.parse(sh("pnpm", ["pack", "--json", "--pack-destination", scratch], { cwd: cliDir }))
  tarballs[cliManifest.name] = packed.filename
  const files = packed.files.map((file) => file.path).sort()
  const unpacked = path.join(scratch, "unpacked", "cli")
  fs.mkdirSync(unpacked, { recursive: true })
  sh("tar", ["-xzf", packed.filename, "-C", unpacked, "--strip-components=1", "package/package.json"])
  const published = JSON.parse(fs.readFileSync(path.join(unpacked, "package.json"), "utf8"))
  const problems = []
  const expect = (ok, text) => ok || problems.push(text)
  expect(
    published.bin?.["http-retry"] === "./dist/bin/http-retry.cjs",
    "bin http-retry is not ./dist/bin/http-retry.cjs"
  )
  // The bin is a launcher and one bundle: it needs nothing installed beside it.
  expect(Object.keys(published.dependencies ?? {}).length === 0, "the bundled command has dependencies")
  expect(
    JSON.stringify(files) ===
      JSON.stringify(["README.md", "dist/bin/http-retry.bundle.cjs", "dist/bin/http-retry.cjs", "package.json"]),
    `packed ${files.join(", ")}`
  )
  expect(published.engines?.node === ">=20", "engines.node is not >=20")
  expect(published.license === "MIT", "license is not MIT")
  if (problems.length > 0) fail(`${cliManifest.name}:\n  ${problems.join("\n  ")}`)
}
step(`packed ${Object.values(tarballs).map((file) => path.basename(file)).join(", ")}; manifests checked`)

// --- A scratch project that installs the tarballs like any npm package -----------------------------------------------

const [core, node, redis] = packages.map(({ manifest }) => manifest)
const rootManifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
fs.writeFileSync(
  path.join(scratch, "package.json"),
  JSON.stringify(
    {
      name: "http-retry-consumer",
      private: true,
      type: "module",
      dependencies: {
        "@http-retry/core": `file:${path.basename(tarballs[core.name])}`,
        "@http-retry/node": `file:${path.basename(tarballs[node.name])}`,
        "@http-retry/redis": `file:${path.basename(tarballs[redis.name])}`,
        "@http-retry/cli": `file:${path.basename(tarballs[cliManifest.name])}`,
        effect: node.peerDependencies.effect,
        "@effect/platform": node.peerDependencies["@effect/platform"],
        "@effect/platform-node": node.peerDependencies["@effect/platform-node"]
      },
      devDependencies: { "@types/node": rootManifest.devDependencies["@types/node"] }
    },
    null,
    2
  )
)
sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "--loglevel=error"], {
  cwd: scratch
})
step("installed the tarballs and their dependencies with npm")

for (
  const file of [
    "consumer.mjs",
    "consumer.ts",
    "library.ts",
    "tsconfig.json",
    "tsconfig.bundler.json",
    "tsconfig.declaration.json"
  ]
) {
  fs.copyFileSync(path.join(here, file), path.join(scratch, file))
}

const publicModules = Object.fromEntries(packages.map(({ dir, manifest }) => [
  manifest.name,
  fs.readdirSync(path.join(dir, "src")).filter((f) => f.endsWith(".ts") && f !== "index.ts").map((f) => f.slice(0, -3))
]))
process.stdout.write(sh(process.execPath, ["consumer.mjs"], {
  cwd: scratch,
  env: { ...process.env, PUBLIC_MODULES: JSON.stringify(publicModules), CLI_VERSION: cliManifest.version }
}))
step("consumer.mjs passed")

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
for (const project of ["tsconfig.json", "tsconfig.bundler.json"]) {
  sh(process.execPath, [tsc, "-p", project], { cwd: scratch })
}
step("consumer.ts type-checks (strict, skipLibCheck off) under NodeNext and Bundler resolution")
// Declarations emitted for a module that exports values of inferred types: each type is named through a public
// entry point (TS2742 when one is declared only in dist/internal).
sh(process.execPath, [tsc, "-p", "tsconfig.declaration.json"], { cwd: scratch })
step("library.ts emits declarations naming every type through the packages' entry points")
console.log("pack-test: ok")
