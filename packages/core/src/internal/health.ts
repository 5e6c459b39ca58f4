/**
 * The health-score policy, and the one decision of when a connection is retired.
 *
 * A connection starts at 100. A health check that succeeds raises the score by 10 (at most 100), one that
 * fails or times out lowers it by 25 and counts an error; a borrower's failure that the connector calls
 * the connection's fault lowers it by 10 and counts an error. A connection at or below the pool's
 * `unhealthyScore`, or with `maxErrors` errors, is retired. With the defaults, two failed checks in a row
 * (100 -> 75 -> 50) retire a connection.
 *
 * A shared connection (`concurrency` above 1) keeps one record: a borrower's fault counts only if no fault was
 * counted since its loan began (`sharedLoans.ts`), so borrowers that shared a connection when it broke count one
 * fault together. A connection retired while borrowers hold it drains (`sharedEngine.ts`): it takes no new
 * borrower and closes at its last return. Only connections nobody holds are checked or judged at a tick.
 *
 * Plain TypeScript: no Effect runtime here.
 */
import * as Duration from "effect/Duration"
import type { CloseReason } from "../PoolEvent.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"

export const initialScore = 100
export const checkSucceededBonus = 10
export const checkFailedPenalty = 25
export const faultPenalty = 10

const clamp = (score: number): number => Math.min(100, Math.max(0, score))

export const afterCheckSucceeded = (score: number): number => clamp(score + checkSucceededBonus)
export const afterCheckFailed = (score: number): number => clamp(score - checkFailedPenalty)
export const afterFault = (score: number): number => clamp(score - faultPenalty)

/** The limits a connection's record is held to, in milliseconds where they are times. */
export interface Limits {
  readonly unhealthyScore: number
  readonly maxErrors: number
  /** `staleAfter`: an idle connection unused this long is retired at the next health tick. */
  readonly staleMillis: number
  /** `idleTimeout`, or a `"usage"` `timeToLive`, whichever is shorter; infinite when neither is set. */
  readonly idleMillis: number
}

export const limits = (options: ResolvedOptions): Limits => ({
  unhealthyScore: options.unhealthyScore,
  maxErrors: options.maxErrors,
  staleMillis: Duration.toMillis(options.staleAfter),
  idleMillis: Math.min(
    Duration.toMillis(options.idleTimeout),
    options.timeToLiveStrategy === "usage" ? Duration.toMillis(options.timeToLive) : Number.POSITIVE_INFINITY
  )
})

export const isUnhealthy = (
  record: { readonly healthScore: number; readonly errorCount: number },
  limits: Limits
): boolean => record.healthScore <= limits.unhealthyScore || record.errorCount >= limits.maxErrors

/**
 * When a connection is looked at; each occasion has its own rules, all of them here:
 * - `lend`: taken off the idle stack for a borrower (closed by its peer while idle, or out of its lifetime);
 * - `open`: just opened (the pool closed, or `resize` lowered the maximum while it opened);
 * - `return`: back from a loan or a check (invalidated, failed validation, unhealthy, the pool closed, out
 *   of its lifetime, closed by its peer, above a lowered maximum);
 * - `tick`: idle, at the maintenance fiber's health tick (unhealthy, closed by its peer, stale);
 * - `sweep`: idle, at the lifetime sweep (out of its lifetime, or idle too long above `minConnections`);
 * - `resize`: idle above a lowered maximum;
 * - `shutdown`: the pool is closing (idle ones, one held by the fiber closing the pool, one whose check was
 *   cut short by the close);
 * - `evict`: idle, the oldest of a keyed pool at its `maxTotal` when another key needs a connection.
 */
export type Occasion = "lend" | "open" | "return" | "tick" | "sweep" | "resize" | "shutdown" | "evict"

/** Occasions whose verdict is fixed: the connection is retired, for the occasion's own reason. */
export type Forced = "resize" | "shutdown" | "evict"

/** What the retire decision reads of the pool. */
export interface PoolView<A> {
  readonly isClosed: boolean
  /** Open connections that are not closing. */
  readonly liveCount: number
  readonly maxConnections: number
  readonly minConnections: number
  readonly isOpen: (connection: A) => boolean
  /** Epoch milliseconds of the pool's `Clock`. */
  readonly now: () => number
}

const expired = (record: ConnectionRecord<unknown>, now: number): boolean => record.expiresAt <= now

/** Whether a connection has a lifetime at all: only then is the clock read (lending is the hot path). */
const mortal = (record: ConnectionRecord<unknown>): boolean => record.expiresAt !== Number.POSITIVE_INFINITY

/** What the retire decision reads besides the connection and the occasion. */
type Circumstances<A> = [pool: PoolView<A>, limits: Limits, now?: number]

/**
 * Why a connection must be retired now, or `undefined` if it may be lent (again). Every path that retires
 * a connection asks this, so the answer to "why was this connection closed?" is here and only here.
 * `now` is the clock's time when the caller has read it already.
 */
export function retireReason<A>(record: ConnectionRecord<A>, occasion: Forced, ...rest: Circumstances<A>): CloseReason
export function retireReason<A>(
  record: ConnectionRecord<A>,
  occasion: Occasion,
  ...rest: Circumstances<A>
): CloseReason | undefined
export function retireReason<A>(
  record: ConnectionRecord<A>,
  occasion: Occasion,
  pool: PoolView<A>,
  limits: Limits,
  now?: number
): CloseReason | undefined {
  switch (occasion) {
    case "lend": {
      if (!pool.isOpen(record.connection)) return "disconnected"
      return mortal(record) && expired(record, now ?? pool.now()) ? "expired" : undefined
    }
    case "open": {
      if (pool.isClosed) return "shutdown"
      return pool.liveCount > pool.maxConnections ? "resized" : undefined
    }
    case "return": {
      if (record.invalidated) return "invalidated"
      if (record.failedValidation) return "validation-failed"
      if (isUnhealthy(record, limits)) return "unhealthy"
      if (pool.isClosed) return "shutdown"
      if (mortal(record) && expired(record, now ?? pool.now())) return "expired"
      if (!pool.isOpen(record.connection)) return "disconnected"
      return pool.liveCount > pool.maxConnections ? "resized" : undefined
    }
    case "tick": {
      if (isUnhealthy(record, limits)) return "unhealthy"
      if (!pool.isOpen(record.connection)) return "disconnected"
      return (now ?? pool.now()) - record.lastUsedAt >= limits.staleMillis ? "stale" : undefined
    }
    case "sweep": {
      const time = now ?? pool.now()
      if (expired(record, time)) return "expired"
      const idleTooLong = time - record.lastUsedAt >= limits.idleMillis
      return idleTooLong && pool.liveCount > pool.minConnections ? "idle-timeout" : undefined
    }
    case "resize":
      return "resized"
    case "shutdown":
      return "shutdown"
    case "evict":
      return "evicted"
  }
}
