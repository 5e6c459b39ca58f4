import * as Effect from "effect/Effect"
import type { CloseReason } from "../PoolEvent.js"
import type * as edge from "./edge/effect.js"
import * as Health from "./health.js"

/** Who holds a loan, and since when: for leak reports and a late shutdown. */
export interface BorrowerNote {
  readonly id: number
  lentAt: number | undefined
  borrower: { readonly fiber: string; readonly span: string | undefined } | undefined
  borrowerFiber: edge.RunningFiber | undefined
  leakReported: boolean
}

/**
 * Where a connection is: waiting in the idle stack, lent, being checked by the maintenance fiber, or
 * retired (closing or closed, never lent again).
 */
export type RecordState = "idle" | "in-use" | "checking" | "retired"

/**
 * One open connection and its health record. Mutated only by the pool's parts, never across a yield
 * point, so fibers see it consistent.
 */
export class ConnectionRecord<A> {
  state: RecordState = "idle"
  /** Set by `handle.invalidate`: retire when returned. */
  invalidated = false
  /** Set when validation on borrow failed: retire at once, never lend. */
  failedValidation = false
  /** When its lifetime ends (`maxLifetime` less jitter, or a `"creation"` `timeToLive`); never if infinite. */
  readonly expiresAt: number
  healthScore = Health.initialScore
  errorCount = 0
  useCount = 0
  lastUsedAt: number
  /** With metrics or leak detection on: when the current loan began; who took it, and whether it was reported. */
  lentAt: number | undefined = undefined
  borrower: { readonly fiber: string; readonly span: string | undefined } | undefined = undefined
  /** With `shutdownTimeout`: the fiber that holds the current loan, interrupted if shutdown runs late. */
  borrowerFiber: edge.RunningFiber | undefined = undefined
  leakReported = false
  // ---- shared lending (`concurrency` above 1) only; exclusive lending leaves these alone --------------
  /** Borrowers holding it now. */
  loans = 0
  /** Its place in the shared engine's bucket of connections with this many borrowers and room; -1 if none. */
  slot = -1
  /** Retired while borrowers held it: why; it takes no new borrower and closes when the last one returns. */
  draining: CloseReason | undefined = undefined
  /** Faults counted against it; a loan's fault counts only if none was counted since the loan began. */
  faultsCounted = 0
  /** The loans holding it, when borrowers are noted (leak detection, `shutdownTimeout`). */
  holders: Set<BorrowerNote> | undefined = undefined
  /** `Effect.succeed(this)`, made once: lending it is the hot path. */
  readonly lent: Effect.Effect<ConnectionRecord<A>>

  constructor(
    readonly id: number,
    readonly connection: A,
    readonly createdAt: number,
    lifetimeMillis: number,
    /** Closing it closes the connection (the connector's finalizers). */
    readonly scope: edge.CloseableScope
  ) {
    this.lastUsedAt = createdAt
    this.expiresAt = createdAt + lifetimeMillis
    this.lent = Effect.succeed(this)
  }
}
