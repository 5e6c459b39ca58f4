/**
 * Every call the pool makes into a connector's callbacks, guarded in one place. A connector is code the pool
 * does not control: its `open` may throw while it is built or die while it runs, its `check` may throw or die,
 * and its synchronous `isOpen` and `isFault` may throw. The pool's bookkeeping is never left half done by one of
 * them, because none of these calls throws:
 *
 * - `isOpen` that throws counts as "closed" (the connection is retired and replaced);
 * - `isFault` that throws counts as "a fault" (the borrower keeps its own error);
 * - `check` that throws or dies is a failed check;
 * - `open` that throws or dies is a failed open;
 * - a close (the open's finalizers) that dies is logged: the connection is gone either way.
 *
 * Each defect is logged once, at error level, with the pool's name and the connection's id.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Connector } from "../Connector.js"
import * as edge from "./edge/effect.js"

export class ConnectorCalls<A, R> {
  constructor(
    private readonly pool: string,
    private readonly connector: Connector<A, unknown, R>,
    private readonly context: Context.Context<R>,
    /** Runs a background effect in a fiber of the pool (to log from synchronous code). */
    private readonly run: (effect: Effect.Effect<unknown>) => edge.RunningFiber,
    /** The id of an open connection, to name it in the log (read only when a callback threw). */
    private readonly idOf: (connection: A) => number | undefined
  ) {}

  /** Logs a connector's defect once, with the pool's name and the connection's id. */
  private logDefect(callback: string, connectionId: number | undefined, defect: Cause.Cause<unknown>): void {
    this.run(defectLog(this.pool, callback, connectionId, defect))
  }

  /** The connector's `isOpen`; one that throws says "closed". */
  readonly isOpen = (connection: A): boolean => {
    try {
      return this.connector.isOpen(connection)
    } catch (defect) {
      this.logDefect("isOpen", this.idOf(connection), Cause.die(defect))
      return false
    }
  }

  /** The connector's `isFault` for a borrower's failure; interruption is never a fault, one that throws is. */
  readonly isFault = (cause: Cause.Cause<unknown>, connectionId: number): boolean => {
    if (edge.isInterruptedOnly(cause)) return false
    try {
      return this.connector.isFault(cause)
    } catch (defect) {
      this.logDefect("isFault", connectionId, Cause.die(defect))
      return true
    }
  }

  /** The connector's `check`; one that throws or dies fails (with the defect as its error). */
  check(connection: A, connectionId: number): Effect.Effect<unknown, unknown> {
    return Effect.suspend(() => this.connector.check(connection)).pipe(
      Effect.provide(this.context),
      edge.catchAllDefect((defect) =>
        Effect.andThen(defectLog(this.pool, "check", connectionId, Cause.die(defect)), Effect.fail(defect))
      )
    )
  }

  /** The connector's `open` in `scope`; one that throws while built, or dies, fails (with the defect). */
  open(scope: Scope.Scope): Effect.Effect<A, unknown> {
    return Effect.suspend(() => edge.inScope(this.connector.open, scope)).pipe(
      Effect.provide(this.context),
      edge.catchAllDefect((defect) =>
        Effect.andThen(defectLog(this.pool, "open", undefined, Cause.die(defect)), Effect.fail(defect))
      )
    )
  }
}

const defectLog = (
  pool: string,
  callback: string,
  connectionId: number | undefined,
  defect: Cause.Cause<unknown>
): Effect.Effect<void> =>
  Effect.logError(`the connector's ${callback} threw or died`, defect).pipe(
    Effect.annotateLogs(connectionId === undefined ? { pool } : { pool, connectionId })
  )

/**
 * Closes a connection's scope (the connector's finalizers). One that dies is logged with the pool's name and
 * the connection's id, never raised: the connection is gone either way, and the borrower or fiber that
 * happened to close it must not fail for it.
 */
export const closeScope = (
  pool: string,
  connectionId: number | undefined,
  scope: edge.CloseableScope,
  exit: Exit.Exit<unknown, unknown> = Exit.void
): Effect.Effect<void> =>
  edge.catchAllCause(
    Scope.close(scope, exit),
    (cause) => edge.isInterruptedOnly(cause) ? Effect.void : defectLog(pool, "close", connectionId, cause)
  )
