/**
 * The CLI tests run the built commands, so build them first: `tsc -b` of the node package's sources, a no-op when
 * `dist` is already fresh. A type error does not stop the tests (tsc still emits, and `pnpm check` reports it); a
 * build that leaves no command behind does.
 */
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const project = fileURLToPath(new URL("../../tsconfig.src.json", import.meta.url))
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const build = child_process.spawnSync(process.execPath, [tsc, "-b", project], { encoding: "utf8" })
  if (build.status !== 0) console.warn(`tsc -b ${project} reported:\n${build.stdout}${build.stderr}`)
  for (const bin of ["http-retry", "demo"]) {
    const file = fileURLToPath(new URL(`../../dist/bin/${bin}.js`, import.meta.url))
    if (!fs.existsSync(file)) throw new Error(`the build did not produce ${file}`)
  }
}
