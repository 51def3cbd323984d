import { BASE_DELAY_MS, FAST_BASE_DELAY_MS } from "./clients/types.js"

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
  /** Runs with a retry budget (the storm scenario allows it fewer attempts). */
  readonly budget?: boolean
  /** Sends hedges: the server may see more attempts than requests, up to the hedge budget. */
  readonly hedges?: boolean
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
    retryConfig: "none (baseline): `NodeHttpClient.layerUndici`, no `filterStatusOk` (see below)"
  },
  {
    name: "effect-withretry",
    label: "platform-node + HttpRetry.withRetry",
    retries: true,
    packages: ["@http-retry/core", "@effect/platform-node", "@effect/platform", "effect"],
    retryConfig: "`HttpRetry.layer()` over `NodeHttpClient.layerUndici`: `HttpRetry.withRetry` under " +
      "`RetryPolicy.defaults`, tracing on, the combinator with no fast path from the client; retry scenarios: " +
      "the policy as for @http-retry/node"
  },
  {
    name: "fetch",
    label: "FetchHttpClient (no retry)",
    retries: false,
    packages: ["@effect/platform", "effect"],
    retryConfig: "none (baseline): `FetchHttpClient.layer` on Node's global fetch, no `filterStatusOk`"
  },
  {
    name: "fetch-withretry",
    label: "FetchHttpClient + HttpRetry.withRetry",
    retries: true,
    packages: ["@http-retry/core", "@effect/platform", "effect"],
    retryConfig: "`HttpRetry.layer()` over `FetchHttpClient.layer`: default policy, tracing on"
  },
  {
    name: "platform-retry",
    label: "platform-node + HttpClient.retry",
    retries: true,
    packages: ["@effect/platform-node", "@effect/platform", "effect"],
    retryConfig: "`NodeHttpClient.layerUndici` + `HttpClient.filterStatusOk` + `HttpClient.retry({ schedule: " +
      "Schedule.exponential(base, 2), times: 3, while: RequestError or a ResponseError whose status our policy " +
      "retries })`: our default policy's schedule and attempts (base as the scenario's, no jitter); no " +
      "Retry-After, no attempt timeout or deadline, the failed answer's body left unread"
  },
  {
    name: "ours",
    label: "@http-retry/node",
    retries: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "happy path: `NodeHttpRetry.layer()` (default policy, direct transport, a span per attempt); " +
      "retry scenarios and leak run: " +
      "`NodeHttpRetry.layer({ policy: RetryPolicy.make({ baseDelay: \"50 millis\", jitter: \"none\" }) })` " +
      "(1 ms on the retry path), " +
      "so the policy's other defaults hold: 4 attempts, factor 2, 408/429/5xx and transport failures, " +
      "Retry-After on 429/503 replacing the backoff, 10 s per attempt"
  },
  {
    name: "ours-budget",
    label: "@http-retry/node, retry budget",
    retries: true,
    optIn: true,
    budget: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, with `budget: true`: `RetryBudget` defaults (100 tokens per origin, 0.1 " +
      "back per success, retries while more than 50 are left), kept in the process"
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
    name: "ours-guarded",
    label: "@http-retry/node, budget and breaker on",
    retries: true,
    optIn: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, with `budget: true, breaker: true`: the retry budget and the circuit " +
      "breaker per origin, both at their defaults"
  },
  {
    name: "ours-breaker",
    label: "@http-retry/node, breaker on",
    retries: true,
    optIn: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, with `breaker: true`: a circuit breaker per origin, its defaults (open after " +
      "5 failures in a row, or half of at least 20 calls in 10 s; open for 5 s; 1 probe)"
  },
  {
    name: "ours-hedged",
    label: "@http-retry/node + hedging",
    retries: true,
    optIn: true,
    hedges: true,
    packages: ["@http-retry/node", "@http-retry/core"],
    retryConfig: "as @http-retry/node, its client with `HttpRetry.withHedging()` under the defaults: a hedge when " +
      "no headers came within the p95 of the latency seen (floor 10 ms, 20 samples first), at most 5% of requests"
  },
  {
    name: "got",
    label: "got",
    retries: true,
    packages: ["got"],
    retryConfig: "limit 2, GET, statusCodes [503], default errorCodes (ECONNRESET…), noise 0, " +
      "calculateDelay base × 2^(n−1) (50 ms; 1 ms on the retry path) with enforceRetryRules; Retry-After " +
      "replaces the backoff"
  },
  {
    name: "ky",
    label: "ky",
    retries: true,
    packages: ["ky"],
    retryConfig: "limit 2, get, statusCodes/afterStatusCodes [503], delay base × 2^(n−1) (50 ms; 1 ms on the " +
      "retry path), no jitter, " +
      "timeout off; network errors always retried; Retry-After replaces the backoff"
  },
  {
    name: "axios",
    label: "axios + axios-retry",
    retries: true,
    packages: ["axios", "axios-retry"],
    retryConfig: "retries 2, retryCondition isNetworkError or status 503, " +
      "retryDelay max(base × 2^(n−1), Retry-After) (50 ms; 1 ms on the retry path)"
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
  /**
   * "throughput": req/s of a client without faults; "retry": total time of a retry schedule against the time it
   * should take; "retry-rate": calls/s through a retry schedule whose waits are short; "storm": attempts per call
   * against a backend that is down; "cold-start"; "open-state": calls to a backend that is down once the circuit
   * breaker has opened (the warm-up opens it): every call must fail at once and the server must see none of them;
   * "tail": p99 against a server whose answers are sometimes slow, with and without hedging.
   */
  readonly kind: "throughput" | "retry" | "retry-rate" | "storm" | "cold-start" | "open-state" | "tail"
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
  /** The first backoff delay of the "fault" policy. */
  readonly baseDelayMs: number
  /** The clients (adapter names) this scenario runs, in this mode. */
  readonly clients: ReadonlyArray<string>
}

export type ModeName = "full" | "quick" | "smoke"

export interface Mode {
  readonly name: ModeName
  readonly rounds: number
  readonly scenarios: ReadonlyArray<Scenario>
  /** undefined: no leak run in this mode. */
  readonly leak: { readonly count: number; readonly concurrency: number } | undefined
  readonly childTimeoutMs: number
  readonly leakTimeoutMs: number
}

/**
 * The happy path's rows: every client in the default set but the platform's `HttpClient.retry`, which is there
 * for the retry path (on the happy path it is the platform client plus `filterStatusOk`).
 */
const everyDefault = clients.filter((c) => c.optIn !== true && c.name !== "platform-retry").map((c) => c.name)
/** The retrying clients of the earlier reports: the fault, reset and Retry-After scenarios. */
const retrying = ["ours", "ours-lean", "ours-platform", "got", "ky", "axios"]

interface Sizes {
  readonly happy1: number
  readonly happy64: number
  readonly warmup1: number
  readonly warmup64: number
  /** Waves of 8 ids in the fault and reset scenarios. */
  readonly retryWaves: number
  /** Waves of 64 calls on the retry path. */
  readonly retryRateWaves: number
  /** Waves of 64 calls against the backend that is down. */
  readonly stormWaves: number
  /** Warm the retry paths up with one wave each (the Retry-After one costs a second per client). */
  readonly retryWarmup: boolean
}

/** The clients of each scenario; a scenario not named here is not run. */
type ClientLists = Partial<Record<string, ReadonlyArray<string>>>

/** The happy path with the retry budget and the circuit breaker on, against the same layer without them. */
const breakerHappy = ["ours-guarded"]

/** Hedging against none, side by side: the tail scenario and the happy path (issue 16). */
const hedgingPair = ["ours", "ours-hedged"]

const fullLists: ClientLists = {
  "happy-1": [...everyDefault, ...breakerHappy],
  "happy-64": [...everyDefault, ...breakerHappy, "ours-hedged"],
  "breaker-open": ["ours-breaker"],
  "tail-64": hedgingPair,
  "retry-64": ["ours", "ours-platform", "got", "ky", "axios", "effect-withretry", "platform-retry"],
  fault: retrying,
  reset: retrying,
  "retry-after": retrying,
  storm: ["ours", "ours-budget"],
  "cold-start": everyDefault
}

/**
 * Quick mode: only the runs the targets read. ours runs at 1 in flight because the fault path's
 * "expected" time is built from its own happy-path p50 in the same round.
 */
const quickLists: ClientLists = {
  "happy-1": ["effect", "effect-withretry", "fetch", "fetch-withretry", "ours"],
  // The clients a target compares sit side by side (the order rotates from round to round, so neighbours stay
  // neighbours but at the wrap): ours between the layer with budget and breaker and the hedged one.
  "happy-64": [
    "ours-lean",
    "undici",
    "effect",
    "effect-withretry",
    "fetch",
    "fetch-withretry",
    ...breakerHappy,
    "ours",
    "ours-hedged"
  ],
  "tail-64": hedgingPair,
  "retry-64": ["ours", "got", "ky", "effect-withretry", "platform-retry"],
  fault: ["ours"],
  storm: ["ours", "ours-budget"],
  "breaker-open": ["ours-breaker"]
}

const scenarios = (size: Sizes, lists: ClientLists, scale: number): ReadonlyArray<Scenario> => {
  const n = (x: number) => Math.max(1, Math.round(x * scale))
  const waves = (x: number) => Math.max(1, Math.round(x * scale))
  const all: ReadonlyArray<Omit<Scenario, "clients">> = [
    {
      name: "happy-1",
      title: "Happy path, 1 in flight",
      kind: "throughput",
      path: "/happy",
      concurrency: 1,
      count: n(size.happy1),
      warmup: n(size.warmup1),
      attemptsPerRequest: 1,
      waitsMs: [],
      policy: "default",
      baseDelayMs: BASE_DELAY_MS
    },
    {
      name: "happy-64",
      title: "Happy path, 64 in flight",
      kind: "throughput",
      path: "/happy",
      concurrency: 64,
      count: n(size.happy64),
      warmup: n(size.warmup64),
      attemptsPerRequest: 1,
      waitsMs: [],
      policy: "default",
      baseDelayMs: BASE_DELAY_MS
    },
    {
      name: "tail-64",
      title: "Tail: 2% of answers after 200 ms, the rest at once, 64 in flight, hedging on and off",
      kind: "tail",
      path: "/tail",
      concurrency: 64,
      count: n(size.happy64),
      warmup: n(size.warmup64),
      attemptsPerRequest: 1,
      waitsMs: [],
      policy: "default",
      baseDelayMs: BASE_DELAY_MS
    },
    {
      name: "retry-64",
      title: "Retry path: 503, 503, 200 per call, 1 ms base backoff, no jitter, 64 in flight",
      kind: "retry-rate",
      path: "/fault",
      concurrency: 64,
      count: 64 * waves(size.retryRateWaves),
      warmup: size.retryWarmup ? 64 * waves(size.retryRateWaves / 4) : 0,
      attemptsPerRequest: 3,
      waitsMs: [FAST_BASE_DELAY_MS, FAST_BASE_DELAY_MS * 2],
      policy: "fault",
      baseDelayMs: FAST_BASE_DELAY_MS
    },
    {
      name: "fault",
      title: "Fault path: 503, 503, 200 per id, 8 in flight",
      kind: "retry",
      path: "/fault",
      concurrency: 8,
      count: 8 * waves(size.retryWaves),
      warmup: size.retryWarmup ? 8 : 0,
      attemptsPerRequest: 3,
      waitsMs: [BASE_DELAY_MS, BASE_DELAY_MS * 2],
      policy: "fault",
      baseDelayMs: BASE_DELAY_MS
    },
    {
      name: "reset",
      title: "Connection reset before headers, then 200, 8 in flight",
      kind: "retry",
      path: "/reset",
      concurrency: 8,
      count: 8 * waves(size.retryWaves),
      warmup: size.retryWarmup ? 8 : 0,
      attemptsPerRequest: 2,
      waitsMs: [BASE_DELAY_MS],
      policy: "fault",
      baseDelayMs: BASE_DELAY_MS
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
      policy: "fault",
      baseDelayMs: BASE_DELAY_MS
    },
    {
      name: "storm",
      title: "A backend failing 100%, 64 in flight: attempts per call, without and with the retry budget",
      kind: "storm",
      path: "/down",
      concurrency: 64,
      count: 64 * waves(size.stormWaves),
      // No warm-up: it would drain the budget (one per origin) before the run.
      warmup: 0,
      attemptsPerRequest: 4,
      waitsMs: [FAST_BASE_DELAY_MS, FAST_BASE_DELAY_MS * 2, FAST_BASE_DELAY_MS * 4],
      policy: "fault",
      baseDelayMs: FAST_BASE_DELAY_MS
    },
    {
      name: "breaker-open",
      title: "Circuit breaker open: a backend that answers 503 to everything, 64 in flight",
      kind: "open-state",
      path: "/down",
      concurrency: 64,
      count: 64 * waves(size.retryRateWaves),
      // On /warmup/down (the same origin): the first wave's failures open the breaker, and the calls after it warm
      // the rejected path up.
      warmup: 64 * 10,
      attemptsPerRequest: 0,
      waitsMs: [],
      policy: "fault",
      baseDelayMs: FAST_BASE_DELAY_MS
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
      policy: "default",
      baseDelayMs: BASE_DELAY_MS
    }
  ]
  return all.flatMap((s) => {
    const list = lists[s.name]
    return list === undefined ? [] : [{ ...s, clients: list }]
  })
}

/** `scale` multiplies every request count (`--scale=0.5` halves them); 1 is the mode's own. */
export const makeMode = (name: ModeName, scale = 1): Mode => {
  switch (name) {
    case "full":
      return {
        name,
        rounds: 5,
        scenarios: scenarios(
          {
            happy1: 2_000,
            happy64: 8_000,
            warmup1: 500,
            warmup64: 2_000,
            retryWaves: 6,
            retryRateWaves: 40,
            stormWaves: 10,
            retryWarmup: true
          },
          fullLists,
          scale
        ),
        leak: { count: 100_000, concurrency: 64 },
        childTimeoutMs: 180_000,
        leakTimeoutMs: 600_000
      }
    case "quick":
      return {
        name,
        // Unpinned, one run's req/s moved by ±20% from run to run here: the median of 3 ratios was still that noisy.
        rounds: 5,
        scenarios: scenarios(
          {
            happy1: 1_500,
            happy64: 6_000,
            warmup1: 500,
            warmup64: 2_000,
            retryWaves: 4,
            retryRateWaves: 30,
            stormWaves: 10,
            retryWarmup: true
          },
          quickLists,
          scale
        ),
        leak: undefined,
        childTimeoutMs: 120_000,
        leakTimeoutMs: 600_000
      }
    case "smoke":
      return {
        name,
        rounds: 1,
        scenarios: scenarios(
          {
            happy1: 200,
            happy64: 400,
            warmup1: 20,
            warmup64: 64,
            retryWaves: 2,
            retryRateWaves: 2,
            stormWaves: 2,
            retryWarmup: false
          },
          fullLists,
          scale
        ),
        leak: { count: 2_000, concurrency: 64 },
        childTimeoutMs: 60_000,
        leakTimeoutMs: 60_000
      }
  }
}
