/**
 * `@http-retry/node` as the layer tests see it in the platform-transport project (vitest.config.ts): the same
 * module, with `layer`, `layerClient` and `layerConfig` defaulting to `transport: "platform"`, so that every test of
 * the Node layer also runs on `@effect/platform-node`'s own undici client. An explicit `transport` in a test (or
 * `HTTP_RETRY_TRANSPORT` in its config) still wins.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Real from "../../src/NodeHttpRetry.js"

/** The options with the platform's transport by default; what is not an object is passed on, to be refused. */
const onPlatform = <A>(options: A): A =>
  options === undefined || (typeof options === "object" && options !== null) ?
    { transport: "platform", ...options } as A :
    options

export const NodeHttpRetry: typeof Real = {
  ...Real,
  layer: (options) => Real.layer(onPlatform(options)),
  layerClient: (options) => Real.layerClient(onPlatform(options)),
  layerConfig: Layer.unwrapEffect(
    Effect.map(Real.config(), (options) => Real.layer({ transport: "platform", ...options }))
  )
}
