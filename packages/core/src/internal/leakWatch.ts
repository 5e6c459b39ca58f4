/**
 * Leak watch: logs, once per loan, every connection lent for longer than `leakDetectionThreshold`, naming
 * the fiber that borrowed it and the span it was borrowed in.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Engine } from "./engine.js"
import type { ResolvedOptions } from "./options.js"
import type { BorrowerNote } from "./record.js"

/** Reports the loans past the threshold, then sleeps until the next loan is due. */
export const leakWatch = <A>(options: ResolvedOptions, engine: Engine<A>): Effect.Effect<void> => {
  const threshold = Duration.toMillis(options.leakDetectionThreshold)
  const sweep: Effect.Effect<void> = Effect.suspend(() => {
    const now = engine.hooks.now()
    let next = now + threshold
    const leaks: Array<BorrowerNote> = []
    // a loan's note: the connection's record with exclusive lending, the loan's own with shared lending
    const look = (note: BorrowerNote) => {
      if (note.lentAt === undefined || note.leakReported) return
      const due = note.lentAt + threshold
      if (due <= now) {
        note.leakReported = true
        leaks.push(note)
      } else {
        next = Math.min(next, due)
      }
    }
    for (const record of engine.records.values()) {
      if (record.state !== "in-use") continue
      if (record.holders === undefined) look(record)
      else for (const loan of record.holders) look(loan)
    }
    return Effect.forEach(leaks, (record) =>
      Effect.logWarning(
        `connection ${record.id} held for more than ${Duration.format(options.leakDetectionThreshold)}: a possible leak`
      ).pipe(
        Effect.annotateLogs({
          pool: options.name,
          connectionId: record.id,
          borrower: record.borrower?.fiber ?? "unknown",
          borrowedInSpan: record.borrower?.span ?? "none"
        })
      ), { discard: true }).pipe(
        Effect.andThen(Effect.sleep(Duration.millis(Math.max(1, next - now)))),
        Effect.andThen(sweep)
      )
  })
  return sweep
}
