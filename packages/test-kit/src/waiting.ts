/**
 * Bounded waits for tests: `within` bounds an effect, `eventually` polls a condition. Both measure their bound in
 * real time, also under `TestClock` (where the test's own clock stands still until the test moves it), so the
 * same helpers serve tests of time rules and tests of live sockets and servers.
 */
import { Data, Effect } from "effect"
import * as Edge from "./internal/edge/effect.js"

export class Timeout extends Data.TaggedError("Timeout")<{ readonly what: string; readonly after: string }> {
  override get message(): string {
    return `waited ${this.after} for ${this.what}`
  }
}

/** Sleeps in real time, whatever clock the test runs with. */
const sleepLive = (duration: Edge.DurationInput): Effect.Effect<void> => Edge.live(Effect.sleep(duration))

/**
 * Bounds a wait: fails with `Timeout` naming what did not happen once `duration` has passed in real time, and
 * interrupts the wait (as `Effect.timeout` does, a wait that cannot be interrupted, such as a resource's acquire, is
 * waited for).
 */
export const within = (duration: Edge.DurationInput, what: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.raceFirst(
    self,
    // Interruptible even where the wait is not, so that a wait that ends in time does not then wait for the timer.
    Effect.interruptible(Effect.andThen(
      sleepLive(duration),
      Effect.fail(new Timeout({ what, after: Edge.formatDuration(duration) }))
    ))
  )

/** A condition to wait for: a plain test, or an effect that answers it (run once per look). */
export type Condition<E, R> =
  | Effect.Effect<boolean, E, R>
  | (() => boolean | Effect.Effect<boolean, E, R>)

/** Looks taken one scheduler turn apart before the wait falls back to polling every few milliseconds. */
const quickTurns = 200

/**
 * Waits until `condition` holds and fails with `Timeout` (naming `what`, or the condition's source) after
 * `deadline` of real time. It first yields to other fibers between looks, which is all a test under `TestClock`
 * needs for its forked fibers to run; then it polls every 5 ms, which lets sockets and servers make progress.
 */
export const eventually = <E = never, R = never>(
  condition: Condition<E, R>,
  what?: string,
  deadline: Edge.DurationInput = "5 seconds"
): Effect.Effect<void, E | Timeout, R> => {
  const look: Effect.Effect<boolean, E, R> = Effect.isEffect(condition) ? condition : Effect.suspend(() => {
    const verdict = condition()
    return typeof verdict === "boolean" ? Effect.succeed(verdict) : verdict
  })
  const wait = Effect.gen(function*() {
    for (let turn = 0; !(yield* look); turn++) {
      yield* turn < quickTurns ? Edge.yieldNow : sleepLive("5 millis")
    }
  }).pipe(within(deadline, what ?? `the condition ${condition.toString()}`))
  // A condition that already holds returns without yielding, as a plain check would.
  return Effect.flatMap(look, (holds) => holds ? Effect.void : wait)
}
