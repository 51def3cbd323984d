import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as policyInternal from "./retryPolicy.js"

/** Public as `HttpRetry.CurrentOverrides`: left unmarked so its declaration stays in the published types. */
export class CurrentOverrides extends Context.Reference<CurrentOverrides>()(
  "@http-retry/core/HttpRetry/CurrentOverrides",
  { defaultValue: (): ReadonlyArray<RetryPolicy.Options> => [] }
) {}

/** @internal */
export const withPolicy = dual<
  (overrides: RetryPolicy.Options) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, overrides: RetryPolicy.Options) => Effect.Effect<A, E, R>
>(2, (self, overrides) => {
  // Validate now, against the defaults, so a bad field fails where it is written.
  policyInternal.merge(policyInternal.defaults, overrides)
  return withValidOverrides(self, overrides)
})

/** @internal */
export const withValidOverrides = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  overrides: RetryPolicy.Options
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    CurrentOverrides,
    (current) => Effect.provideService(self, CurrentOverrides, [...current, overrides])
  )
