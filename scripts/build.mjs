/**
 * `pnpm build`: a clean ESM build (JavaScript, declarations and their maps) of every publishable library into its
 * `dist`, then the command's bundle (packages/cli/dist/bin). `dist` and the source build's `.tsbuildinfo` go first: `tsc -b` trusts its build info, so it neither
 * re-emits a deleted `dist` nor removes the output of a source file that no longer exists.
 */
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const packages = ["packages/core", "packages/node", "packages/redis"]

for (const dir of packages) {
  fs.rmSync(path.join(root, dir, "dist"), { recursive: true, force: true })
  fs.rmSync(path.join(root, dir, ".tsbuildinfo", "src.tsbuildinfo"), { force: true })
}

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
const projects = packages.map((dir) => path.join(dir, "tsconfig.src.json"))
const build = child_process.spawnSync(process.execPath, [tsc, "-b", ...projects], { cwd: root, stdio: "inherit" })
if (build.status !== 0) process.exit(build.status ?? 1)

fs.rmSync(path.join(root, "packages/cli/dist"), { recursive: true, force: true })
const { bundle } = await import("../packages/cli/scripts/bundle.mjs")
await bundle()

for (const dir of packages) {
  const files = fs.readdirSync(path.join(root, dir, "dist"), { recursive: true })
  const js = files.filter((file) => String(file).endsWith(".js")).length
  const dts = files.filter((file) => String(file).endsWith(".d.ts")).length
  console.log(`${dir}/dist: ${js} ES modules, ${dts} declaration files`)
}
console.log("packages/cli/dist/bin: http-retry and demo, each one bundled file and its launcher")
