import * as CircuitBreaker from "@http-retry/core/CircuitBreaker"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { createHash, randomUUID } from "node:crypto"
import type * as Api from "../RedisCircuitBreaker.js"
import { connect, connectionProblem, describeOption, MAX_TIMER_MILLIS, shapeProblem, shownValue } from "./connection.js"

/** Public as `RedisCircuitBreaker.RedisCircuitBreakerError`: left unmarked so its declaration stays in the published types. */
export class RedisCircuitBreakerError extends Data.TaggedError("RedisCircuitBreakerError")<{
  /** The option or field, by its path. */
  readonly field: string
  /** The value given (a URL's password is never kept). */
  readonly value: unknown
  /** What it must be. */
  readonly expected: string
}> {
  constructor(args: { readonly field: string; readonly value: unknown; readonly expected: string }) {
    // Kept as shown: a connection string, password and all, may be given where any option goes.
    super({ ...args, value: shownValue(args.value) })
  }
  /** The field, the value and what is wrong, in one line. */
  override get message(): string {
    return `RedisCircuitBreaker: ${this.field} must be ${this.expected}, got ${describeOption(this.value)}`
  }
}

/** @internal */
export const defaults = {
  keyPrefix: "http-retry:breaker:",
  syncInterval: Duration.millis(100),
  probeLease: Duration.seconds(3),
  idleExpiry: Duration.minutes(1),
  timeout: Duration.seconds(1),
  connectTimeout: Duration.seconds(1)
} as const

/** @internal */
export interface Resolved {
  readonly keyPrefix: string
  readonly breaker: CircuitBreaker.Settings
  readonly syncInterval: Duration.Duration
  readonly probeLease: Duration.Duration
  readonly idleExpiry: Duration.Duration
  readonly timeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
}

const positiveDuration = (
  field: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Either.Either<Duration.Duration, RedisCircuitBreakerError> => {
  if (input === undefined) return Either.right(fallback)
  const decoded = Duration.decodeUnknown(input)
  if (Option.isNone(decoded) || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) < 1) {
    return Either.left(
      new RedisCircuitBreakerError({ field, value: input, expected: "a finite duration of 1 ms or more" })
    )
  }
  if (Duration.toMillis(decoded.value) > MAX_TIMER_MILLIS) {
    // Node fires a longer timer after 1 ms.
    return Either.left(
      new RedisCircuitBreakerError({ field, value: input, expected: "at most 24 days (Node's longest timer)" })
    )
  }
  return Either.right(decoded.value)
}

/**
 * The core's reason for a bad `breaker` field, as what this error's message says the field must be: "expected X"
 * and "must be X" give X, "must not be X" gives "not X", and any other reason is given whole.
 */
const asExpected = (reason: string): string => {
  const match = /^(?:expected|must be) (.*)$/s.exec(reason)
  if (match !== null) return match[1]
  const negated = /^must not be (.*)$/s.exec(reason)
  return negated !== null ? `not ${negated[1]}` : `valid (${reason})`
}

const OPTION_KEYS = [
  "redis",
  "client",
  "keyPrefix",
  "breaker",
  "syncInterval",
  "probeLease",
  "idleExpiry",
  "timeout",
  "connectTimeout"
]

/** @internal */
export const validate = (options: Api.Options = {}): Either.Either<Resolved, RedisCircuitBreakerError> =>
  Either.gen(function*() {
    const shape = shapeProblem(options, OPTION_KEYS, "RedisCircuitBreaker")
    if (shape !== undefined) return yield* Either.left(new RedisCircuitBreakerError(shape))
    const breaker = yield* Either.mapLeft(
      CircuitBreaker.validate(options.breaker),
      (error) =>
        new RedisCircuitBreakerError({
          field: error.field,
          value: error.value,
          expected: asExpected(error.reason)
        })
    )
    const keyPrefix = options.keyPrefix ?? defaults.keyPrefix
    if (typeof keyPrefix !== "string") {
      return yield* Either.left(
        new RedisCircuitBreakerError({ field: "keyPrefix", value: keyPrefix, expected: "a string" })
      )
    }
    const connection = connectionProblem(options)
    if (connection !== undefined) return yield* Either.left(new RedisCircuitBreakerError(connection))
    if (options.client !== undefined && options.redis !== undefined) {
      return yield* Either.left(
        new RedisCircuitBreakerError({
          field: "client",
          value: "a client and redis options",
          expected: "given alone: the layer uses your client as it is, or makes its own from `redis`"
        })
      )
    }
    const syncInterval = yield* positiveDuration("syncInterval", options.syncInterval, defaults.syncInterval)
    const probeLease = yield* positiveDuration("probeLease", options.probeLease, defaults.probeLease)
    if (Duration.toMillis(probeLease) < 2 * Duration.toMillis(syncInterval)) {
      return yield* Either.left(
        new RedisCircuitBreakerError({
          field: "probeLease",
          value: options.probeLease ?? `${Duration.format(probeLease)} (the default)`,
          expected: `at least twice syncInterval (${Duration.format(syncInterval)}), so that a probe renews it in time`
        })
      )
    }
    const idleExpiry = yield* positiveDuration("idleExpiry", options.idleExpiry, defaults.idleExpiry)
    const timeout = yield* positiveDuration("timeout", options.timeout, defaults.timeout)
    const connectTimeout = yield* positiveDuration("connectTimeout", options.connectTimeout, defaults.connectTimeout)
    return { keyPrefix, breaker, syncInterval, probeLease, idleExpiry, timeout, connectTimeout }
  })

/**
 * One call per sync for every origin this process knows: writes what changed here, claims, renews or releases a probe
 * slot, and reads back the shared opening. Times are Redis' (`TIME`), sent and answered relative to it, so that the
 * processes' clocks need not agree.
 *
 * An opening (a hash: id, until, at, by) is written when there is none or it ends later than the one there, and
 * expires `margin` after its end. A close deletes it when it is the opening the probe was sent under, or when its end
 * has passed (an opening written meanwhile by another process and now half-open too); a newer opening still running
 * is kept. A slot is `SET NX PX lease`, one of `slots` per origin, its value the process' token.
 *
 * KEYS: per origin, the opening's key and then its slot keys. ARGV: slots, margin, lease, token, then 6 per origin:
 * write ("open", "close" or ""), the opening's time left and age (ms), what opened it (JSON), its id, and the slot
 * action ("claim", "renew", "release" or "").
 *
 * Answers per origin: id ("" when none), time left, age, what opened it, its end in Redis' time, the slot held (0 when
 * none), and the slot's time left.
 *
 * @internal
 */
export const script = `local function finite(text)
  local n = tonumber(text)
  return n ~= nil and n == n and n ~= math.huge and n ~= -math.huge
end
local slots = tonumber(ARGV[1])
local margin = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local token = ARGV[4]
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per = 1 + slots
local out = {}
for i = 0, #KEYS / per - 1 do
  local key = KEYS[i * per + 1]
  local a = 4 + i * 6
  local write = ARGV[a + 1]
  -- A key that is not an opening this store wrote (another type, times that are not numbers) is no opening: deleted,
  -- so that one stray key does not fail the whole call, and with it every origin's sharing.
  local kind = redis.call("TYPE", key)["ok"]
  if kind ~= "none" then
    local times = kind == "hash" and redis.call("HMGET", key, "until", "at") or {}
    if kind ~= "hash" or not finite(times[1]) or not finite(times[2]) then redis.call("DEL", key) end
  end
  if write == "open" then
    local ends = now + tonumber(ARGV[a + 2])
    local current = redis.call("HGET", key, "until")
    if (not current) or tonumber(current) < ends then
      redis.call("HSET", key, "id", ARGV[a + 5], "until", ends, "at", now - tonumber(ARGV[a + 3]), "by", ARGV[a + 4])
      redis.call("PEXPIRE", key, ends - now + margin)
    end
  elseif write == "close" then
    local current = redis.call("HMGET", key, "id", "until")
    if current[1] and (current[1] == ARGV[a + 5] or tonumber(current[2]) <= now) then
      redis.call("DEL", key)
    end
  end
  local action = ARGV[a + 6]
  local held = 0
  for s = 1, slots do
    local slot = KEYS[i * per + 1 + s]
    if redis.pcall("GET", slot) == token then
      if action == "release" then
        redis.call("DEL", slot)
      else
        held = s
        if action == "renew" then redis.call("PEXPIRE", slot, lease) end
      end
    end
  end
  if held == 0 and action == "claim" then
    for s = 1, slots do
      if redis.call("SET", KEYS[i * per + 1 + s], token, "NX", "PX", lease) then
        held = s
        break
      end
    end
  end
  local slotLeft = 0
  if held > 0 then slotLeft = redis.call("PTTL", KEYS[i * per + 1 + held]) end
  local r = redis.call("HMGET", key, "id", "until", "at", "by")
  if r[1] then
    if action == "renew" and held > 0 and redis.call("PTTL", key) < lease then redis.call("PEXPIRE", key, lease) end
    out[i + 1] = { r[1], tonumber(r[2]) - now, now - tonumber(r[3]), r[4], r[2], held, slotLeft }
  else
    out[i + 1] = { "", 0, 0, "", "", held, slotLeft }
  end
end
return out
`

const scriptSha = createHash("sha1").update(script).digest("hex")

const PASS: CircuitBreaker.Admission = { _tag: "Pass" }

/** A probe of this store: it knows the opening it was sent under. */
class Probe {
  readonly _tag = "Probe"
  constructor(readonly transition: CircuitBreaker.Transition | undefined, readonly openingId: string) {}
}

type Write = "open" | "close"

interface Entry {
  /** Counts while closed: the core's breaker, one per origin, made again when the origin closes. */
  local: CircuitBreaker.Service | undefined
  opening: CircuitBreaker.Opening | undefined
  openingId: string
  /** The opening is the one in Redis (written there, or read from there). */
  shared: boolean
  /** Its end in Redis' time, as last read: a change is an extension. */
  sharedUntil: string
  /** Probes in flight here, under `openingId`. */
  probes: number
  /** A call was refused under this opening: this process wants to probe. */
  wanted: boolean
  /** The Open -> HalfOpen transition was reported for this opening. */
  halfOpenReported: boolean
  /** The probe slot held in Redis, valid until this time (on Effect's Clock); 0: none. */
  slotUntil: number
  releaseSlot: boolean
  /** What to write at the next sync; for a close, the id of the opening that the probe closed. */
  write: Write | undefined
  closedId: string
  /** Bumped at every change made here: an answer to a sync sent before it is not applied over it. */
  epoch: number
  lastSeen: number
}

interface Sent {
  readonly origin: string
  readonly entry: Entry
  readonly epoch: number
  readonly write: Write | undefined
  readonly closedId: string
  readonly releasing: boolean
}

type Row = readonly [string, number, number, string, string, number, number]

const reasonOf = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n")[0]
  return String(error)
}

const decodeFailure = (text: string): CircuitBreaker.Failure => {
  try {
    const value = JSON.parse(text) as Record<string, unknown>
    if (value._tag === "Status" && typeof value.status === "number") return { _tag: "Status", status: value.status }
    if (value._tag === "Timeout") return { _tag: "Timeout" }
    if (value._tag === "Transport" && typeof value.kind === "string") {
      return { _tag: "Transport", kind: value.kind as "Unknown" }
    }
  } catch {
    // an opening written by something else: still an opening
  }
  return { _tag: "Transport", kind: "Unknown" }
}

const stateValue: Record<CircuitBreaker.State, number> = { Closed: 0, HalfOpen: 1, Open: 2 }

/** Polled while an origin was called in the last minute (or is not closed); forgotten after ten quiet minutes. */
const POLL_QUIET_MILLIS = 60_000
const FORGET_QUIET_MILLIS = 600_000

/** @internal */
export interface Store {
  readonly service: CircuitBreaker.Service
  /** One sync now (after the one in flight, if any), for tests. */
  readonly sync: Effect.Effect<void>
}

/** @internal */
export const makeStore = (
  options: Api.Options = {}
): Effect.Effect<Store, RedisCircuitBreakerError, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* validate(options)
    const settings = resolved.breaker
    const { keyPrefix } = resolved
    const slots = settings.halfOpenProbes
    const openForMillis = Duration.toMillis(settings.openFor)
    const intervalMillis = Duration.toMillis(resolved.syncInterval)
    const leaseMillis = Math.ceil(Duration.toMillis(resolved.probeLease))
    const marginMillis = Math.ceil(Duration.toMillis(resolved.idleExpiry))
    const timeoutMillis = Duration.toMillis(resolved.timeout)
    const token = randomUUID()
    let openings = 0

    const { client, where } = yield* connect(options, "http-retry-breaker", timeoutMillis)

    const wake = yield* Queue.sliding<void>(1)
    const entries = new Map<string, Entry>()
    const localBreaker = (): CircuitBreaker.Service => Effect.runSync(CircuitBreaker.make(settings))
    const entry = (origin: string, now: number): Entry => {
      let found = entries.get(origin)
      if (found === undefined) {
        found = {
          local: undefined,
          opening: undefined,
          openingId: "",
          shared: false,
          sharedUntil: "",
          probes: 0,
          wanted: false,
          halfOpenReported: false,
          slotUntil: 0,
          releaseSlot: false,
          write: undefined,
          closedId: "",
          epoch: 0,
          lastSeen: now
        }
        entries.set(origin, found)
        // A new origin is read at once: another process may have it open.
        wake.unsafeOffer(undefined)
      } else if (now - found.lastSeen > POLL_QUIET_MILLIS) {
        wake.unsafeOffer(undefined)
      }
      found.lastSeen = now
      return found
    }

    let healthy = true

    // A slot held is given back at the next sync, and no longer counted on here at once.
    const giveBackSlot = (e: Entry): void => {
      if (e.slotUntil > 0) e.releaseSlot = true
      e.slotUntil = 0
    }

    /** Leaves the state `e` was in (its slot given back), with `write` to tell Redis, and wakes the sync. */
    const leave = (e: Entry, write: "open" | "close"): void => {
      giveBackSlot(e)
      e.local = undefined
      e.shared = false
      e.sharedUntil = ""
      e.probes = 0
      e.wanted = false
      e.halfOpenReported = false
      e.write = write
      e.epoch++
      wake.unsafeOffer(undefined)
    }

    const open = (e: Entry, opening: CircuitBreaker.Opening): void => {
      leave(e, "open")
      e.opening = opening
      e.openingId = `${token}:${++openings}`
    }

    const close = (e: Entry): void => {
      leave(e, "close")
      e.closedId = e.openingId
      e.opening = undefined
      e.openingId = ""
    }

    const countClosed = (
      origin: string,
      e: Entry,
      outcome: CircuitBreaker.Outcome,
      now: number
    ): CircuitBreaker.Transition | undefined => {
      if (e.local === undefined) e.local = localBreaker()
      const transition = e.local.record(origin, PASS, outcome, now)
      if (transition === undefined || transition.to !== "Open" || transition.opening === undefined) return undefined
      open(e, transition.opening)
      return transition
    }

    const service: CircuitBreaker.Service = {
      settings,
      admit: (origin, now) => {
        const e = entry(origin, now)
        const opening = e.opening
        if (opening === undefined) return PASS
        if (now < opening.openUntil) {
          e.wanted = true
          return { _tag: "Reject", state: "Open", opening }
        }
        // Half-open. With Redis, a probe goes only on a slot claimed there; without, this process probes alone.
        const mayProbe = healthy ? e.slotUntil > now && e.probes < 1 : e.probes < settings.halfOpenProbes
        if (!mayProbe) {
          e.wanted = true
          return { _tag: "Reject", state: "HalfOpen", opening }
        }
        e.probes++
        let transition: CircuitBreaker.Transition | undefined
        if (!e.halfOpenReported) {
          e.halfOpenReported = true
          transition = { from: "Open", to: "HalfOpen", opening: undefined }
        }
        return new Probe(transition, e.openingId)
      },
      record: (origin, admission, outcome, now) => {
        if (outcome._tag === "Ignored") {
          service.release(origin, admission)
          return undefined
        }
        const e = entry(origin, now)
        if (admission instanceof Probe && admission.openingId === e.openingId && e.opening !== undefined) {
          e.probes = Math.max(0, e.probes - 1)
          if (outcome._tag === "Success") {
            close(e)
            return { from: "HalfOpen", to: "Closed", opening: undefined }
          }
          const opening: CircuitBreaker.Opening = {
            openedAt: now,
            openUntil: now + Math.max(openForMillis, outcome.retryAfterMillis ?? 0),
            failure: outcome.failure
          }
          open(e, opening)
          return { from: "HalfOpen", to: "Open", opening }
        }
        const opening = e.opening
        if (opening !== undefined) {
          // Sent before it opened: a success says nothing of now; a Retry-After it brings still holds.
          if (outcome._tag === "Failure" && outcome.retryAfterMillis !== undefined) {
            const until = now + outcome.retryAfterMillis
            if (until > opening.openUntil) {
              e.opening = { ...opening, openUntil: until }
              e.write = "open"
              e.epoch++
              wake.unsafeOffer(undefined)
            }
          }
          return undefined
        }
        return countClosed(origin, e, outcome, now)
      },
      release: (origin, admission) => {
        if (!(admission instanceof Probe)) return
        const e = entries.get(origin)
        if (e !== undefined && e.openingId === admission.openingId && e.probes > 0) e.probes--
      },
      status: (origin, now) => {
        const e = entries.get(origin)
        const opening = e?.opening
        if (e === undefined || opening === undefined) return { _tag: "Closed" }
        if (now < opening.openUntil) return { _tag: "Open", opening }
        return { _tag: "HalfOpen", opening, probes: e.probes }
      }
    }

    // --- Sync -----------------------------------------------------------------

    const down = (reason: string) =>
      Effect.suspend(() => {
        if (!healthy) return Effect.void
        healthy = false
        return Effect.logWarning(
          `http-retry breaker: Redis at ${where} is unreachable or slow (${reason}); ` +
            "each process's breaker decides alone until it answers again"
        )
      })
    const up = Effect.suspend(() => {
      if (healthy) return Effect.void
      healthy = true
      return Effect.logInfo(`http-retry breaker: Redis at ${where} answers again; the breaker is shared again`)
    })

    const runScript = (keys: Array<string>, args: Array<string | number>): Promise<unknown> =>
      client.evalsha(scriptSha, keys.length, ...keys, ...args).catch((error: unknown) =>
        error instanceof Error && error.message.startsWith("NOSCRIPT") ?
          client.eval(script, keys.length, ...keys, ...args) :
          Promise.reject(error)
      )

    const batch = (now: number, closing: boolean): Array<Sent> => {
      const sent: Array<Sent> = []
      for (const [origin, e] of entries) {
        const busy = e.opening !== undefined || e.write !== undefined || e.slotUntil > 0 || e.releaseSlot
        if (!busy && now - e.lastSeen > FORGET_QUIET_MILLIS) {
          entries.delete(origin)
          continue
        }
        if (!closing && !busy && now - e.lastSeen > POLL_QUIET_MILLIS) continue
        if (closing && !busy) continue
        sent.push({
          origin,
          entry: e,
          epoch: e.epoch,
          write: e.write,
          closedId: e.closedId,
          releasing: e.releaseSlot || (closing && e.slotUntil > 0)
        })
        e.write = undefined
        e.releaseSlot = false
      }
      return sent
    }

    const argsOf = (s: Sent, now: number, closing: boolean): Array<string | number> => {
      const e = s.entry
      const opening = e.opening
      let write = ""
      let left = 0
      let age = 0
      let by = ""
      let id = ""
      if (s.write === "open" && opening !== undefined && opening.openUntil > now) {
        write = "open"
        left = Math.ceil(opening.openUntil - now)
        age = Math.max(0, Math.floor(now - opening.openedAt))
        by = JSON.stringify(opening.failure)
        id = e.openingId
      } else if (s.write === "close") {
        write = "close"
        id = s.closedId
      }
      let action = ""
      if (s.releasing) action = "release"
      else if (!closing && opening !== undefined) {
        if (e.probes > 0 && e.slotUntil > 0) action = "renew"
        else if (e.wanted && e.slotUntil <= now && opening.openUntil - now <= intervalMillis) action = "claim"
      }
      return [write, left, age, by, id, action]
    }

    /** Puts back what a sync that failed was to write. */
    const restore = (sent: ReadonlyArray<Sent>) => {
      for (const s of sent) {
        if (s.entry.epoch === s.epoch && s.entry.write === undefined && s.write !== undefined) s.entry.write = s.write
        if (s.releasing) s.entry.releaseSlot = true
      }
    }

    const transition = (origin: string, from: CircuitBreaker.State, to: CircuitBreaker.State) =>
      Effect.zipRight(
        Metric.update(Metric.tagged(CircuitBreaker.metrics.state, "origin", origin), stateValue[to]),
        Metric.update(
          CircuitBreaker.metrics.transitions.pipe(
            Metric.tagged("origin", origin),
            Metric.tagged("from", from),
            Metric.tagged("to", to)
          ),
          1
        )
      )

    const apply = (sent: ReadonlyArray<Sent>, rows: ReadonlyArray<Row>, now: number) =>
      Effect.forEach(sent, (s, i) => {
        const e = s.entry
        const [id, left, age, by, until, held, slotLeft] = rows[i]
        if (e.epoch !== s.epoch) return Effect.void
        e.slotUntil = held > 0 ? now + Number(slotLeft) : 0
        const before: CircuitBreaker.State = e.opening === undefined ?
          "Closed" :
          now < e.opening.openUntil ?
          "Open" :
          "HalfOpen"
        if (id === "") {
          if (e.opening === undefined || !e.shared) return Effect.void
          if (now < e.opening.openUntil - intervalMillis) {
            // Gone while still open (by more than a sync, which this process' view of its end may lag): no probe can
            // have closed it (probes go once it ends), so Redis lost it (a restart, a flush). It stays open here, and
            // is written again at the next sync for the others.
            e.shared = false
            e.sharedUntil = ""
            if (e.write === undefined) e.write = "open"
            return Effect.void
          }
          // Closed by a probe elsewhere (or gone quiet past its expiry): closed here too, counting afresh.
          giveBackSlot(e)
          e.local = undefined
          e.opening = undefined
          e.openingId = ""
          e.shared = false
          e.sharedUntil = ""
          e.probes = 0
          e.wanted = false
          e.halfOpenReported = false
          e.epoch++
          return transition(s.origin, before, "Closed")
        }
        if (id === e.openingId && until === e.sharedUntil) return Effect.void
        const opening: CircuitBreaker.Opening = {
          openedAt: now - Number(age),
          openUntil: now + Number(left),
          failure: decodeFailure(by)
        }
        if (id === e.openingId) {
          // Ours, now in Redis (or extended there): its times stay as this process made them unless Redis' end is later.
          e.shared = true
          if (e.sharedUntil !== "" && e.opening !== undefined && opening.openUntil > e.opening.openUntil) {
            e.opening = { ...e.opening, openUntil: opening.openUntil }
          }
          e.sharedUntil = until
          return Effect.void
        }
        if (e.probes > 0 && e.opening !== undefined && now >= opening.openUntil) {
          // A probe of ours is out under an opening that Redis has replaced with one that is half-open too: it decides.
          return Effect.void
        }
        e.local = undefined
        e.opening = opening
        e.openingId = id
        e.shared = true
        e.sharedUntil = until
        e.probes = 0
        e.halfOpenReported = false
        e.epoch++
        const after: CircuitBreaker.State = now < opening.openUntil ? "Open" : "HalfOpen"
        return before === after ? Effect.void : transition(s.origin, before, after)
      }, { discard: true })

    let outstanding = false
    const sync = (closing: boolean) =>
      Effect.gen(function*() {
        // A sync that got no answer in time is still out: no other is sent over it (a stopped server would pile them up).
        if (outstanding) return
        const sentAt = yield* Clock.currentTimeMillis
        const sent = batch(sentAt, closing)
        if (sent.length === 0 && healthy) return
        const keys: Array<string> = []
        const args: Array<string | number> = [slots, marginMillis, leaseMillis, token]
        for (const s of sent) {
          keys.push(`${keyPrefix}open:${s.origin}`)
          for (let i = 1; i <= slots; i++) keys.push(`${keyPrefix}probe:${s.origin}:${i}`)
          args.push(...argsOf(s, sentAt, closing))
        }
        outstanding = true
        const promise = (sent.length === 0 ? client.ping() : runScript(keys, args)).finally(() => {
          outstanding = false
        }).then(
          (reply) => ({ _tag: "Answer", reply }) as const,
          (error: unknown) => {
            restore(sent)
            return { _tag: "Error", reason: reasonOf(error) } as const
          }
        )
        // Interruptible, so the timeout ends the wait in the scope's finalizer too (finalizers run uninterruptibly).
        const answer = yield* Effect.timeoutOption(
          Effect.interruptible(Effect.promise(() => promise)),
          resolved.timeout
        )
        if (Option.isNone(answer)) {
          // A late answer is not applied (its reads are old), but what it wrote stands: nothing to put back.
          return yield* down(`no answer within ${Duration.format(resolved.timeout)}`)
        }
        if (answer.value._tag === "Error") return yield* down(answer.value.reason)
        const reply = answer.value.reply
        if (sent.length === 0) return yield* up
        const rows = Array.isArray(reply) ? reply as Array<Row> : []
        if (rows.length !== sent.length) {
          restore(sent)
          return yield* down("an answer that is not the script's")
        }
        yield* up
        if (!closing) yield* apply(sent, rows, yield* Clock.currentTimeMillis)
      })

    const lock = yield* Effect.makeSemaphore(1)
    const tick = lock.withPermits(1)(Effect.catchAllCause(sync(false), (cause) => Effect.logDebug(cause)))

    yield* Effect.addFinalizer(() => lock.withPermits(1)(Effect.ignore(sync(true))))
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(Effect.timeoutOption(Queue.take(wake), resolved.syncInterval), tick)
      )
    )

    if (client.status !== "ready") {
      const ready = yield* Effect.async<boolean>((resume) => {
        const onReady = () => resume(Effect.succeed(true))
        client.once("ready", onReady)
        return Effect.sync(() => client.off("ready", onReady))
      }).pipe(Effect.timeoutTo({ duration: resolved.connectTimeout, onTimeout: () => false, onSuccess: () => true }))
      if (!ready) yield* down(`no connection within ${Duration.format(resolved.connectTimeout)}`)
    }
    return { service, sync: tick }
  })

/** @internal */
export const make = (
  options: Api.Options = {}
): Effect.Effect<CircuitBreaker.Service, RedisCircuitBreakerError, Scope.Scope> =>
  Effect.map(makeStore(options), (store) => store.service)

/** @internal */
export const layer = (
  options: Api.Options = {}
): Layer.Layer<CircuitBreaker.CircuitBreaker, RedisCircuitBreakerError> =>
  Layer.scoped(CircuitBreaker.CircuitBreaker, make(options))
