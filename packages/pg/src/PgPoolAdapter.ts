/**
 * A `pg.Pool` backed by a pool of this package, for code written against the driver's pool, first of all
 * `@effect/sql-pg`: its `PgClient.fromPool` / `layerFromPool` take a `pg.Pool`, and with this one an `SqlClient`
 * program (queries, `withTransaction`, `stream`) runs on the core pool's sessions, with their health records,
 * metrics, bounds and fairness.
 *
 * What the adapter does: `connect()` (promise or callback) borrows a session and lends its `pg.Client` with a
 * `release(error?)` for that loan; `query(...)` borrows a session for one statement; `options` is the sessions'
 * config; `totalCount`, `idleCount` and `waitingCount` come from the pool's stats. `release(error)` with a
 * connection fault (or `true`) retires the session, and a session the server ended during the loan is retired
 * when it comes back. `end()` only refuses further loans: the core pool closes with the scope that opened it.
 * The driver pool's events (`connect`, `acquire`, `remove`) are not emitted.
 *
 * @effect/sql-pg takes a `pg.Pool` on Effect 3 (0.53) only: @effect/sql-pg 4, for Effect 4, has a driver and a
 * pool of its own. On Effect 4 the adapter serves code written against the `pg` driver itself.
 *
 * @since 0.1.0
 */
import type * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ClientConfig, Pool } from "pg"
import * as internal from "./internal/poolAdapter.js"
import type { PgConnection } from "./PgConnection.js"

/**
 * What the adapter lends from: a core pool of sessions and the config they open with (the `PgPool` service is
 * one).
 *
 * @since 0.1.0
 * @category models
 */
export interface Source {
  readonly pool: ConnectionPool.ConnectionPool<PgConnection>
  /** The sessions' config, reported as the pool's `options` (@effect/sql-pg opens its `LISTEN` client with it). */
  readonly config?: ClientConfig | undefined
}

/**
 * A `pg.Pool` lending the sessions of `source`, valid for the current scope (after it, `connect` fails as on an
 * ended pool).
 *
 * @example
 * ```ts
 * import { PgPool, PgPoolAdapter } from "@connection-pool/pg"
 * import { PgClient } from "@effect/sql-pg"
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Layer } from "effect"
 *
 * // An SqlClient on the PgPool service's sessions.
 * const SqlLive = Layer.unwrapEffect(
 *   Effect.map(PgPool.PgPool, (pg) => PgClient.layerFromPool({ acquire: PgPoolAdapter.make(pg) }))
 * ).pipe(Layer.provideMerge(PgPool.layer({ host: "127.0.0.1", user: "postgres", database: "test" })))
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   const rows = yield* sql`SELECT 1 AS one`
 *   const { pool } = yield* PgPool.PgPool
 *   yield* Effect.log(rows, (yield* pool.stats).summary)
 * }).pipe(Effect.provide(SqlLive))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (source: Source) => Effect.Effect<Pool, never, Scope.Scope> = internal.make
