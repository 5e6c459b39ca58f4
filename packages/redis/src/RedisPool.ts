/**
 * A pool of Redis connections as a service: provide {@link layer} once, then borrow with {@link run},
 * {@link command}, {@link use} or {@link subscribe} from anywhere in the program.
 *
 * @since 0.1.0
 */
import type * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type * as PoolError from "@connection-pool/core/PoolError"
import type { RedisArgument } from "@redis/client"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as edge from "./internal/edge/effect.js"
import * as internal from "./internal/redisPool.js"
import type { Message, RedisClient, RedisConnection, RedisOptions } from "./RedisConnection.js"
import type { RedisError } from "./RedisError.js"

/**
 * What the {@link RedisPool} service offers. Every method borrows a connection, uses it and gives it back; a
 * connection error counts against that connection's health, an error reply does not.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The pool itself: `pool.stats`, `pool.events`, `pool.get` for several steps on one connection. */
  readonly pool: ConnectionPool.ConnectionPool<RedisConnection>
  /** Borrows a connection and runs node-redis commands on it: `run((client) => client.get("greeting"))`. */
  readonly run: <A>(f: (client: RedisClient) => Promise<A>) => Effect.Effect<A, RedisError | ConnectionPool.BorrowError>
  /** Borrows a connection and sends one command by name: `command("INCR", "visits")`. */
  readonly command: (
    ...args: ReadonlyArray<RedisArgument>
  ) => Effect.Effect<unknown, RedisError | ConnectionPool.BorrowError>
  /** Borrows a connection for the whole of `f`: a transaction (`connection.watch`), a series of blocking pops. */
  readonly use: <A, E, R>(
    f: (connection: RedisConnection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ConnectionPool.BorrowError, R>
  /** Borrows a connection for as long as the stream runs, subscribed to `channels`. */
  readonly subscribe: (
    channels: string | ReadonlyArray<string>
  ) => Stream.Stream<Message, RedisError | ConnectionPool.BorrowError>
}

/**
 * The pool as a service. Build it with {@link layer}.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisPool extends edge.ServiceClass<RedisPool, Service>()("@connection-pool/redis/RedisPool") {}

/**
 * Builds the service in the current scope: a pool of {@link RedisConnection.connector} connections. The pool is
 * named `redis <address>` unless `poolOptions.name` says otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: RedisOptions,
  poolOptions?: ConnectionPool.Options
) => Effect.Effect<Service, PoolError.InvalidPoolOptions | PoolError.ConnectionError, Scope.Scope> = internal.make

/**
 * A layer providing {@link RedisPool}: where to connect, and the pool's options (`maxConnections`,
 * `connectionTimeout`, ... as `ConnectionPool.Options`).
 *
 * @example
 * ```ts
 * import { RedisPool } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * const RedisLive = RedisPool.layer({ host: "127.0.0.1", port: 6379 }, { maxConnections: 8 })
 * const program = RedisPool.run((client) => client.incr("visits")).pipe(Effect.provide(RedisLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: RedisOptions,
  poolOptions?: ConnectionPool.Options
): Layer.Layer<RedisPool, PoolError.InvalidPoolOptions | PoolError.ConnectionError> =>
  edge.scopedLayer(RedisPool, make(options, poolOptions))

/**
 * Runs node-redis commands on a pooled connection.
 *
 * @example
 * ```ts
 * import { RedisPool } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   yield* RedisPool.run((client) => client.set("greeting", "hello"))
 *   return yield* RedisPool.run((client) => client.get("greeting")) // "hello"
 * })
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const run = <A>(
  f: (client: RedisClient) => Promise<A>
): Effect.Effect<A, RedisError | ConnectionPool.BorrowError, RedisPool> =>
  Effect.flatMap(RedisPool, (service) => service.run(f))

/**
 * Sends one command by name on a pooled connection.
 *
 * @since 0.1.0
 * @category accessors
 */
export const command = (
  ...args: ReadonlyArray<RedisArgument>
): Effect.Effect<unknown, RedisError | ConnectionPool.BorrowError, RedisPool> =>
  Effect.flatMap(RedisPool, (service) => service.command(...args))

/**
 * Borrows one connection for the whole of `f`: what needs a connection of its own.
 *
 * @example
 * ```ts
 * import { RedisPool } from "@connection-pool/redis"
 * import { Effect, Schedule } from "effect"
 *
 * // Optimistic locking: WATCH, read, write in MULTI/EXEC; run again when another client changed the key.
 * const double = RedisPool.use((redis) =>
 *   redis.watch(
 *     "balance",
 *     Effect.gen(function*() {
 *       const balance = Number(yield* redis.run((client) => client.get("balance")))
 *       return yield* redis.run((client) => client.multi().set("balance", String(balance * 2)).exec())
 *     })
 *   )
 * ).pipe(Effect.retry({ schedule: Schedule.recurs(5), while: (e) => e._tag === "RedisCommandError" }))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const use = <A, E, R>(
  f: (connection: RedisConnection) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ConnectionPool.BorrowError, R | RedisPool> =>
  Effect.flatMap(RedisPool, (service) => service.use(f))

/**
 * Subscribes to `channels` on a connection borrowed for as long as the stream runs.
 *
 * @example
 * ```ts
 * import { RedisPool } from "@connection-pool/redis"
 * import { Stream } from "effect"
 *
 * const firstTen = RedisPool.subscribe("news").pipe(Stream.take(10), Stream.runCollect)
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const subscribe = (
  channels: string | ReadonlyArray<string>
): Stream.Stream<Message, RedisError | ConnectionPool.BorrowError, RedisPool> =>
  Stream.unwrap(Effect.map(RedisPool, (service) => service.subscribe(channels)))
