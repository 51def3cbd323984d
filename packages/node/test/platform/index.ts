/**
 * `@http-retry/node` as the layer tests see it in the platform-transport project (vitest.config.ts): the same
 * module, with `layer` and `layerClient` defaulting to `transport: "platform"`, so that every test of the Node layer
 * also runs on `@effect/platform-node`'s own undici client. An explicit `transport` in a test still wins.
 */
import * as Real from "../../src/NodeHttpRetry.js"

export const NodeHttpRetry: typeof Real = {
  ...Real,
  layer: (options) => Real.layer({ transport: "platform", ...options }),
  layerClient: (options) => Real.layerClient({ transport: "platform", ...options })
}
