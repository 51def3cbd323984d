import type { Outcome, Work } from "./types.js"
import { describeError } from "./types.js"

/**
 * Drives a Promise-returning request function: `work.concurrency` async workers take the next index until all are
 * done, timing each request.
 */
export const runPromises = async (work: Work, request: (url: string) => Promise<unknown>): Promise<Outcome> => {
  const latenciesMs = new Float64Array(work.count)
  let next = 0
  let completed = 0
  let failures = 0
  let firstError: string | undefined
  const worker = async () => {
    while (next < work.count) {
      const i = next++
      const start = performance.now()
      try {
        await request(work.url(i))
      } catch (error) {
        failures++
        firstError ??= describeError(error)
      }
      latenciesMs[i] = performance.now() - start
      work.onDone?.(++completed)
    }
  }
  await Promise.all(Array.from({ length: Math.min(work.concurrency, work.count) }, worker))
  return { latenciesMs, failures, firstError }
}
