/**
 * One pool per key: for instance one per socket path (a worker per daemon) or one per tenant.
 * Each key's pool is a {@link ConnectionPool.ConnectionPool} made on first use, with `maxConnections` per key;
 * a total bound across keys caps the connections open at once; keys unused for `keyIdleTimeout` are closed and
 * forgotten.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { Pipeable } from "effect/Pipeable"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as ConnectionPool from "./ConnectionPool.js"
import type { DurationInput } from "./ConnectionPool.js"
import type * as Connector from "./Connector.js"
import * as internal from "./internal/keyedPool.js"
import type { ConnectionError, InvalidPoolOptions } from "./PoolError.js"

/**
 * The symbol that marks a `KeyedConnectionPool`.
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
 * A pool of pools, one per key of type `K`, of connections of type `A`.
 *
 * @example
 * ```ts
 * import { Connector, KeyedConnectionPool } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pools = yield* KeyedConnectionPool.make(
 *     (tenant: string) => Connector.make({ open: Effect.succeed({ tenant }) }),
 *     { maxConnections: 2, keyIdleTimeout: "1 minute" }
 *   )
 *   yield* pools.use("acme", (connection) => Effect.log(`serving ${connection.tenant}`))
 *   for (const [tenant, stats] of yield* pools.stats) {
 *     yield* Effect.log(`${tenant}: ${stats.summary}`)
 *   }
 *   yield* pools.closeKey("acme") // waits for its lent connections, then forgets the key
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedConnectionPool<K, A> extends Pipeable {
  readonly [TypeId]: TypeId
  /** Borrows a connection of `key`'s pool for the rest of the current scope. */
  readonly get: (key: K) => Effect.Effect<ConnectionPool.PooledConnection<A>, ConnectionPool.BorrowError, Scope.Scope>
  /** Borrows a connection of `key`'s pool, runs `f` with it and returns it. */
  readonly use: <B, E, R>(
    key: K,
    f: (connection: A, handle: ConnectionPool.PooledConnection<A>) => Effect.Effect<B, E, R>
  ) => Effect.Effect<B, E | ConnectionPool.BorrowError, R>
  /** The keys with a pool now. */
  readonly keys: Effect.Effect<ReadonlyArray<K>>
  /** The stats of each key's pool. */
  readonly stats: Effect.Effect<ReadonlyArray<readonly [K, ConnectionPool.PoolStats]>>
  /** Connections open across every key (at most `maxTotal`). */
  readonly totalConnections: Effect.Effect<number>
  /** Closes `key`'s pool now (waiting for its lent connections) and forgets it; the next borrow makes a new one. */
  readonly closeKey: (key: K) => Effect.Effect<void>
}

/**
 * Options of a keyed pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<K> extends ConnectionPool.Options {
  /** Names a key's pool in errors, logs and stats. Default: `${name}:${String(key)}`. */
  readonly keyName?: ((key: K) => string) | undefined
  /**
   * The most connections open at once across all keys. An open that would go beyond closes the oldest idle
   * connection of another key to make room (close reason `evicted`); a lent connection is never taken, so
   * with none idle it waits for one to close (bounded by `openTimeout`). A positive integer. Default: no total
   * bound.
   */
  readonly maxTotal?: number | undefined
  /**
   * A key whose pool has lent nothing and had no borrower for this long is closed and forgotten. Above
   * zero and at most 2^31-1 ms, or `Duration.infinity` (keys are never closed for idleness). Default 5 minutes.
   */
  readonly keyIdleTimeout?: DurationInput | undefined
}

/**
 * Whether a value is a `KeyedConnectionPool`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKeyedConnectionPool = (u: unknown): u is KeyedConnectionPool<unknown, unknown> => hasProperty(u, TypeId)

/**
 * Builds a keyed pool in the current scope. `connector(key)` says how to open a connection for `key`;
 * the pool options apply to each key's pool. Closing the scope closes every key's pool.
 *
 * @example
 * ```ts
 * import { Connector, KeyedConnectionPool } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pools = yield* KeyedConnectionPool.make(
 *     (path: string) => Connector.make({ open: Effect.succeed({ path }) }),
 *     { maxConnections: 4, maxTotal: 16 }
 *   )
 *   return yield* pools.use("/run/worker-1.sock", (connection) => Effect.succeed(connection.path))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <K, A, E, R>(
  connector: (key: K) => Connector.Connector<A, E, R>,
  options?: Options<K> | undefined
) => Effect.Effect<KeyedConnectionPool<K, A>, InvalidPoolOptions | ConnectionError, Scope.Scope | R> = internal.make
