/**
 * `pnpm http-retry ...` and `pnpm demo`: bundle packages/cli's commands (esbuild, about a second), then run one in
 * this process as if it had been started from the directory `pnpm` was run in. pnpm runs a root script in the
 * repository root and says where it was run from in INIT_CWD; without this, `pnpm http-retry --data @body.json` from
 * a subfolder would read the file from the root, and `-o` would write there.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { binPath, bundle } from "../packages/cli/scripts/bundle.mjs"

const [command, ...args] = process.argv.slice(2)
await bundle([command])
if (process.env.INIT_CWD !== undefined) process.chdir(process.env.INIT_CWD)
// The command reads its arguments from process.argv, after node and the script.
process.argv = [process.argv[0], binPath(command), ...args]
await import(pathToFileURL(path.resolve(binPath(command))).href)
