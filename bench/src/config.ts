import { BASE_DELAY_MS } from "./clients/types.js"

export interface ClientInfo {
  /** The adapter module in ./clients. */
  readonly name: string
  readonly label: string
  /** Whether it is configured to retry; the retry scenarios run only those that are. */
  readonly retries: boolean
  /** Packages whose versions the report lists. */
  readonly packages: ReadonlyArray<string>
  /** Not in the default set; run it with --clients=NAME. */
  readonly optIn?: boolean
  readonly retryConfig: string
}

export const clients: ReadonlyArray<ClientInfo> = [
  {
    name: "undici",
    label: "undici.request",
    retries: false,
    packages: ["undici"],
    retryConfig: "none (baseline)"
  },
  {
    name: "effect",
    label: "platform-node (no retry)",
    retries: false,
    packages: ["@effect/platform-node", "@effect/platform", "effect"],
    retryConfig: "none (baseline): `NodeHttpClient.layerUndici` + `HttpClient.filterStatusOk`"
  },
  {
    name: "ours",
    label: "@http-retry/node",
    retries: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "happy path: `NodeHttpRetry.layer()` (default policy, direct transport, a span per attempt); " +
      "retry scenarios and leak run: " +
      "`NodeHttpRetry.layer({ policy: RetryPolicy.make({ baseDelay: \"50 millis\", jitter: \"none\" }) })`, " +
      "so the policy's other defaults hold: 4 attempts, factor 2, 408/429/5xx and transport failures, " +
      "Retry-After on 429/503 replacing the backoff, 10 s per attempt"
  },
  {
    name: "ours-lean",
    label: "@http-retry/node, lean",
    retries: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, with `tracing: false`: no span per attempt, no trace headers"
  },
  {
    name: "ours-platform",
    label: "@http-retry/node, platform transport",
    retries: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, with `transport: \"platform\"`: the retry over the platform's own undici " +
      "client, so that against the plain platform client it shows what the retry itself costs"
  },
  {
    name: "got",
    label: "got",
    retries: true,
    packages: ["got"],
    retryConfig: "limit 2, GET, statusCodes [503], default errorCodes (ECONNRESET…), noise 0, " +
      "calculateDelay 50 ms × 2^(n−1) with enforceRetryRules; Retry-After replaces the backoff"
  },
  {
    name: "ky",
    label: "ky",
    retries: true,
    packages: ["ky"],
    retryConfig: "limit 2, get, statusCodes/afterStatusCodes [503], delay 50 ms × 2^(n−1), no jitter, " +
      "timeout off; network errors always retried; Retry-After replaces the backoff"
  },
  {
    name: "axios",
    label: "axios + axios-retry",
    retries: true,
    packages: ["axios", "axios-retry"],
    retryConfig: "retries 2, retryCondition isNetworkError or status 503, " +
      "retryDelay max(50 ms × 2^(n−1), Retry-After)"
  },
  {
    name: "effect-retry",
    label: "platform retryTransient",
    retries: true,
    optIn: true,
    packages: ["@effect/platform-node", "@effect/platform", "effect"],
    retryConfig: "`filterStatusOk` + `HttpClient.retryTransient({ schedule: exponential(50 ms), times: 2 })`: " +
      "retries 408/429/5xx and transport errors, ignores Retry-After"
  }
]

export interface Scenario {
  readonly name: string
  readonly title: string
  readonly kind: "throughput" | "retry" | "cold-start"
  /** The server route. */
  readonly path: string
  readonly concurrency: number
  readonly count: number
  readonly warmup: number
  /** How many attempts per request the server must see: exactly this, or the client is WRONG. */
  readonly attemptsPerRequest: number
  /** The waits the schedule calls for between attempts; the server checks the gaps it sees against them. */
  readonly waitsMs: ReadonlyArray<number>
  readonly policy: "default" | "fault"
}

export interface Mode {
  readonly name: "full" | "smoke"
  readonly rounds: number
  readonly scenarios: ReadonlyArray<Scenario>
  readonly leak: { readonly count: number; readonly concurrency: number }
  readonly childTimeoutMs: number
  readonly leakTimeoutMs: number
}

const scenarios = (size: {
  happy1: number
  happy64: number
  warmup1: number
  warmup64: number
  retryWaves: number
  /** Warm the retry paths up with one wave each (the Retry-After one costs a second per client). */
  retryWarmup: boolean
}): ReadonlyArray<Scenario> => [
  {
    name: "happy-1",
    title: "Happy path, 1 in flight",
    kind: "throughput",
    path: "/happy",
    concurrency: 1,
    count: size.happy1,
    warmup: size.warmup1,
    attemptsPerRequest: 1,
    waitsMs: [],
    policy: "default"
  },
  {
    name: "happy-64",
    title: "Happy path, 64 in flight",
    kind: "throughput",
    path: "/happy",
    concurrency: 64,
    count: size.happy64,
    warmup: size.warmup64,
    attemptsPerRequest: 1,
    waitsMs: [],
    policy: "default"
  },
  {
    name: "fault",
    title: "Fault path: 503, 503, 200 per id, 8 in flight",
    kind: "retry",
    path: "/fault",
    concurrency: 8,
    count: 8 * size.retryWaves,
    warmup: size.retryWarmup ? 8 : 0,
    attemptsPerRequest: 3,
    waitsMs: [BASE_DELAY_MS, BASE_DELAY_MS * 2],
    policy: "fault"
  },
  {
    name: "reset",
    title: "Connection reset before headers, then 200, 8 in flight",
    kind: "retry",
    path: "/reset",
    concurrency: 8,
    count: 8 * size.retryWaves,
    warmup: size.retryWarmup ? 8 : 0,
    attemptsPerRequest: 2,
    waitsMs: [BASE_DELAY_MS],
    policy: "fault"
  },
  {
    name: "retry-after",
    title: "503 with Retry-After: 1, then 200, 32 in flight",
    kind: "retry",
    path: "/retry-after",
    concurrency: 32,
    count: 32,
    warmup: size.retryWarmup ? 32 : 0,
    attemptsPerRequest: 2,
    waitsMs: [1000],
    policy: "fault"
  },
  {
    name: "cold-start",
    title: "Cold start: fresh process, import, one request",
    kind: "cold-start",
    path: "/happy",
    concurrency: 1,
    count: 1,
    warmup: 0,
    attemptsPerRequest: 1,
    waitsMs: [],
    policy: "default"
  }
]

export const modes: Record<"full" | "smoke", Mode> = {
  full: {
    name: "full",
    rounds: 5,
    scenarios: scenarios({
      happy1: 2_000,
      happy64: 8_000,
      warmup1: 500,
      warmup64: 2_000,
      retryWaves: 6,
      retryWarmup: true
    }),
    leak: { count: 100_000, concurrency: 64 },
    childTimeoutMs: 180_000,
    leakTimeoutMs: 600_000
  },
  smoke: {
    name: "smoke",
    rounds: 1,
    scenarios: scenarios({ happy1: 200, happy64: 400, warmup1: 20, warmup64: 64, retryWaves: 2, retryWarmup: false }),
    leak: { count: 2_000, concurrency: 64 },
    childTimeoutMs: 60_000,
    leakTimeoutMs: 60_000
  }
}
