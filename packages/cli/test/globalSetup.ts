/**
 * The tests run the commands as shipped: bundle them first (`scripts/bundle.mjs`, esbuild, a second or two).
 * Type errors are `pnpm check`'s to report; a bundle that fails stops the tests.
 */
import { bundle } from "../scripts/bundle.mjs"

export default async function setup(): Promise<void> {
  await bundle()
}
