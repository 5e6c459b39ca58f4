/**
 * A `Connector` for `@connection-pool/core` whose connections are PostgreSQL sessions ({@link PgConnection}):
 * `SELECT 1` as the health check, `isOpen` from the session's state, and an `isFault` that blames the session
 * only when it is broken.
 *
 * @since 0.1.0
 */
import type * as Connector from "@connection-pool/core/Connector"
import type * as Cause from "effect/Cause"
import type { ClientConfig } from "pg"
import * as internal from "./internal/pgConnector.js"
import type { PgConnection } from "./PgConnection.js"
import type { PgError } from "./PgError.js"

/**
 * The connector for sessions opened with `config` (the `pg` driver's `ClientConfig`; its
 * `connectionTimeoutMillis` defaults to 10 seconds here). Give each pool an `application_name`: it shows in
 * `pg_stat_activity`, where an operator finds the pool's sessions.
 *
 * @example
 * ```ts
 * import { ConnectionPool } from "@connection-pool/core"
 * import { PgConnector } from "@connection-pool/pg"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(
 *     PgConnector.make({ host: "127.0.0.1", user: "postgres", database: "test", application_name: "reports" }),
 *     { maxConnections: 8 }
 *   )
 *   return yield* pool.use((session) => session.query("SELECT now() AS now"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (config?: ClientConfig) => Connector.Connector<PgConnection, PgError> = internal.make

/**
 * Whether a borrower's failure was the session's fault: a `PgError` whose `isConnectionFault` is true (the
 * server ended the session, the socket broke, SQLSTATE class 08, 57P01-57P03), or a defect. A failed statement
 * (42xxx, 23xxx, ...) and the borrower's own errors are not: the session is fine and goes on serving.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFault: (cause: Cause.Cause<unknown>) => boolean = internal.isFault
