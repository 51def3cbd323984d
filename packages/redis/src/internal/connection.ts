import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"

/**
 * The Redis connection of a store, as a scoped resource, and where it points
 * (`host:port`, never a password) for the store's log lines.
 *
 * The store's own connection has no offline queue: a command while the
 * connection is down fails at once and the store decides locally, instead of
 * queueing work for a server that may not come back soon. ioredis reports
 * every failed (re)connection as an "error" event, and prints those nobody
 * listens to: the store's own warning says it once instead. A client passed
 * in is the caller's: it is neither quit nor disconnected.
 *
 * @internal
 */
export const connect = (
  options: { readonly client?: Redis | undefined; readonly redis?: string | RedisOptions | undefined },
  connectionName: string,
  timeoutMillis: number
): Effect.Effect<{ readonly client: Redis; readonly where: string }, never, Scope.Scope> => {
  const ignore = () => {}
  const owned = options.client === undefined
  return Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        let client = options.client
        if (client === undefined) {
          const redis = options.redis ?? "redis://127.0.0.1:6379"
          const settings: RedisOptions = { enableOfflineQueue: false, connectionName }
          client = typeof redis === "string" ? new Redis(redis, settings) : new Redis({ ...settings, ...redis })
        }
        client.on("error", ignore)
        return client
      }),
      (client) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer)
              if (owned) client.disconnect()
              client.off("error", ignore)
              resolve()
            }
            // QUIT lets Redis close the connection after the last answer; without one in time, it is closed here.
            const timer = setTimeout(done, timeoutMillis)
            if (owned && client.status === "ready") client.quit().then(done, done)
            else done()
          })
        )
    ),
    (client) => ({ client, where: `${client.options.host ?? "127.0.0.1"}:${client.options.port ?? 6379}` })
  )
}

/**
 * An option's value as a store's error shows it: strings quoted, plain values
 * as they are, anything else by its type only (an object may hold a password).
 *
 * @internal
 */
export const describeOption = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean" || value === undefined || value === null) {
    return String(value)
  }
  return typeof value
}

/**
 * What is wrong with the shape of `options`, if anything: not an object, or a key that is not one of `known` (a
 * misspelt option is an error, not a default). `name` says whose options they are, for the message; `prefix` is
 * the field's path.
 *
 * @internal
 */
export const shapeProblem = (
  options: unknown,
  known: ReadonlyArray<string>,
  name: string,
  prefix = ""
): { readonly field: string; readonly value: unknown; readonly expected: string } | undefined => {
  if (typeof options !== "object" || options === null) {
    return { field: prefix === "" ? "options" : prefix.slice(0, -1), value: options, expected: "an object" }
  }
  const key = Object.keys(options).find((key) => !known.includes(key))
  // The value of a misspelt key is not shown: it may be a misspelt `redis` URL, password and all.
  return key === undefined ? undefined : {
    field: `${prefix}${key}`,
    value: "…",
    expected: `an option of ${name} (${known.join(", ")})`
  }
}

/**
 * A `redis` string as an error may show it: without what comes before its last `@` (a user and a password, or a
 * token), which only a URL that parses could tell apart.
 */
const shownRedis = (redis: string): string => {
  const scheme = /^\s*[a-z][a-z\d+.-]*:\/\//i.exec(redis)?.[0] ?? ""
  // A query or fragment may hold a password too (`redis://host/?password=...`): dropped, and marked.
  const cut = (text: string) => {
    const query = text.search(/[?#]/)
    return query < 0 ? text : `${text.slice(0, query)}?…`
  }
  if (!redis.includes("@")) return cut(redis)
  // The authority ends at the first "/", "\\", "?" or "#": the userinfo is what comes before its last "@". An "@"
  // only after it leaves the userinfo's end unknown (a password with a "/" or "?" in it): nothing is shown then.
  const rest = redis.slice(scheme.length)
  const end = rest.search(/[/\\?#]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  const userinfoEnd = authority.lastIndexOf("@")
  if (userinfoEnd < 0) return "…"
  const after = cut(end < 0 ? "" : rest.slice(end))
  return `…@${authority.slice(userinfoEnd + 1)}${after.includes("@") ? "/…" : after}`
}

/** An object given where a client or a connection string goes, as the error keeps it: empty (a password may be in it). */
const HIDDEN_OBJECT: object = Object.freeze({})

/**
 * A rejected value as a store's error keeps it: a string as `shownRedis` (a
 * connection string may be given where any option goes), an object emptied.
 *
 * @internal
 */
export const shownValue = (value: unknown): unknown =>
  typeof value === "string" ? shownRedis(value) : typeof value === "object" && value !== null ? HIDDEN_OBJECT : value

/**
 * What is wrong with the `redis` and `client` options, if anything: `redis` is a string ioredis reads (a
 * `redis://` or `rediss://` URL that parses, or `host:port`, a port, a socket path) or ioredis' options object;
 * `client` is an ioredis client (from this package's copy of ioredis or another). Checked where the options are, so
 * that a bad one is the store's typed error rather than ioredis' throw (whose `input` holds the password) or a
 * silent connection to localhost.
 *
 * @internal
 */
export const connectionProblem = (
  options: { readonly client?: unknown; readonly redis?: unknown }
): { readonly field: string; readonly value: unknown; readonly expected: string } | undefined => {
  const { client, redis } = options
  if (client !== undefined && !isIoredis(client)) {
    return { field: "client", value: shownValue(client), expected: "an ioredis client (new Redis(...))" }
  }
  if (redis === undefined || (typeof redis === "object" && redis !== null && !Array.isArray(redis))) return undefined
  const expected = "a redis:// or rediss:// URL, host:port, a socket path, or ioredis options"
  if (typeof redis !== "string" || redis.trim() === "") return { field: "redis", value: shownValue(redis), expected }
  // ioredis reads a port alone as such; a string that starts `redis://` or `rediss://` as that URL, and any other
  // as the URL it is after `redis://` (throwing, password in hand, when it does not parse): the same rule here.
  if (/^\d+$/.test(redis)) return undefined
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(redis)) return { field: "redis", value: shownRedis(redis), expected }
  const full = /^rediss?:\/\//i.test(redis) ? redis : `redis://${redis}`
  // Another scheme (`http://host`), or `redis:/host`: read after `redis://`, a host named after the scheme.
  if (full !== redis && /^[a-z][a-z\d+.-]*:\//i.test(redis)) {
    return { field: "redis", value: shownRedis(redis), expected }
  }
  try {
    const url = new URL(full)
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    return { field: "redis", value: shownRedis(redis), expected }
  }
  return undefined
}

/** An ioredis client, from this package's copy of ioredis or another: the methods and state the stores use. */
const isIoredis = (client: unknown): boolean => {
  if (client instanceof Redis) return true
  if (typeof client !== "object" || client === null) return false
  const c = client as Record<string, unknown>
  return typeof c.status === "string" && typeof c.options === "object" && c.options !== null &&
    ["on", "once", "off", "evalsha", "eval", "ping", "quit", "disconnect"].every((method) =>
      typeof c[method] === "function"
    )
}

/**
 * The longest wait a Node timer takes (about 24.8 days): a longer one fires after 1 ms.
 *
 * @internal
 */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1
