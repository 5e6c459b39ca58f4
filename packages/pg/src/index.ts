/**
 * `@connection-pool/pg`: PostgreSQL sessions of the `pg` driver (node-postgres) in a `@connection-pool/core`
 * pool. Each module is re-exported here as a namespace (`import { PgPool } from "@connection-pool/pg"`) and can
 * also be imported on its own (`@connection-pool/pg/PgPool`).
 *
 * @since 0.1.0
 */

/**
 * A pool of PostgreSQL sessions as a service, with a typed `query` and a layer.
 *
 * @since 0.1.0
 */
export * as PgPool from "./PgPool.js"

/**
 * The `Connector` of PostgreSQL sessions, and which failures are a session's fault.
 *
 * @since 0.1.0
 */
export * as PgConnector from "./PgConnector.js"

/**
 * One PostgreSQL session, with queries as effects.
 *
 * @since 0.1.0
 */
export * as PgConnection from "./PgConnection.js"

/**
 * The error of every PostgreSQL operation, with the SQLSTATE.
 *
 * @since 0.1.0
 */
export * as PgError from "./PgError.js"

/**
 * A `pg.Pool` backed by the pool, for code written against the driver's pool (on Effect 3, @effect/sql-pg).
 *
 * @since 0.1.0
 */
export * as PgPoolAdapter from "./PgPoolAdapter.js"
