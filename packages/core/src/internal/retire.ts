/**
 * Retiring connections in bulk, each through the one retire decision (`Health.retireReason`, asked by
 * `Engine.retireIdleIfDue`): idle ones by turns at a tick or a sweep, those above a lowered maximum, every
 * idle one at shutdown, and a lent one under its borrower at a late shutdown.
 */
import * as Effect from "effect/Effect"
import { PoolClosedError } from "../PoolError.js"
import type { Engine } from "./engine.js"
import * as Health from "./health.js"
import type { ConnectionRecord } from "./record.js"

/**
 * Retires, one after another, those of `records` that are still idle and due at `occasion` when their turn
 * comes (a connection lent while an earlier one was closing is kept); says how many.
 */
export const idleInTurn = <A>(
  engine: Engine<A>,
  records: ReadonlyArray<ConnectionRecord<A>>,
  occasion: Health.Occasion
): Effect.Effect<number> => {
  let retired = 0
  return Effect.forEach(records, (record) =>
    Effect.suspend(() => {
      const closing = engine.retireIdleIfDue(record, occasion)
      if (closing === undefined) return Effect.void
      retired++
      return closing
    }), { discard: true }).pipe(Effect.map(() => retired))
}

/**
 * Changes the bounds. Idle connections above the new maximum are retired now, those that waited longest
 * first; lent ones when they come back (never taken from their borrowers). Returns the closes to run.
 */
export const resize = <A>(
  engine: Engine<A>,
  maxConnections: number,
  minConnections: number
): Array<Effect.Effect<void>> => {
  engine.maxConnections = maxConnections
  engine.minConnections = minConnections
  const closes: Array<Effect.Effect<void>> = []
  // the bottom of the idle stack has waited longest; each retirement lowers `liveCount`
  for (const record of engine.idle.slice()) {
    if (engine.liveCount <= maxConnections) break
    const closing = engine.retireIdleIfDue(record, "resize")
    if (closing !== undefined) closes.push(closing)
  }
  return closes
}

/**
 * Stops lending: fails every waiter with `PoolClosedError` and retires the idle connections (lent ones
 * are retired as they come back).
 */
export const stopLending = <A>(engine: Engine<A>): Effect.Effect<void> => {
  engine.isClosed = true
  engine.failWaiters(new PoolClosedError({ reason: "ClosedWhileWaiting", pool: engine.options.name }))
  const closes = engine.idle.slice().flatMap((record) => engine.retireIdleIfDue(record, "shutdown") ?? [])
  return Effect.all(closes, { discard: true })
}

/** Retires a lent connection under its borrower (a late shutdown); its return then finds it retired. */
export const underBorrower = <A>(engine: Engine<A>, record: ConnectionRecord<A>): Effect.Effect<void> =>
  engine.close(record, Health.retireReason(record, "shutdown", engine, engine.limits))
