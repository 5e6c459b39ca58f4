/**
 * Lifetimes: when a connection's life ends (`maxLifetime` less a random jitter, or a `"creation"`
 * `timeToLive`), and the sweep that retires idle connections past their lifetime or idle too long
 * (`idleTimeout`, a `"usage"` `timeToLive`). The retire decision itself is `Health.retireReason`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Engine } from "./engine.js"
import * as Health from "./health.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"
import * as Retire from "./retire.js"

/** The most a connection's lifetime is shortened at random: 2.5% of `maxLifetime`. */
const lifetimeJitter = 0.025

export class Lifetimes<A> {
  private readonly maxLifetimeMillis: number
  private readonly creationTimeToLiveMillis: number

  constructor(options: ResolvedOptions, private readonly engine: Engine<A>) {
    this.maxLifetimeMillis = Duration.toMillis(options.maxLifetime)
    this.creationTimeToLiveMillis = options.timeToLiveStrategy === "creation"
      ? Duration.toMillis(options.timeToLive)
      : Number.POSITIVE_INFINITY
  }

  /** Whether any connection can end its life or idle out: otherwise no sweep is needed. */
  get anyFinite(): boolean {
    return Number.isFinite(Math.min(this.maxLifetimeMillis, this.creationTimeToLiveMillis)) ||
      Number.isFinite(this.engine.limits.idleMillis)
  }

  /**
   * A new connection's lifetime: `maxLifetime` less a random jitter of up to 2.5% of it (as HikariCP does),
   * so that connections opened together do not all expire together; or a `"creation"` `timeToLive`.
   */
  lifetimeMillis(): number {
    const jittered = Number.isFinite(this.maxLifetimeMillis)
      ? this.maxLifetimeMillis - Math.random() * this.maxLifetimeMillis * lifetimeJitter
      : Number.POSITIVE_INFINITY
    return Math.min(this.creationTimeToLiveMillis, jittered)
  }

  /** The shortest lifetime a connection opened from now on can have. */
  private shortestLifetimeMillis(): number {
    return Math.min(this.creationTimeToLiveMillis, this.maxLifetimeMillis * (1 - lifetimeJitter))
  }

  /**
   * Retires idle connections past their lifetime or idle too long above `minConnections` (lent ones are
   * retired when they come back), then sleeps until the next one is due.
   */
  get sweep(): Effect.Effect<void> {
    const engine = this.engine
    const idleMillis = engine.limits.idleMillis
    // With nothing due sooner, look again after the shortest lifetime or idle time a connection opened or
    // returned from now on can have: none can fall due unseen before that.
    const idlePeriod = Math.min(idleMillis, this.shortestLifetimeMillis())
    const sweep: Effect.Effect<void> = Effect.suspend(() => {
      const now = engine.hooks.now()
      let next = now + idlePeriod
      const due: Array<ConnectionRecord<A>> = []
      for (const record of engine.records.values()) {
        if (record.state === "retired") continue
        // Every connection's lifetime counts, even one found due: at its turn it may be kept (the minimum).
        if (record.expiresAt > now) next = Math.min(next, record.expiresAt)
        if (record.state !== "idle") continue
        if (Health.retireReason(record, "sweep", engine, engine.limits, now) !== undefined) {
          due.push(record)
          continue
        }
        if (Number.isFinite(idleMillis)) {
          const idleExpiry = record.lastUsedAt + idleMillis
          if (idleExpiry > now) next = Math.min(next, idleExpiry)
        }
      }
      // Asked again at each one's turn: above `minConnections` only while it still holds.
      return Retire.idleInTurn(engine, due, "sweep").pipe(
        Effect.andThen(Effect.sleep(Duration.millis(Math.max(1, next - now)))),
        Effect.andThen(sweep)
      )
    })
    return sweep
  }
}
