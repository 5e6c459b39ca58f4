/**
 * `@connection-pool/core`: a bounded, health-monitored connection pool for Effect, for any transport.
 * Each module is re-exported here as a namespace (`import { ConnectionPool } from "@connection-pool/core"`)
 * and can also be imported on its own (`@connection-pool/core/ConnectionPool`).
 *
 * @since 0.1.0
 */

/**
 * A bounded, health-monitored pool of connections.
 *
 * @since 0.1.0
 */
export * as ConnectionPool from "./ConnectionPool.js"

/**
 * How a pool opens and checks connections.
 *
 * @since 0.1.0
 */
export * as Connector from "./Connector.js"

/**
 * The errors a pool can fail with.
 *
 * @since 0.1.0
 */
export * as PoolError from "./PoolError.js"

/**
 * What happens in a pool, as a stream of events.
 *
 * @since 0.1.0
 */
export * as PoolEvent from "./PoolEvent.js"

/**
 * The metrics a pool records with Effect's `Metric`.
 *
 * @since 0.1.0
 */
export * as PoolMetrics from "./PoolMetrics.js"

/**
 * One pool per key, with per-key and total bounds.
 *
 * @since 0.1.0
 */
export * as KeyedConnectionPool from "./KeyedConnectionPool.js"
