// A timeout on the live clock that costs one fiber, not the two of `Effect.timeout`.

import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import { type Cell, Nesting } from "./nesting.js"

/**
 * Runs `f` after the I/O that is ready now has been read: `setImmediate` on
 * Node (its check phase follows the poll phase), a zero timer elsewhere.
 */
/** @internal */
export const afterPendingIo: (f: () => void) => { readonly cancel: () => void } = (() => {
  const host = globalThis as {
    setImmediate?: (f: () => void) => unknown
    clearImmediate?: (handle: unknown) => void
  }
  if (typeof host.setImmediate === "function" && typeof host.clearImmediate === "function") {
    const set = host.setImmediate, clear = host.clearImmediate
    return (f) => {
      const handle = set(f)
      return { cancel: () => clear(handle) }
    }
  }
  return (f) => {
    const handle = setTimeout(f, 0)
    return { cancel: () => clearTimeout(handle) }
  }
})()

/**
 * The longest delay a native timer takes (about 24.8 days): Node fires a
 * longer one after 1 ms. A longer wait never ends, as on Effect's own clock.
 *
 * @internal
 */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * `setTimeout(f, millis)`, or no timer at all past `MAX_TIMER_MILLIS` (as
 * Effect's clock schedules such a sleep): clearing `undefined` is a no-op.
 *
 * @internal
 */
export const setTimer = (f: () => void, millis: number): ReturnType<typeof setTimeout> | undefined =>
  millis > MAX_TIMER_MILLIS ? undefined : setTimeout(f, millis)

/** The clock `fiber` runs on: the live one, or a `TestClock`. */
/** @internal */
export const clockOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Clock.Clock =>
  Context.get(fiber.currentDefaultServices, Clock.Clock)

/** The live `Clock`, as every fiber without a `TestClock` (or another clock of its own) has it. */
/** @internal */
export const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/**
 * Starts `effect` at once, on this stack, on a fiber of its own with
 * `fiber`'s context, fiber refs and runtime flags. Not `fiber`'s child (no
 * message to it, no entry in its children, no turn of the scheduler first):
 * whoever starts it interrupts it on every path that would leave it behind.
 *
 * @internal
 */
export const startBeside = <A, E>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  effect: Effect.Effect<A, E, unknown>
): Fiber.RuntimeFiber<A, E> =>
  // (`getFiberRefs` records the fiber's current runtime flags in its refs.)
  startWith(fiber.getFiberRefs(), fiber.currentContext, effect)

/**
 * Starts `effect` at once, on this stack, on a fiber of its own with these
 * fiber refs (and the runtime flags recorded in them) and this context: as
 * `startBeside`, with what a fiber had at an earlier moment.
 *
 * @internal
 */
export const startWith = <A, E>(
  fiberRefs: FiberRefs.FiberRefs,
  context: Context.Context<never>,
  effect: Effect.Effect<A, E, unknown>
): Fiber.RuntimeFiber<A, E> =>
  Runtime.runFork(
    Runtime.make({
      context,
      fiberRefs,
      runtimeFlags: FiberRefs.getOrDefault(fiberRefs, FiberRef.currentRuntimeFlags)
    }),
    effect as Effect.Effect<A, E>
  )

/**
 * Bounds `effect` (the send of a client that reads no `AttemptTimeout`, a
 * failed attempt's drain) by `millis` on `fiber`'s clock. `fiber` is the
 * fiber that runs the returned effect.
 *
 * On the live clock the send runs on a fiber of its own, started at once with
 * `fiber`'s context, fiber refs and runtime flags (not its child: it is never
 * left running, as the interruption below waits for it), and one native timer
 * interrupts it (every platform client aborts its request on interruption):
 * `Effect.timeoutFail` forks a second fiber for its sleep, races the two and
 * joins the winner's fiber refs, which cost about as much as the rest of the
 * retry together. The interruption waits for the poll phase that follows the
 * timer (`setImmediate`), as the direct transport's abort does: after a stall
 * of the event loop Node runs expired timers before it reads the I/O that
 * arrived meanwhile, and an answer already there must win. On any other clock
 * (`TestClock`) it is exact on that clock: `Effect.timeoutFail` for a drain
 * (no `nesting` cell), and for an attempt's send a race with `Effect.sleep`
 * that a retrying client inside which takes the call over calls off.
 */
/** @internal */
export const withinTimeout = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  millis: number,
  onTimeout: () => Cause.TimeoutException,
  nesting?: Cell
): Effect.Effect<A, E | Cause.TimeoutException, R> => {
  if (clockOf(fiber) !== liveClock) {
    if (nesting === undefined) return Effect.timeoutFail(effect, { duration: Duration.millis(millis), onTimeout })
    // A retrying client inside that takes the call over (nesting.ts) runs under its own limits, not this timeout.
    return Effect.raceFirst(
      Effect.provideService(effect, Nesting, nesting),
      Effect.flatMap(
        Effect.sleep(Duration.millis(millis)),
        () => nesting.claimed ? Effect.never : Effect.fail(onTimeout())
      )
    )
  }
  return Effect.async<A, E | Cause.TimeoutException>((resume) => {
    let timedOut = false
    let late: { readonly cancel: () => void } | undefined
    const timer = setTimer(() => {
      late = afterPendingIo(() => {
        if (nesting?.claimed === true) return
        timedOut = true
        child.unsafeInterruptAsFork(child.id())
      })
    }, Math.max(1, Math.ceil(millis)))
    // The send starts here, on this stack, with the caller's context, fiber refs and runtime flags (so it is as
    // interruptible as the caller), and runs until its first wait: `Effect.fork` would first queue it on the scheduler,
    // and tell the caller's fiber to record it as a child. It ends with the send's exit as its value: a failed send is
    // not a fiber's unhandled error to log.
    const child = startWith(
      fiber.getFiberRefs(),
      nesting === undefined ? fiber.currentContext : Context.add(fiber.currentContext, Nesting, nesting),
      // Only the send is interruptible: once it has ended, its exit is kept whatever interrupt comes next (the
      // fiber may yield to the scheduler between any two steps).
      Effect.uninterruptibleMask((restore) => Effect.exit(restore(effect as Effect.Effect<A, E>)))
    )
    child.addObserver((exit) => {
      clearTimeout(timer)
      late?.cancel()
      const outcome: Exit.Exit<A, E> = Exit.isSuccess(exit) ? exit.value : Exit.failCause(exit.cause)
      resume(
        timedOut && Exit.isFailure(outcome) && Cause.isInterruptedOnly(outcome.cause) ?
          Effect.fail(onTimeout()) :
          outcome
      )
    })
    // Interrupted from outside: stop the timer, interrupt the send and wait for it to end.
    return Effect.zipRight(
      Effect.sync(() => {
        clearTimeout(timer)
        late?.cancel()
      }),
      Fiber.interrupt(child)
    )
  })
}
