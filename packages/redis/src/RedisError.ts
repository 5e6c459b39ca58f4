/**
 * The errors of Redis connections and commands. Each is a tagged error naming the server (`host:port` or
 * `unix:path`) and a `reason`, with the client's own error as its `cause`.
 *
 * Only a {@link RedisConnectionError} is the connection's fault: a pool retires a connection that failed so. A
 * {@link RedisCommandError} is the server's answer to one command (`-ERR unknown command`, `-WRONGTYPE`, a
 * transaction aborted by `WATCH`); the connection is as good as before.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import { hasProperty } from "effect/Predicate"
import * as internal from "./internal/errors.js"

/**
 * The symbol that marks an error of this module (see {@link isRedisError}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@connection-pool/redis/RedisError")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Why a connection failed.
 *
 * - `Unreachable`: the server could not be reached (refused, no such host or socket path).
 * - `ConnectTimeout`: connecting and the handshake did not finish within `connectTimeout`.
 * - `AuthFailed`: the server refused the credentials (`WRONGPASS`, `NOAUTH`, an `AUTH` error).
 * - `HandshakeFailed`: the server refused another step of the handshake (`SELECT`, `CLIENT SETNAME`).
 * - `Closed`: the connection closed or broke: the server killed it (`CLIENT KILL`, a restart), the
 *   network dropped it, or a command was interrupted while in flight and the connection was closed.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionFailure = "Unreachable" | "ConnectTimeout" | "AuthFailed" | "HandshakeFailed" | "Closed"

/**
 * The connection failed or could not be opened. The connection is unusable afterwards and a pool retires it;
 * with a retry policy, the command can run again on another connection.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * // Nothing listens on port 1: the error names the server and the reason.
 * const program = RedisConnection.connect({ port: 1 }).pipe(
 *   Effect.catchTag("RedisConnectionError", (error) => Effect.log(error.message)), // redis 127.0.0.1:1: Unreachable ...
 *   Effect.scoped
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisConnectionError extends Data.TaggedError("RedisConnectionError")<{
  readonly reason: ConnectionFailure
  /** The server: `host:port` or `unix:path`. */
  readonly address: string
  /** The system's or the server's error code where there is one (`ECONNREFUSED`, `WRONGPASS`). */
  readonly code?: string | undefined
  readonly cause: unknown
}> {
  /**
   * Marks the error as one of this module's (see {@link isRedisError}).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `redis ${this.address}: ${this.reason}${internal.describe(this.code, this.cause)}`
  }
}

/**
 * Why a command failed while its connection stayed fine.
 *
 * - `ErrorReply`: the server answered with an error (`-ERR`, `-WRONGTYPE`, `-NOSCRIPT`, ...).
 * - `TransactionAborted`: `EXEC` did not run the transaction because a `WATCH`ed key changed.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandFailure = "ErrorReply" | "TransactionAborted"

/**
 * The server refused a command, or aborted a transaction whose watched keys changed. Not the connection's
 * fault: a pool keeps lending the connection.
 *
 * @example
 * ```ts
 * import { RedisPool } from "@connection-pool/redis"
 * import { Effect } from "effect"
 *
 * // A misspelt command: a typed failure with the server's code, the connection goes back to the pool as it was.
 * const program = RedisPool.command("INCRR", "counter").pipe(
 *   Effect.catchTag("RedisCommandError", (error) => Effect.succeed(`${error.code}: ${error.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisCommandError extends Data.TaggedError("RedisCommandError")<{
  readonly reason: CommandFailure
  /** The server: `host:port` or `unix:path`. */
  readonly address: string
  /** The error reply's first word (`ERR`, `WRONGTYPE`, ...); `EXECABORT` for an aborted transaction. */
  readonly code: string
  readonly cause: unknown
}> {
  /**
   * Marks the error as one of this module's (see {@link isRedisError}).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `redis ${this.address}: ${this.reason}${internal.describe(undefined, this.cause)}`
  }
}

/**
 * Any error of this module.
 *
 * @since 0.1.0
 * @category models
 */
export type RedisError = RedisConnectionError | RedisCommandError

/**
 * Whether a value is one of the errors of this module (any {@link RedisError}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isRedisError = (u: unknown): u is RedisError => hasProperty(u, TypeId)

/**
 * Whether a borrower's failure was the connection's fault: a {@link RedisConnectionError} anywhere in the cause,
 * as a failure or a defect. Error replies, aborted transactions, the borrower's own errors and interruption are
 * not. Recognised by tag, so a program that loads two copies of this package still agrees with itself.
 *
 * @example
 * ```ts
 * import { RedisError } from "@connection-pool/redis"
 * import { Cause } from "effect"
 *
 * const reply = new RedisError.RedisCommandError({ reason: "ErrorReply", address: "127.0.0.1:6379", code: "ERR", cause: "" })
 * RedisError.isFault(Cause.fail(reply)) // false: the connection is fine
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFault: (cause: Cause.Cause<unknown>) => boolean = internal.isFault
