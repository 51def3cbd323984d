import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { Client, Outcome, Work } from "./types.js"

/**
 * An Effect client runs inside one runtime built from its layer, driven by `work.concurrency` worker fibers that
 * each take the next index until all are done (the Promise driver's shape). Not `Effect.forEach` with
 * `concurrency`: it keeps every child fiber until the whole batch ends, which over the 100k-request leak run reads
 * as a leak of whichever client runs under it.
 *
 * Every Effect client pays the same status check: a comparison in the step that reads the body, which fails the
 * request on a non-2xx answer. No `HttpClient.filterStatusOk` by default: it adds a `transformResponse` and an
 * Effect step per request, which a baseline would pay and a retrying client (which checks the status itself) would
 * not, so a ratio between them would flatter the retry. `transform` is for clients whose retry needs it.
 */
export const makeEffectClient = async <E>(
  layer: Layer.Layer<HttpClient.HttpClient, E>,
  transform: (client: HttpClient.HttpClient) => HttpClient.HttpClient.With<HttpClientError.HttpClientError> = (
    client
  ) => client
): Promise<Client> => {
  const runtime = ManagedRuntime.make(layer)
  const client = transform(await runtime.runPromise(HttpClient.HttpClient))
  return {
    run: (work) => runtime.runPromise(drive(client, work)),
    close: () => runtime.dispose()
  }
}

const drive = (client: HttpClient.HttpClient.With<HttpClientError.HttpClientError>, work: Work) =>
  Effect.suspend(() => {
    const latenciesMs = new Float64Array(work.count)
    let completed = 0
    let failures = 0
    let firstError: string | undefined
    const one = (i: number) =>
      Effect.suspend(() => {
        const start = performance.now()
        return client.get(work.url(i)).pipe(
          Effect.flatMap((response) =>
            response.status >= 200 && response.status < 300
              ? response.json
              : Effect.fail(new Error(`status ${response.status}`))
          ),
          Effect.catchAllCause((cause) =>
            Effect.sync(() => {
              failures++
              firstError ??= Cause.pretty(cause).split("\n")[0].slice(0, 300)
            })
          ),
          Effect.ensuring(Effect.sync(() => {
            latenciesMs[i] = performance.now() - start
            work.onDone?.(++completed)
          }))
        )
      })
    let next = 0
    const worker = Effect.whileLoop({ while: () => next < work.count, body: () => one(next++), step: () => {} })
    const workers = Array.from({ length: Math.min(work.concurrency, work.count) }, () => worker)
    return Effect.all(workers, { concurrency: "unbounded", discard: true }).pipe(
      Effect.zipRight(Effect.sync((): Outcome => ({ latenciesMs, failures, firstError })))
    )
  })
