/**
 * A bounded, health-monitored pool of connections.
 *
 * A pool opens connections with a {@link Connector}, lends them to borrowers (`get` in a scope, or
 * `use` in one call), keeps a health record per connection (score, errors, uses, last use), checks idle
 * connections on a schedule, and retires connections that are stale, unhealthy or have failed too
 * often, opening replacements up to `minConnections`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import type { Pipeable } from "effect/Pipeable"
import { hasProperty } from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Connector from "./Connector.js"
import * as internal from "./internal/connectionPool.js"
import type * as Edge from "./internal/edge/effect.js"
import type {
  ConnectionError,
  InvalidPoolOptions,
  PoolClosedError,
  PoolExhaustedError,
  PoolTimeoutError,
  PoolUnavailableError
} from "./PoolError.js"
import type * as PoolEvent from "./PoolEvent.js"

/**
 * The symbol that marks a `ConnectionPool`.
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
 * What a duration option accepts: a `Duration`, a number of milliseconds, or a string such as "30 seconds"
 * (Effect 3's `Duration.DurationInput`; `Duration.Input` in the Effect 4 build).
 *
 * @since 0.3.0
 * @category models
 */
export type DurationInput = Edge.DurationInput

/**
 * The key a pool is provided under by {@link layer}: a `Context.Tag` class (a `Context.Service` in the Effect 4
 * build).
 *
 * @since 0.3.0
 * @category models
 */
export type ServiceKey<I, S> = Edge.ServiceKey<I, S>

/**
 * Options as `Config`: a whole `Config` of them, or one `Config` per option (Effect 3's `Config.Config.Wrap`;
 * `Config.Wrap` in the Effect 4 build).
 *
 * @since 0.3.0
 * @category models
 */
export type ConfigOf<A> = Edge.ConfigOf<A>

/**
 * What borrowing can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type BorrowError =
  | PoolTimeoutError
  | ConnectionError
  | PoolClosedError
  | PoolExhaustedError
  | PoolUnavailableError

/**
 * A pool of connections of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionPool<A> extends Pipeable {
  readonly [TypeId]: TypeId
  /** The pool's name, used in errors, logs and stats. */
  readonly name: string
  /** The most connections open at once (as last set by `resize`). */
  readonly maxConnections: number
  /** How long a borrower waits for a connection before failing with `PoolTimeoutError`. */
  readonly connectionTimeout: Duration.Duration
  /**
   * Borrows a connection for the rest of the current scope. Closing the scope returns it; a failure of
   * the scope (as judged by the connector's `isFault`) counts as one of the connection's errors.
   */
  readonly get: Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope>
  /**
   * Borrows a connection, runs `f` with it and returns it, in one call. A failure of `f` (as judged by
   * the connector's `isFault`) counts as one of the connection's errors.
   */
  readonly use: <B, E, R>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>
  ) => Effect.Effect<B, E | BorrowError, R>
  /**
   * Changes `maxConnections` and `minConnections` of the live pool (checked as at construction: fails with
   * `InvalidPoolOptions`). Growing serves waiters at once; shrinking closes idle connections above the new
   * maximum now and lent ones when they come back, never taking one from its borrower.
   */
  readonly resize: (bounds: {
    readonly maxConnections?: number | undefined
    readonly minConnections?: number | undefined
  }) => Effect.Effect<void, InvalidPoolOptions>
  /** Returns a borrowed connection before its scope closes. Returning twice does nothing. */
  readonly release: (handle: PooledConnection<A>) => Effect.Effect<void>
  /** Counts of connections, borrowers and events; see {@link PoolStats}. */
  readonly stats: Effect.Effect<PoolStats>
  /** A snapshot of every open connection's health record. */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /**
   * Retires every idle connection that is stale (unused for `staleAfter`), has a health score at or
   * below `unhealthyScore`, or has `maxErrors` errors; returns how many it retired. The maintenance
   * fiber runs it on every health tick.
   */
  readonly cleanUpStale: Effect.Effect<number>
  /** How many more connections could be lent now: `maxConnections` less those lent. */
  readonly availablePermits: Effect.Effect<number>
  /** How many connections are open, lent or idle. */
  readonly activeConnections: Effect.Effect<number>
  /**
   * The pool's events from the moment the stream is run: opens and failed opens, closes with their reason,
   * health changes and borrowers' timeouts (see `PoolEvent`). The stream ends once the pool has closed;
   * run after that, it is empty.
   */
  readonly events: Stream.Stream<PoolEvent.PoolEvent>
}

/**
 * A borrowed connection with its health record.
 *
 * @since 0.1.0
 * @category models
 */
export interface PooledConnection<A> {
  /** The connection's id, unique within its pool. */
  readonly id: number
  /**
   * The connection itself, while the loan lasts. Read after the loan ended (`release`, or the end of its
   * scope or `use`) it throws `ReleasedHandleError`: the connection may be someone else's by then.
   */
  readonly connection: A
  /** When the connection was opened, in epoch milliseconds of the `Clock`. */
  readonly createdAt: number
  /** When the connection was last lent, in epoch milliseconds of the `Clock`. */
  readonly lastUsedAt: number
  /** The connection's health score, 0 to 100. */
  readonly healthScore: number
  /** How many errors the connection has had. */
  readonly errorCount: number
  /** How many times the connection has been lent. */
  readonly useCount: number
  /** Returns the connection now instead of when the scope closes. Returning twice does nothing. */
  readonly release: Effect.Effect<void>
  /** Marks the connection as broken: it is closed when returned, never lent again. */
  readonly invalidate: Effect.Effect<void>
}

/**
 * A connection's health record at one instant.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionInfo {
  readonly id: number
  /** Epoch milliseconds of the `Clock`. */
  readonly createdAt: number
  /** Epoch milliseconds of the `Clock`; equal to `createdAt` until first lent. */
  readonly lastUsedAt: number
  readonly healthScore: number
  readonly errorCount: number
  readonly useCount: number
  readonly state: ConnectionState
  /** Borrowers holding it now: at most 1, or `concurrency` with shared lending. */
  readonly borrowers: number
}

/**
 * `idle` connections wait in the pool, `in-use` ones are lent, `checking` ones are being health-checked,
 * `closing` ones are retired and their finalizers are running.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionState = "idle" | "in-use" | "checking" | "closing"

/**
 * Counts of connections, borrowers and events, with a one-line `summary`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolStats {
  /** The pool's name. */
  readonly name: string
  /** Open connections, idle and lent. */
  readonly total: number
  /** Open connections waiting in the pool. */
  readonly idle: number
  /** Connections lent to borrowers (held by one borrower or more). */
  readonly inUse: number
  /** Open connections with a score above `unhealthyScore` and fewer than `maxErrors` errors. */
  readonly healthy: number
  /** Open connections that are not healthy (retired at the next tick unless lent). */
  readonly unhealthy: number
  /** Borrowers waiting for a connection. */
  readonly waiting: number
  /** `maxConnections`. */
  readonly maxConnections: number
  /** `loans / (maxConnections x concurrency)`, 0 to 1: with `concurrency` 1, `inUse / maxConnections`. */
  readonly utilization: number
  /** Connections opened since the pool started. */
  readonly created: number
  /** Connections closed since the pool started. */
  readonly closed: number
  /** The same, by why each was closed. */
  readonly closedByReason: Readonly<Record<PoolEvent.CloseReason, number>>
  /** Attempts to open a connection that failed. */
  readonly openFailures: number
  /** Borrowers that gave up after `connectionTimeout`. */
  readonly timeouts: number
  /** Health checks run. */
  readonly healthChecks: number
  /** Health checks that failed or timed out. */
  readonly healthCheckFailures: number
  /** Borrowers interrupted because they still held a connection at `shutdownTimeout`. */
  readonly interruptedAtShutdown: number
  /** The mean health score of open connections; 100 when there are none. */
  readonly averageScore: number
  /**
   * The stats in one line for logs, for instance
   * `pool "ipc": 3/10 open (1 in use, 2 idle), 0 waiting, 3 healthy, 0 unhealthy, avg score 100.0, ...`.
   */
  readonly summary: string
  /** Loans held: borrowers holding a connection. Equal to `inUse` with `concurrency` 1. */
  readonly loans: number
  /** The `concurrency` option: borrowers per connection at once. */
  readonly concurrency: number
}

/**
 * Pool options. Every field is optional; the defaults are given with each. A duration is a `Duration`, a number
 * of milliseconds or a string such as `"30 seconds"`, above zero and at most 2^31-1 ms (about 24.8 days: Effect's
 * clock cannot wait longer, and a longer sleep would never end); the options whose default is infinite also
 * take `Duration.infinity`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Names the pool in errors, logs and stats. Default `"connection-pool"`. */
  readonly name?: string | undefined
  /** The most connections open at once. A positive integer. Default 10. */
  readonly maxConnections?: number | undefined
  /** Connections kept open even when idle, replaced when retired. At most `maxConnections`. Default 0. */
  readonly minConnections?: number | undefined
  /**
   * Build the pool only once `minConnections` are open: construction fails with `ConnectionError` at the
   * first failed open, or (`OpenTimedOut`) when they are not all open within `connectionTimeout`. Default
   * false: they open in the background.
   */
  readonly warmUp?: boolean | undefined
  /**
   * The most borrowers waiting at once; the next one fails at once with `PoolExhaustedError`. A positive
   * integer. Default: no bound.
   */
  readonly maxWaiting?: number | undefined
  /**
   * Check an idle connection (the connector's `check`, bounded by `healthCheckTimeout`) before lending it,
   * unless it was used within `validationWindow`. One that fails is retired and the borrower gets another.
   * Default false.
   */
  readonly validateOnBorrow?: boolean | undefined
  /** With `validateOnBorrow`: no check for a connection used this recently. Default 500 milliseconds. */
  readonly validationWindow?: DurationInput | undefined
  /**
   * A connection held longer than this is logged once, as a warning naming the borrowing fiber and the
   * span it was borrowed in: a likely leak. Default: off.
   */
  readonly leakDetectionThreshold?: DurationInput | undefined
  /** How long a borrower waits for a connection. Finite, above zero. Default 30 seconds. */
  readonly connectionTimeout?: DurationInput | undefined
  /**
   * Bound on opening one connection; one that takes longer has failed (`ConnectionError` with reason
   * `OpenTimedOut`). Finite, above zero. Default 30 seconds.
   */
  readonly openTimeout?: DurationInput | undefined
  /** Time between health ticks of the maintenance fiber. Finite, above zero. Default 30 seconds. */
  readonly healthCheckInterval?: DurationInput | undefined
  /** Bound on one health check; one that takes longer has failed. Finite, above zero. Default 5 seconds. */
  readonly healthCheckTimeout?: DurationInput | undefined
  /** An idle connection unused this long is retired at the next tick. Above zero. Default 5 minutes. */
  readonly staleAfter?: DurationInput | undefined
  /** A connection whose score falls to this or below is retired. 0 to 100. Default 50. */
  readonly unhealthyScore?: number | undefined
  /** A connection with this many errors is retired. A positive integer. Default 5. */
  readonly maxErrors?: number | undefined
  /**
   * A time to live, as `Pool.makeWithTTL` has: with the `"usage"` strategy, connections above
   * `minConnections` idle this long are closed; with `"creation"`, every connection is closed this long
   * after it opened (a lent one when it comes back). Above zero. Default: infinite.
   */
  readonly timeToLive?: DurationInput | undefined
  /**
   * Every connection is closed after at most this long (a lent one when it comes back, never taken from
   * its borrower), less a random jitter of up to 2.5% so that connections opened together do not all
   * expire together. Replacements open up to `minConnections`. Above zero. Default: infinite.
   */
  readonly maxLifetime?: DurationInput | undefined
  /** Idle connections above `minConnections` unused this long are closed. Above zero. Default: infinite. */
  readonly idleTimeout?: DurationInput | undefined
  /**
   * When the pool closes, lent connections have this long to come back; then their borrowers are
   * interrupted (counted in `stats.interruptedAtShutdown`) and every connection is closed. Opens in flight
   * are interrupted where the connector allows it; one that cannot be interrupted is waited for (its
   * connection, if it comes, is closed at once) up to this bound as well, and the close then logs how many it
   * left to finish. Above zero. Default: infinite (closing waits for every borrower, and for opens that
   * cannot be interrupted up to `openTimeout`).
   */
  readonly shutdownTimeout?: DurationInput | undefined
  /**
   * Retries a failed open after the schedule's delay (for instance `Schedule.exponential("100 millis")`
   * with `Schedule.jittered`), while borrowers wait or `minConnections` want connections. Waiters keep
   * waiting through the retries; at `connectionTimeout`, with nothing open, they fail with the last
   * `ConnectionError`. Default: no retry; with nothing open, a failed open fails every waiter at once.
   */
  readonly openRetry?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * After this many opens in a row fail, the breaker opens: borrowers that find no idle connection fail at
   * once with `PoolUnavailableError`, until `breakerResetAfter` has passed and a probe open succeeds. A
   * positive integer. Default: no breaker.
   */
  readonly breakerThreshold?: number | undefined
  /** How long the breaker stays open before one probe open is let through. Default 10 seconds. */
  readonly breakerResetAfter?: DurationInput | undefined
  /** How `timeToLive` is counted. Default `"usage"`. */
  readonly timeToLiveStrategy?: "usage" | "creation" | undefined
  /**
   * Record the metrics of `PoolMetrics` (gauges, counters, and wait, hold and open time histograms), tagged
   * with the pool's name. Default false: it reads the clock once more per borrow (see `PoolMetrics`).
   */
  readonly metrics?: boolean | undefined
  /**
   * Trace every borrow: the wait for a connection (and its validation) runs in a `connection-pool.borrow`
   * span naming the connection lent. Default false: a span costs more than a borrow. Opens
   * (`connection-pool.open`) and health ticks and checks (`connection-pool.health-tick`,
   * `connection-pool.check`) are always traced.
   */
  readonly traceBorrows?: boolean | undefined
  /**
   * The most opens in flight at once (MongoDB's drivers' name). Few opens at once, as HikariCP does, let
   * returned connections serve a burst of borrowers before new ones are needed, so a spike opens few
   * connections; with slow opens, more at once shortens the wait of a spike at the cost of more connections.
   * A positive integer. Default 2.
   *
   * @since 0.2.0
   */
  readonly maxConnecting?: number | undefined
  /**
   * How many borrowers may hold one connection at once (as `concurrency` in Effect's `Pool`). A whole number,
   * 1 or more. Default 1: each connection is lent to one borrower at a time.
   *
   * Above 1, the connection must carry several requests at once and match each reply to its request (as the
   * IPC connection of `@connection-pool/platform-node` does, or HTTP/2, or a pipelining client): a borrower
   * gets the least-loaded open connection with room, and waits (first come, first served, bounded by
   * `maxWaiting`) only when every connection carries `concurrency` borrowers and no more may open. Each
   * borrower has its own handle: `release`, `invalidate`, leak detection and `traceBorrows` are per loan. A
   * connection retired while shared (invalidated, unhealthy, disconnected, out of its lifetime) takes no new
   * borrower and closes when its last borrower gives it back. Faults of borrowers that shared a connection
   * count once (see the README's health score). Do not share connections that hold a transaction or session
   * state, or whose protocol cannot tell which reply is whose.
   *
   * Fixed for the pool's life: `resize` does not change it (exclusive and shared lending are different
   * structures, and a lower value could not be applied to connections already carrying more borrowers).
   */
  readonly concurrency?: number | undefined
  /**
   * With `concurrency` above 1: the share of the open connections' capacity (`open x concurrency`) that, once
   * held, makes the pool open another connection (within `maxConnections`) while borrowers still share the
   * ones open, as `targetUtilization` in Effect's `Pool`. Above 0, at most 1. Default 1: open another only
   * when every connection is full and a borrower waits. 0.5 opens another once half the capacity is held.
   */
  readonly targetUtilization?: number | undefined
}

/**
 * Whether a value is a `ConnectionPool`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionPool = (u: unknown): u is ConnectionPool<unknown> => hasProperty(u, TypeId)

/**
 * Builds a pool in the current scope; closing the scope stops lending, fails waiting borrowers with
 * `PoolClosedError`, waits for lent connections to come back and closes every connection.
 *
 * Fails with `InvalidPoolOptions` naming every bad option, and, with `warmUp`, with `ConnectionError` when
 * `minConnections` cannot be opened.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed({ send: (s: string) => s }) }))
 *   return yield* pool.use((connection) => Effect.succeed(connection.send("ping")))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <A, E, R>(
  connector: Connector.Connector<A, E, R>,
  options?: Options | undefined
) => Effect.Effect<ConnectionPool<A>, InvalidPoolOptions | ConnectionError, Scope.Scope | R> = internal.make

/**
 * A layer that builds a pool for the service `tag`. Define one tag per pool, so a program can hold
 * several pools of different connection types:
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Context, Effect } from "effect"
 *
 * interface Socket { readonly send: (s: string) => string }
 * class SocketPool extends Context.Tag("app/SocketPool")<SocketPool, ConnectionPool.ConnectionPool<Socket>>() {}
 *
 * const SocketPoolLive = ConnectionPool.layer(
 *   SocketPool,
 *   Connector.make({ open: Effect.succeed<Socket>({ send: (s) => s }) }),
 *   { maxConnections: 4 }
 * )
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* SocketPool
 *   const handle = yield* pool.get
 *   return handle.connection.send("ping")
 * }).pipe(Effect.scoped, Effect.provide(SocketPoolLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I, A, E, R>(
  tag: ServiceKey<I, ConnectionPool<A>>,
  connector: Connector.Connector<A, E, R>,
  options?: Options | undefined
) => Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> = internal.layer

/**
 * Like {@link layer}, with options read from `Config` (for instance environment variables). A value that
 * cannot be read or parsed fails with `InvalidPoolOptions` naming the option.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Config, Context, Effect } from "effect"
 *
 * class Pool extends Context.Tag("app/Pool")<Pool, ConnectionPool.ConnectionPool<string>>() {}
 *
 * const PoolLive = ConnectionPool.layerConfig(Pool, Connector.make({ open: Effect.succeed("connection") }), {
 *   maxConnections: Config.integer("POOL_MAX").pipe(Config.withDefault(10)),
 *   connectionTimeout: Config.duration("POOL_TIMEOUT").pipe(Config.withDefault("30 seconds"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: <I, A, E, R>(
  tag: ServiceKey<I, ConnectionPool<A>>,
  connector: Connector.Connector<A, E, R>,
  config: ConfigOf<Options>
) => Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> = internal.layerConfig

/**
 * Borrows a connection, runs `f` with it and returns it: `pool.use(f)` in data-first or data-last form.
 * The connection goes back when `f` ends, however it ends; a failure of `f` that the connector's `isFault`
 * counts is one of the connection's errors.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * interface Db { readonly query: (sql: string) => Effect.Effect<number> }
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(
 *     Connector.make({ open: Effect.succeed<Db>({ query: () => Effect.succeed(1) }) })
 *   )
 *   const one = yield* ConnectionPool.use(pool, (db) => db.query("select 1"))
 *   // data-last: annotate the connection, which the pool piped in cannot infer
 *   const two = yield* pool.pipe(ConnectionPool.use((db: Db) => db.query("select 2")))
 *   return one + two
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category borrowing
 */
export const use: {
  <A, B, E, R>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>
  ): (self: ConnectionPool<A>) => Effect.Effect<B, E | BorrowError, R>
  <A, B, E, R>(
    self: ConnectionPool<A>,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>
  ): Effect.Effect<B, E | BorrowError, R>
} = dual(
  2,
  <A, B, E, R>(
    self: ConnectionPool<A>,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>
  ): Effect.Effect<B, E | BorrowError, R> => self.use(f)
)

/**
 * Borrows a connection for the rest of the current scope: `pool.get`. Use it to run several effects on one
 * connection; wrap them in `Effect.scoped` to give the connection back as soon as they are done.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * interface Db { readonly query: (sql: string) => Effect.Effect<number> }
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(
 *     Connector.make({ open: Effect.succeed<Db>({ query: () => Effect.succeed(1) }) })
 *   )
 *   return yield* Effect.gen(function*() {
 *     const handle = yield* ConnectionPool.get(pool)
 *     yield* handle.connection.query("begin")
 *     const rows = yield* handle.connection.query("update accounts set balance = 0")
 *     yield* handle.connection.query("commit")
 *     return rows
 *   }).pipe(Effect.scoped) // the connection goes back here
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category borrowing
 */
export const get = <A>(self: ConnectionPool<A>): Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> =>
  self.get

/**
 * The one-line summary of some stats.
 *
 * @since 0.1.0
 * @category stats
 */
export const summary = (stats: PoolStats): string => stats.summary
