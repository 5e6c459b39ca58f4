/**
 * Leak watch: logs, once per loan, every connection lent for longer than `leakDetectionThreshold`, naming
 * the fiber that borrowed it and the span it was borrowed in.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Engine } from "./engine.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"

/** Reports the loans past the threshold, then sleeps until the next loan is due. */
export const leakWatch = <A>(options: ResolvedOptions, engine: Engine<A>): Effect.Effect<void> => {
  const threshold = Duration.toMillis(options.leakDetectionThreshold)
  const sweep: Effect.Effect<void> = Effect.suspend(() => {
    const now = engine.hooks.now()
    let next = now + threshold
    const leaks: Array<ConnectionRecord<A>> = []
    for (const record of engine.records.values()) {
      if (record.state !== "in-use" || record.lentAt === undefined || record.leakReported) continue
      const due = record.lentAt + threshold
      if (due <= now) {
        record.leakReported = true
        leaks.push(record)
      } else {
        next = Math.min(next, due)
      }
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
        Effect.zipRight(Effect.sleep(Duration.millis(Math.max(1, next - now)))),
        Effect.zipRight(sweep)
      )
  })
  return sweep
}
