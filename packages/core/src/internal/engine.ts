/**
 * The borrowing engine: where slots live, who waits for them and when new ones are opened.
 *
 * It is kept behind this narrow interface so that the rest of the pool (health records, stats, the
 * maintenance fiber) does not depend on how borrowing is done, and so the engine can be measured and
 * replaced on its own. This one is built on Effect's `Pool.makeWithTTL`.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pool from "effect/Pool"
import * as Scope from "effect/Scope"

export interface Engine<Slot> {
  /**
   * Waits for a slot and ties it to `scope`: closing `scope` gives it back. Interruptible while waiting;
   * interrupts itself (as `Pool.get` does) once the engine has shut down.
   */
  readonly take: (scope: Scope.Scope) => Effect.Effect<Slot>
  /** Closes `slot` as soon as nobody holds it, and opens a replacement if `min` requires one. */
  readonly retire: (slot: Slot) => Effect.Effect<void>
}

export interface EngineOptions<Slot, R> {
  /**
   * Opens one slot. It must not fail: a failed open is itself a slot (so the borrower who receives it
   * can retire it, which makes the engine try again for everyone still waiting).
   */
  readonly open: Effect.Effect<Slot, never, R | Scope.Scope>
  readonly min: number
  readonly max: number
  readonly timeToLive: Duration.Duration
  readonly timeToLiveStrategy: "usage" | "creation"
}

export const make = <Slot, R>(options: EngineOptions<Slot, R>): Effect.Effect<Engine<Slot>, never, Scope.Scope | R> =>
  Effect.map(
    Pool.makeWithTTL({
      acquire: options.open,
      min: options.min,
      max: options.max,
      timeToLive: options.timeToLive,
      timeToLiveStrategy: options.timeToLiveStrategy
    }),
    (pool): Engine<Slot> => ({
      take: (scope) => Scope.extend(Pool.get(pool), scope),
      retire: (slot) => pool.invalidate(slot)
    })
  )
