/**
 * Messages between the parent (main.ts) and its children, over the IPC channel of `child_process.fork`.
 */

/** What the server saw on one route since the last reset. */
export interface RouteStats {
  readonly attempts: number
  /** Request ids that got more than one attempt. */
  readonly retriedIds: number
  /** Gaps between attempt n and n+1 of the same id, ms, per n: [min, median]. */
  readonly gaps: ReadonlyArray<readonly [min: number, median: number]>
  /**
   * On a route whose ids are tracked, once it has seen 50 attempts (a retry budget of 100 tokens has drained):
   * when the 50th came, from the first, and the ids whose first attempt came after it, with their attempts.
   */
  readonly afterFifty?: { readonly afterMs: number; readonly ids: number; readonly attempts: number } | undefined
}

export interface ServerStats {
  readonly connections: number
  readonly maxOpenConnections: number
  readonly routes: Readonly<Record<string, RouteStats>>
}

export type ToServer = { readonly type: "reset" } | { readonly type: "stats" }

export type FromServer =
  | { readonly type: "listening"; readonly port: number; readonly cpus: string | undefined }
  | { readonly type: "reset" }
  | { readonly type: "stats"; readonly stats: ServerStats }

/** The job of one client child: one client, one scenario. */
export interface ClientJob {
  readonly client: string
  readonly origin: string
  readonly path: string
  readonly count: number
  readonly concurrency: number
  readonly warmup: number
  readonly policy: "default" | "fault"
  /** The base backoff of the "fault" policy. */
  readonly baseDelayMs: number
}

export interface ClientResult {
  readonly type: "result"
  readonly count: number
  readonly failures: number
  readonly firstError: string | undefined
  readonly elapsedMs: number
  readonly cpuUs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxRssBytes: number
  /** The CPUs the client process was allowed to run on (Linux), to show the placement held. */
  readonly cpus?: string | undefined
}

export interface ColdStartResult {
  readonly type: "cold-start"
  /** From process start (performance.timeOrigin) to the first line of the script. */
  readonly bootMs: number
  /** Importing the client's modules. */
  readonly importMs: number
  /** From process start to the first response body, parsed. */
  readonly firstResponseMs: number
  readonly failed: string | undefined
}

export interface LeakSample {
  readonly done: number
  readonly rssBytes: number
  readonly heapUsedBytes: number
}

export interface LeakResult {
  readonly type: "leak"
  readonly count: number
  readonly failures: number
  readonly firstError: string | undefined
  readonly elapsedMs: number
  readonly samples: ReadonlyArray<LeakSample>
  readonly maxOpenSockets: number
}

export interface Skipped {
  readonly type: "skipped"
  readonly reason: string
}

export type FromClient = ClientResult | ColdStartResult | LeakResult | Skipped
