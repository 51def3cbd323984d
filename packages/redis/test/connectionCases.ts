import type { Redis } from "ioredis"

/** Connection strings ioredis reads, which each store takes: a URL, host:port, a port, a socket path. */
export const acceptedConnections: ReadonlyArray<string> = [
  "redis://cache.internal:6379/2",
  "rediss://u:p@cache.internal?tls=true",
  "localhost:6379",
  "cache.internal:6379?db=2",
  "app:pw@cache.internal:6379",
  "[::1]:6379",
  "6379",
  "/run/redis.sock"
]

/**
 * The connection options each store checks alike (the budget's and the breaker's), with the message each gives;
 * `name` is the store's.
 */
export const connectionCases = <Options>(name: string): Array<[Options, string]> => {
  /** The message for a `redis` option the store refuses, showing `got` (what the error keeps of the value). */
  const badRedis = (got: string) =>
    `${name}: redis must be a redis:// or rediss:// URL, host:port, a socket path, or ioredis options, got ${got}`
  return [
    // The connection options: checked here, not by ioredis (a URL that does not parse showed its password in
    // ioredis' TypeError; a number or an object that is not a client connected to localhost or threw later).
    [
      { redis: 16393 as unknown as string },
      badRedis(`16393`)
    ],
    [
      { redis: "http://127.0.0.1:6379" },
      badRedis(`"http://127.0.0.1:6379"`)
    ],
    [
      { redis: "redis://app:S3CRET@host:63 79/0" },
      badRedis(`"…@host:63 79/0"`)
    ],
    [
      { redis: "app:S3CRET@cache.internal:63 79" },
      badRedis(`"…@cache.internal:63 79"`)
    ],
    [
      { redis: " redis://:S3CRET@127.0.0.1:1" },
      badRedis(`"…@127.0.0.1:1"`)
    ],
    [
      { redis: "redis://:S3%zzCRET@cache.internal" },
      badRedis(`"…@cache.internal"`)
    ],
    [
      { redis: "redis:/cache.internal:6379" },
      badRedis(`"redis:/cache.internal:6379"`)
    ],
    [
      { client: { on: () => {}, ping: () => {} } as unknown as Redis },
      `${name}: client must be an ioredis client (new Redis(...)), got object`
    ],
    [
      { client: {} as unknown as Redis },
      `${name}: client must be an ioredis client (new Redis(...)), got object`
    ],
    // What a rejected value may hold is not kept: neither in the message nor in the error's `value`. Any option
    // may be given a connection string or an object with a password.
    [
      { keyPrefix: { password: "S3CRET" } as unknown as string },
      `${name}: keyPrefix must be a string, got object`
    ],
    // A connection string given as the options themselves.
    [
      "redis://:S3CRET@cache.internal:6379/0" as unknown as Options,
      `${name}: options must be an object, got "…@cache.internal:6379/0"`
    ],
    [
      { client: "redis://:S3CRET@cache.internal" as unknown as Redis },
      `${name}: client must be an ioredis client (new Redis(...)), got "…@cache.internal"`
    ],
    [
      { client: { host: "cache.internal", password: "S3CRET" } as unknown as Redis },
      `${name}: client must be an ioredis client (new Redis(...)), got object`
    ],
    [
      { redis: ["redis://:S3CRET@cache.internal"] as unknown as string },
      badRedis(`object`)
    ],
    [
      { redis: "redis://u:pw#S3CRET@cache.internal:63 79" },
      badRedis(`"…"`)
    ],
    [
      { redis: "redis://default:/S3CRET@cache.internal:6379 x" },
      badRedis(`"…"`)
    ],
    [
      { redis: "redis://default:1234#S3CRET@cache.internal:6379 x" },
      badRedis(`"…"`)
    ],
    [
      { redis: "redis://u:pw?S3CRET@cache.internal/?db=1 x" },
      badRedis(`"…"`)
    ],
    // An "@" in the query is not userinfo: the host still shows, the query not at all.
    [
      { redis: "redis://:pw@cache.internal/?sentinelPassword=S3@CRET x" },
      badRedis(`"…@cache.internal/?…"`)
    ],
    [
      { redis: "redis://cache.internal/?password=S3CRET x" },
      badRedis(`"redis://cache.internal/?…"`)
    ],
    [
      { timeout: "100000 days" },
      `${name}: timeout must be at most 24 days (Node's longest timer), got "100000 days"`
    ]
  ] as Array<[unknown, string]> as Array<[Options, string]>
}
