import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** `NodeHttpClient.layerUndici`, or the same over an Agent limited to `connections` per origin. */
export const undiciLayer = (connections: number | undefined) =>
  connections === undefined
    ? NodeHttpClient.layerUndici
    : NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
      Layer.provide(Layer.scoped(
        NodeHttpClient.Dispatcher,
        Effect.acquireRelease(
          Effect.sync(() => new Undici.Agent({ connections })),
          (dispatcher) => Effect.promise(() => dispatcher.destroy())
        )
      ))
    )
