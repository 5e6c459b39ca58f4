/**
 * A pool of PostgreSQL sessions as a service: `PgPool.layer(options)` opens it, `PgPool.query(text, values)`
 * runs one statement on a pooled session, and the service holds the core pool itself (`pool.stats`,
 * `pool.use`, `pool.get` for several statements on one session).
 *
 * @since 0.1.0
 */
import type * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type { ConnectionError, InvalidPoolOptions } from "@connection-pool/core/PoolError"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ClientConfig, QueryResult, QueryResultRow } from "pg"
import type { ServiceKey } from "./internal/edge/effect.js"
import * as internal from "./internal/pgPool.js"
import type { PgConnection } from "./PgConnection.js"
import type { PgError } from "./PgError.js"

/**
 * The symbol that marks a {@link PgPool}.
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
 * The `pg` driver's `ClientConfig` for every session (host, port, user, password, database, ssl,
 * `application_name`, `connectionTimeoutMillis`, ...; the usual `PG*` environment variables fill what is not
 * given), and the pool's own options under `pool`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ClientConfig {
  /**
   * The core pool's options (`maxConnections`, `connectionTimeout`, `healthCheckInterval`, ...). Default:
   * the core's defaults, with the pool named after `application_name` (else `pg`).
   */
  readonly pool?: ConnectionPool.Options | undefined
}

/**
 * The pool service.
 *
 * @since 0.1.0
 * @category models
 */
export interface PgPool {
  readonly [TypeId]: TypeId
  /** The core pool of sessions: `use`, `get`, `stats`, `connections`, `events`, `resize`. */
  readonly pool: ConnectionPool.ConnectionPool<PgConnection>
  /** The config every session opens with. */
  readonly config: ClientConfig
  /** Runs one statement on a pooled session (see {@link query}). */
  readonly query: <R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: ReadonlyArray<unknown>
  ) => Effect.Effect<QueryResult<R>, PgError | ConnectionPool.BorrowError>
}

/**
 * The tag of the {@link PgPool} service.
 *
 * @since 0.1.0
 * @category tags
 */
export const PgPool: ServiceKey<PgPool, PgPool> = internal.PgPool

/**
 * Opens a pool in the current scope; closing the scope closes every session. Fails with `InvalidPoolOptions`
 * naming every bad pool option (and, with `pool.warmUp`, with `ConnectionError` when the first sessions cannot
 * be opened).
 *
 * @example
 * ```ts
 * import { PgPool } from "@connection-pool/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pg = yield* PgPool.make({ host: "127.0.0.1", user: "postgres", database: "test", pool: { maxConnections: 4 } })
 *   const result = yield* pg.query<{ n: number }>("SELECT 1 AS n")
 *   yield* Effect.log(result.rows, (yield* pg.pool.stats).summary)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<
  PgPool,
  InvalidPoolOptions | ConnectionError,
  Scope.Scope
> = internal.make

/**
 * A layer that opens the {@link PgPool} service.
 *
 * @example
 * ```ts
 * import { PgPool } from "@connection-pool/pg"
 * import { Effect } from "effect"
 *
 * const PgLive = PgPool.layer({ host: "127.0.0.1", user: "postgres", database: "test", pool: { maxConnections: 4 } })
 *
 * const program = PgPool.query<{ now: Date }>("SELECT now() AS now").pipe(
 *   Effect.map((result) => result.rows[0]?.now),
 *   Effect.provide(PgLive)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: Options) => Layer.Layer<PgPool, InvalidPoolOptions | ConnectionError> = internal.layer

/**
 * Runs one statement on a session of the {@link PgPool} service: borrows a session, runs it, gives the session
 * back. A failed statement is a `PgError` with reason `QueryFailed` and its SQLSTATE, and leaves the session in
 * the pool; a broken session fails with a `PgError` whose `isConnectionFault` is true, and the pool retires it.
 * Waiting for a session can fail with the pool's `BorrowError` (`PoolTimeoutError`, `ConnectionError`, ...).
 *
 * @example
 * ```ts
 * import { PgPool } from "@connection-pool/pg"
 * import { Effect, Schedule } from "effect"
 *
 * // Retry a read when its session broke (the server ended it, the network failed); fail at once otherwise.
 * const program = PgPool.query<{ id: number }>("SELECT id FROM users WHERE name = $1", ["ada"]).pipe(
 *   Effect.retry({
 *     schedule: Schedule.exponential("10 millis"),
 *     times: 5,
 *     while: (error) => error._tag === "ConnectionError" || (error._tag === "PgError" && error.isConnectionFault)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category queries
 */
export const query: <R extends QueryResultRow = QueryResultRow>(
  text: string,
  values?: ReadonlyArray<unknown>
) => Effect.Effect<QueryResult<R>, PgError | ConnectionPool.BorrowError, PgPool> = internal.query
