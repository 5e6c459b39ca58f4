/**
 * The health-score policy, and the one decision of when a connection is retired.
 *
 * A connection starts at 100. A health check that succeeds raises the score by 10 (at most 100), one that
 * fails or times out lowers it by 25 and counts an error; a borrower's failure that the connector calls
 * the connection's fault lowers it by 10 and counts an error. A connection at or below the pool's
 * `unhealthyScore`, or with `maxErrors` errors, is retired. With the defaults, two failed checks in a row
 * (100 -> 75 -> 50) retire a connection.
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
 * When a connection is looked at, which decides the rules that apply beyond the ones that always do:
 * - `lend`: taken off the idle stack for a borrower;
 * - `return`: back from a loan or a check, or just opened;
 * - `tick`: an idle connection, at the maintenance fiber's health tick (also retired when stale);
 * - `sweep`: an idle connection, at the lifetime sweep (also retired when idle too long, above
 *   `minConnections`).
 */
export type Occasion = "lend" | "return" | "tick" | "sweep"

/** What the retire decision reads of the pool. */
export interface PoolView<A> {
  readonly isClosed: boolean
  /** Open connections that are not closing. */
  readonly liveCount: number
  readonly maxConnections: number
  readonly minConnections: number
  readonly isOpen: (connection: A) => boolean
}

/**
 * Why a connection must be retired now, or `undefined` if it may be lent (again). Every path that retires
 * a connection asks this, so the answer to "why was this connection closed?" is here and only here.
 */
export const retireReason = <A>(
  record: ConnectionRecord<A>,
  occasion: Occasion,
  pool: PoolView<A>,
  limits: Limits,
  now: () => number
): CloseReason | undefined => {
  if (record.invalidated) return "invalidated"
  if (record.failedValidation) return "validation-failed"
  if (isUnhealthy(record, limits)) return "unhealthy"
  if (pool.isClosed) return "shutdown"
  // The clock is read only for connections that have a lifetime: lending is the hot path.
  if (record.expiresAt !== Number.POSITIVE_INFINITY && record.expiresAt <= now()) return "expired"
  if (!pool.isOpen(record.connection)) return "disconnected"
  if (pool.liveCount > pool.maxConnections) return "resized"
  if (occasion === "tick" && now() - record.lastUsedAt >= limits.staleMillis) return "stale"
  if (
    occasion === "sweep" && now() - record.lastUsedAt >= limits.idleMillis && pool.liveCount > pool.minConnections
  ) return "idle-timeout"
  return undefined
}
