/**
 * Maintenance: the health tick the maintenance fiber runs every `healthCheckInterval`. It retires stale and
 * unhealthy idle connections, checks the others (taken off the idle stack, so no borrower gets one
 * mid-check), then opens up to `minConnections` again (after a failed open, once its pause has passed).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import { ConnectionError } from "../PoolError.js"
import type { Checks } from "./checks.js"
import * as edge from "./edge/effect.js"
import type { Engine, Restore } from "./engine.js"
import { isConnectionError, type Opener } from "./opener.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"
import * as Retire from "./retire.js"

export class Maintenance<A> {
  constructor(
    private readonly options: ResolvedOptions,
    private readonly engine: Engine<A>,
    private readonly checks: Checks<A, any>,
    private readonly opener: Opener<A>
  ) {}

  /** Retires the idle connections the retire decision calls due at a tick; says how many. */
  readonly cleanUpStale: Effect.Effect<number> = Effect.suspend(() =>
    Retire.idleInTurn(this.engine, this.engine.idle.slice(), "tick")
  )

  /**
   * Checks one connection taken off the idle stack. Runs uninterruptibly but for the check itself
   * (`restore`), so the connection always ends its check: delivered, or retired.
   */
  private checkOne(record: ConnectionRecord<A>, restore: Restore): Effect.Effect<void> {
    return Effect.flatMap(Effect.exit(restore(this.checks.check(record))), (exit) => {
      if (Exit.isSuccess(exit)) {
        this.checks.passed(record)
        return this.engine.endCheck(record, "return")
      }
      // Cut short: the maintenance fiber is interrupted only when the pool closes, and a connection in the
      // middle of a check is in an unknown state.
      if (edge.isInterruptedOnly(exit.cause)) return this.engine.endCheck(record, "shutdown")
      this.checks.failed(record)
      const failure = Cause.squash(exit.cause)
      const error = isConnectionError(failure)
        ? failure
        : new ConnectionError({
          reason: "CheckFailed",
          pool: this.options.name,
          connectionId: record.id,
          cause: failure
        })
      return Effect.logWarning("health check failed", error).pipe(
        Effect.annotateLogs({ pool: this.options.name, connectionId: record.id, healthScore: record.healthScore }),
        Effect.andThen(this.engine.endCheck(record, "return"))
      )
    })
  }

  /**
   * Takes the idle connections off the idle stack and checks them; none is left stranded mid-check. The checks
   * run in fibers of their own that the tick's interruption (the pool closing) reaches at once: each check is
   * interruptible, and the rest of each fiber, which ends its connection's check, is not. A check whose fiber
   * never started is ended here. (The waiting is interruptible itself: Effect 4 does not pass an interruption
   * on to the children of a fiber in an uninterruptible region, where Effect 3's timeouts happened to.)
   */
  private readonly checkIdle: Effect.Effect<void> = Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      const taken = this.engine.takeIdleForCheck()
      return restore(
        Effect.forEach(
          taken,
          (record) => Effect.uninterruptibleMask((restoreCheck) => this.checkOne(record, restoreCheck)),
          { concurrency: "unbounded", discard: true }
        )
      ).pipe(
        // every tick: `endCheck` leaves a record alone unless it is still being checked (a check cut short, or
        // one whose fiber never started)
        Effect.ensuring(Effect.forEach(taken, (record) => this.engine.endCheck(record, "shutdown"), {
          discard: true
        }))
      )
    })
  )

  /** One health tick. */
  get tick(): Effect.Effect<void> {
    return this.cleanUpStale.pipe(
      Effect.tap((retired) =>
        retired > 0 ? Effect.logDebug(`health tick retired ${retired} connection(s)`) : Effect.void
      ),
      Effect.andThen(this.checkIdle),
      // towards minConnections; after a failed open, not before its pause has passed (reconnect pacing)
      Effect.andThen(Effect.sync(() => this.opener.openIfNeeded())),
      edge.catchAllCause((cause) => Effect.logError("health tick failed", cause)),
      Effect.annotateLogs({ pool: this.options.name }),
      Effect.withSpan("connection-pool.health-tick", { root: true, attributes: { "pool.name": this.options.name } })
    )
  }

  /** The maintenance fiber's work: a health tick every `healthCheckInterval`, the first one interval in. */
  get fiber(): Effect.Effect<void> {
    return Effect.asVoid(Effect.schedule(this.tick, Schedule.spaced(this.options.healthCheckInterval)))
  }
}
