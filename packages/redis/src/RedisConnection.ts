/**
 * One Redis connection on [node-redis](https://github.com/redis/node-redis) (`@redis/client`), and the
 * `Connector` that lets a pool open, check and judge them.
 *
 * node-redis multiplexes one socket among its callers, which suits single commands. What needs a connection of
 * its own is what this package pools: transactions (`WATCH` / `MULTI` / `EXEC`), blocking commands (`BLPOP`),
 * subscribers. Each connection's client is told never to reconnect and never to queue commands while offline:
 * the pool replaces a broken connection, so a command either runs on a live connection or fails at once.
 *
 * @since 0.1.0
 */
import type * as Connector from "@connection-pool/core/Connector"
import type { RedisArgument, RedisClientType } from "@redis/client"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/connection.js"
import type { DurationInput } from "./internal/edge/effect.js"
import type { RedisConnectionError, RedisError } from "./RedisError.js"

/**
 * The symbol that marks a `RedisConnection`.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as never

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A node-redis client (RESP3, its default), with every command typed as node-redis types it: `client.incr(key)`
 * is a `Promise<number>`.
 *
 * @since 0.1.0
 * @category models
 */
export type RedisClient = RedisClientType

/**
 * A message a subscriber received.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly channel: string
  readonly message: string
}

/**
 * One open connection. Every command goes through `run` (node-redis's typed commands) or
 * `command` (any command by name), and fails with a typed {@link RedisError}.
 *
 * A command interrupted while in flight (a timeout, a borrower that gave up) closes the connection: the server
 * may still be blocked in `BLPOP` for it or between `MULTI` and `EXEC`, and no later borrower should see that.
 * A pool replaces the closed connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisConnection {
  readonly [TypeId]: TypeId
  /**
   * The node-redis client. Prefer `run`, which turns its rejections into typed errors
   * and closes the connection when interrupted in flight.
   */
  readonly client: RedisClient
  /** The server: `host:port` or `unix:path`. */
  readonly address: string
  /** Whether the connection is open: false once the server or the network closed it, or it was closed. */
  readonly isOpen: boolean
  /**
   * Runs node-redis commands on this connection: `run((client) => client.incr("visits"))`. A rejection becomes
   * a `RedisCommandError` (an error reply, an aborted transaction) or a `RedisConnectionError` (the connection
   * broke); anything else thrown is a defect.
   */
  readonly run: <A>(f: (client: RedisClient) => Promise<A>) => Effect.Effect<A, RedisError>
  /** Sends any command by name: `command("CLIENT", "ID")`. The reply is as node-redis decodes it (RESP3). */
  readonly command: (...args: ReadonlyArray<RedisArgument>) => Effect.Effect<unknown, RedisError>
  /** `PING`: the pool's health check. */
  readonly ping: Effect.Effect<void, RedisError>
  /**
   * `WATCH`es `keys`, then runs `body`, which reads and ends with a transaction (`client.multi()...exec()`).
   * If a watched key changed, `EXEC` fails with a `RedisCommandError` of reason `TransactionAborted` (retry the
   * whole of it). A body that fails or ends without `EXEC` is followed by `UNWATCH`, so nothing is left
   * watched for the connection's next borrower.
   */
  readonly watch: <A, E, R>(
    keys: string | ReadonlyArray<string>,
    body: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RedisError, R>
  /**
   * Subscribes to `channels` for as long as the stream runs, then unsubscribes. The stream fails with a
   * `RedisConnectionError` if the connection closes meanwhile.
   */
  readonly subscribe: (channels: string | ReadonlyArray<string>) => Stream.Stream<Message, RedisError>
  /** Closes the connection now (its scope would close it anyway). */
  readonly close: Effect.Effect<void>
}

/**
 * Where and how to connect. With none of `url`, `host`, `port` and `path`, the server is `127.0.0.1:6379`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions {
  /** `redis://[[username][:password]@][host][:port][/database]`, read by node-redis. */
  readonly url?: string | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Default 6379. */
  readonly port?: number | undefined
  /** A Unix socket path (Redis's `unixsocket`); when given, `host` and `port` are ignored. */
  readonly path?: string | undefined
  /** The ACL user for `AUTH` (Redis 6+). Default: the `default` user. */
  readonly username?: string | undefined
  /** The password for `AUTH`, when the server wants one. */
  readonly password?: string | undefined
  /** The database to `SELECT`. Default 0. */
  readonly database?: number | undefined
  /**
   * `CLIENT SETNAME` on every connection: it shows in `CLIENT LIST`, so an operator can find (or
   * `CLIENT KILL`) exactly this program's connections. No spaces.
   */
  readonly clientName?: string | undefined
  /**
   * Bound on opening one connection: the TCP connect and the handshake (`HELLO`, `AUTH`, `SELECT`,
   * `CLIENT SETNAME`). Default 10 seconds.
   */
  readonly connectTimeout?: DurationInput | undefined
}

/**
 * Whether a value is a `RedisConnection`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRedisConnection: (u: unknown) => u is RedisConnection = internal.isRedisConnection

/**
 * Opens one connection in the current scope (closing the scope closes it), bounded by `connectTimeout`. Fails
 * with a `RedisConnectionError` naming the server and the reason: `Unreachable`, `ConnectTimeout`, `AuthFailed`,
 * `HandshakeFailed`.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const redis = yield* RedisConnection.connect({ host: "127.0.0.1", port: 6379 })
 *   // blocks up to 1 second for an element: a command that needs a connection of its own
 *   return yield* redis.run((client) => client.blPop("jobs", 1))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (options?: RedisOptions) => Effect.Effect<RedisConnection, RedisConnectionError, Scope.Scope> =
  internal.connect

/**
 * What a pool needs: `open` ({@link connect}), `PING` as the health check, `isOpen` from the client's state
 * (false too for a connection returned still `WATCH`ing or subscribed, which is retired rather than lent so), and
 * `isFault` true for connection errors only: an error reply is the command's failure, not the connection's.
 *
 * @example
 * ```ts
 * import { ConnectionPool } from "@connection-pool/core"
 * import { RedisConnection } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(RedisConnection.connector({ clientName: "my-app" }), { maxConnections: 4 })
 *   return yield* pool.use((redis) => redis.run((client) => client.incr("visits")))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connector: (options?: RedisOptions) => Connector.Connector<RedisConnection, RedisConnectionError> =
  internal.connector
