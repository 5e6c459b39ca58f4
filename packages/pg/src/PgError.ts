/**
 * The one error of this package: every failure of opening a session or running a statement is a `PgError`
 * with a `reason`, the server's address, the SQLSTATE (or the socket's errno code) and the driver's error as
 * its `cause`. `isConnectionFault` says whether the session is broken (retire it, retry elsewhere) or only
 * the statement failed (the session is fine).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { hasProperty } from "effect/Predicate"
import * as internal from "./internal/pgError.js"

/**
 * The symbol that marks a {@link PgError}.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@connection-pool/pg/PgError")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What went wrong.
 *
 * - `Unreachable`: opening, the socket could not connect (refused, no route, unknown host).
 * - `ConnectTimedOut`: opening took longer than the driver's `connectionTimeoutMillis`.
 * - `Rejected`: the server refused the session: unknown role (28000) or database (3D000), bad password (28P01),
 *   too many connections (53300), starting up or shutting down (57P03).
 * - `ServerShutdown`: the server ended the session: 57P01 admin_shutdown (what `pg_terminate_backend` and a
 *   fast shutdown send) or 57P02 crash_shutdown.
 * - `ConnectionLost`: the socket closed or was reset, a SQLSTATE of class 08 (connection exception), another
 *   FATAL error, or the driver refuses queries on a client whose connection failed or ended.
 * - `Abandoned`: a query was interrupted before its reply; the session is given up rather than left running a
 *   statement of unknown outcome.
 * - `QueryFailed`: the statement failed (syntax 42xxx, constraint 23xxx, ...); the session is fine.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason =
  | "Unreachable"
  | "ConnectTimedOut"
  | "Rejected"
  | "ServerShutdown"
  | "ConnectionLost"
  | "Abandoned"
  | "QueryFailed"

/**
 * A failure to open a PostgreSQL session or to run a statement on one.
 *
 * @example
 * ```ts
 * import { PgPool } from "@connection-pool/pg"
 * import { Effect } from "effect"
 *
 * const program = PgPool.query("SELECT * FROM no_such_table").pipe(
 *   Effect.catchTag("PgError", (error) =>
 *     // 42P01 undefined_table: the statement failed, the session is fine
 *     error.isConnectionFault ? Effect.fail(error) : Effect.succeed(`${error.code}: ${error.detail}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PgError extends Data.TaggedError("PgError")<{
  readonly reason: Reason
  /** The server's `host:port` (or Unix socket path), as the driver resolved it. */
  readonly host: string
  /** The SQLSTATE for an error the server reported (five characters, `42P01`), the errno code for a socket error. */
  readonly code: string | undefined
  /** The server's or the driver's own message. */
  readonly detail: string
  /** The driver's error, with the server's fields (`detail`, `hint`, `constraint`, `table`, ...). */
  readonly cause?: unknown
}> {
  /**
   * Marks the error as a `PgError` (see {@link isPgError}), also across two copies of the package.
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * Whether the session is broken (every reason but `QueryFailed`): a pool retires it, and the statement may be
   * retried on another session.
   *
   * @since 0.1.0
   */
  get isConnectionFault(): boolean {
    return this.reason !== "QueryFailed"
  }

  /** @since 0.1.0 */
  override get message(): string {
    const code = this.code === undefined ? "" : ` (${this.code})`
    return `postgres ${this.host}: ${this.reason}${code}: ${this.detail}`
  }
}

/**
 * Whether a value is a {@link PgError}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPgError = (u: unknown): u is PgError => hasProperty(u, TypeId)

/**
 * Turns an error of the `pg` driver into a {@link PgError}. `opening` says whether it came from `connect()`
 * (where a server error means the server refused the session); `host` is the server's address.
 *
 * @example
 * ```ts
 * import { PgError } from "@connection-pool/pg"
 *
 * const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
 * const error = PgError.fromDriverError(refused, { host: "127.0.0.1:1", opening: true })
 * console.log(error.reason, error.isConnectionFault) // Unreachable true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDriverError = (
  error: unknown,
  options: { readonly host: string; readonly opening: boolean }
): PgError =>
  isPgError(error) ? error : new PgError({
    reason: internal.reasonOf(error, options.opening),
    host: options.host,
    code: internal.codeOf(error),
    detail: internal.detailOf(error),
    cause: error
  })

/**
 * Whether a failure means a broken session, wherever it sits: a `PgError` (its `isConnectionFault`), the pool's
 * `ConnectionError` (no session could be opened), a driver error, or any of these as the `cause` of a wrapper,
 * such as the `SqlError` of @effect/sql-pg. A retry policy for SQL on the pool can read it.
 *
 * @example
 * ```ts
 * import { PgError } from "@connection-pool/pg"
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Schedule } from "effect"
 *
 * const read = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id FROM users`).pipe(
 *   Effect.retry({ schedule: Schedule.exponential("10 millis"), times: 5, while: PgError.isConnectionFault })
 * )
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isConnectionFault = (error: unknown): boolean => internal.isConnectionFault(error, isPgError)
