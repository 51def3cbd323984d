/**
 * What every client adapter provides. An adapter module (one per client, so that a cold start imports only that
 * client's packages) exports `adapter`.
 */

/** The retry settings every retrying client is configured with, as far as it allows. */
export const BASE_DELAY_MS = 50
/** The base backoff of the retry path (503, 503, 200 per call, 64 in flight): the retry's own cost, not the wait. */
export const FAST_BASE_DELAY_MS = 1
/** Retries after the first attempt: 503, 503, 200 needs exactly this many. */
export const RETRY_LIMIT = 2
export const RETRY_STATUSES: ReadonlyArray<number> = [503]

export interface Work {
  readonly count: number
  readonly concurrency: number
  readonly url: (i: number) => string
  /** Called after each request, with how many have completed. */
  readonly onDone?: ((completed: number) => void) | undefined
}

export interface Outcome {
  readonly latenciesMs: Float64Array
  readonly failures: number
  readonly firstError: string | undefined
}

export interface Client {
  /** Runs `work.count` GET requests, `work.concurrency` in flight, each reading and parsing the JSON body. */
  readonly run: (work: Work) => Promise<Outcome>
  readonly close: () => Promise<void>
}

export interface Settings {
  /**
   * "default": the client's default retry policy where the client has one (ours), otherwise the common settings
   * above. "fault": the common settings above (base delay `baseDelayMs`, factor 2, no jitter, 2 retries, 503
   * only).
   */
  readonly policy: "default" | "fault"
  /** The first backoff delay of the "fault" policy (default `BASE_DELAY_MS`). */
  readonly baseDelayMs?: number | undefined
  /** Connections per origin, where the client has such a limit; unset: the client's default. */
  readonly connections?: number | undefined
}

export interface Adapter {
  readonly make: (settings: Settings) => Promise<Client>
}

export const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return `${error.name}${typeof code === "string" ? ` ${code}` : ""}: ${error.message}`.slice(0, 300)
  }
  return String(error).slice(0, 300)
}
