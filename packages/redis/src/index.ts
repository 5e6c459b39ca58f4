/**
 * `@connection-pool/redis`: pooled Redis connections for Effect, on node-redis. Each module is re-exported here
 * as a namespace (`import { RedisPool } from "@connection-pool/redis"`) and can also be imported on its own
 * (`@connection-pool/redis/RedisPool`).
 *
 * @since 0.1.0
 */

/**
 * One Redis connection, and the connector a pool opens them with.
 *
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.js"

/**
 * The errors of Redis connections and commands, and which of them are the connection's fault.
 *
 * @since 0.1.0
 */
export * as RedisError from "./RedisError.js"

/**
 * A pool of Redis connections as a service.
 *
 * @since 0.1.0
 */
export * as RedisPool from "./RedisPool.js"
