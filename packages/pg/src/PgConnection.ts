/**
 * One PostgreSQL session: a `pg.Client` with its queries as effects that fail with a typed {@link PgError}, and
 * a liveness flag a pool reads to retire a session the server or the network ended.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type { Client, ClientConfig, QueryResult, QueryResultRow } from "pg"
import * as internal from "./internal/pgConnection.js"
import type { PgError } from "./PgError.js"

/**
 * The symbol that marks a {@link PgConnection}.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * One open session.
 *
 * @since 0.1.0
 * @category models
 */
export interface PgConnection {
  readonly [TypeId]: TypeId
  /** The driver's client, for what `query` does not cover (`COPY`, cursors, `LISTEN`). */
  readonly client: Client
  /** The config the session was opened with. */
  readonly config: ClientConfig
  /** The server's `host:port` (or Unix socket path), as the driver resolved it. */
  readonly host: string
  /**
   * False once the session is gone: the server ended it, its socket broke, or a query was interrupted before
   * its reply (the session is then given up). A pool retires such a session instead of lending it again.
   */
  readonly isOpen: boolean
  /** Why the session is gone, once it is. */
  readonly lost: PgError | undefined
  /**
   * Runs one statement with `$1, $2, ...` placeholders. Fails with a `PgError`: `QueryFailed` (with the
   * SQLSTATE) when only the statement failed, a connection fault when the session is gone.
   */
  readonly query: <R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: ReadonlyArray<unknown>
  ) => Effect.Effect<QueryResult<R>, PgError>
}

/**
 * Whether a value is a {@link PgConnection}.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPgConnection = (u: unknown): u is PgConnection => hasProperty(u, TypeId)

/**
 * Opens one session in the current scope: `client.connect()` now, `client.end()` when the scope closes. Fails
 * with a `PgError` naming the server and the reason (`Unreachable`, `ConnectTimedOut`, `Rejected`, ...).
 *
 * The driver's `connectionTimeoutMillis` defaults to 10 seconds here (the driver's own default waits forever).
 * Outside a pool, for a session of its own (an administrative one, a `LISTEN`er); in a pool, use
 * `PgConnector.make`.
 *
 * @example
 * ```ts
 * import { PgConnection } from "@connection-pool/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* PgConnection.connect({ host: "127.0.0.1", user: "postgres", database: "test" })
 *   const result = yield* session.query<{ answer: number }>("SELECT $1::int AS answer", [42])
 *   return result.rows[0]?.answer
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (config?: ClientConfig) => Effect.Effect<PgConnection, PgError, Scope.Scope> = internal.connect
