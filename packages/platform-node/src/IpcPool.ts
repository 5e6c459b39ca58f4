/**
 * A `ConnectionPool` of IPC connections in one call, and requests that borrow, send and return.
 *
 * @since 0.1.0
 */
import type * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type { ConnectionError, InvalidPoolOptions } from "@connection-pool/core/PoolError"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ServiceKey } from "./internal/edge/effect.js"
import type { SchemaOf } from "./internal/edge/schema.js"
import * as internal from "./internal/pool.js"
import type { IpcConnection } from "./IpcConnection.js"
import type { Options } from "./IpcConnector.js"
import type { InvalidIpcOptions, RequestError } from "./IpcError.js"

/**
 * A pool of IPC connections.
 *
 * @since 0.1.0
 * @category models
 */
export type IpcPool = ConnectionPool.ConnectionPool<IpcConnection>

/**
 * Builds an `IpcConnector` and a pool on it in the current scope. The pool is named after the address unless
 * `poolOptions.name` says otherwise. Fails with `InvalidIpcOptions` or `InvalidPoolOptions` naming every bad
 * option.
 *
 * The pool shares its connections: an IPC connection matches replies to requests by id, so up to
 * `poolOptions.concurrency` borrowers (default 16, chosen from measurements: see the package README) hold one
 * connection at once, and a borrower waits only when every connection carries that many. `concurrency: 1` gives
 * each borrower a connection of its own (exclusive lending), for a server that keeps per-connection state. A
 * connection that breaks fails every request in flight on it, so retry idempotent requests on
 * `IpcError.isConnectionFault` (see `request`).
 *
 * @example
 * ```ts
 * import { IpcPool } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* IpcPool.make({ path: "/tmp/app.sock" }, { maxConnections: 10 })
 *   const reply = yield* IpcPool.request(pool, new TextEncoder().encode("hello")).pipe(Effect.timeout("1 second"))
 *   return new TextDecoder().decode(reply)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options,
  poolOptions?: ConnectionPool.Options | undefined
) => Effect.Effect<IpcPool, InvalidIpcOptions | InvalidPoolOptions | ConnectionError, Scope.Scope> = internal.make

/**
 * A layer that builds an IPC pool for the service `tag`.
 *
 * @example
 * ```ts
 * import { IpcPool } from "@connection-pool/platform-node"
 * import { Context, Effect } from "effect"
 *
 * class WorkerPool extends Context.Tag("app/WorkerPool")<WorkerPool, IpcPool.IpcPool>() {}
 *
 * const WorkerPoolLive = IpcPool.layer(WorkerPool, { path: "/run/worker.sock" }, { maxConnections: 8 })
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerPool
 *   return yield* IpcPool.request(pool, new TextEncoder().encode("status"))
 * }).pipe(Effect.provide(WorkerPoolLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <I>(
  tag: ServiceKey<I, IpcPool>,
  options: Options,
  poolOptions?: ConnectionPool.Options | undefined
) => Layer.Layer<I, InvalidIpcOptions | InvalidPoolOptions | ConnectionError> = internal.layer

/**
 * Borrows a connection, sends `payload` and returns the reply, giving the connection back. A connection broken by
 * the request (or by its interruption) is retired rather than given back; when it is shared, the other requests
 * in flight on it fail with it, each with its own typed error.
 *
 * @example
 * ```ts
 * import { IpcError, IpcPool } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* IpcPool.make({ port: 7000 })
 *   // an idempotent request: retry it on a fresh connection when the one it used broke
 *   return yield* pool.pipe(
 *     IpcPool.request(new TextEncoder().encode("status")),
 *     Effect.retry({ times: 2, while: IpcError.isConnectionFault })
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category requests
 */
export const request: {
  (payload: Uint8Array): (self: IpcPool) => Effect.Effect<Uint8Array, RequestError | ConnectionPool.BorrowError>
  (self: IpcPool, payload: Uint8Array): Effect.Effect<Uint8Array, RequestError | ConnectionPool.BorrowError>
} = dual(2, internal.request)

/**
 * A typed request on a pool: see `IpcConnection.requestSchema`.
 *
 * @example
 * ```ts
 * import { IpcPool } from "@connection-pool/platform-node"
 * import { Effect, Schema } from "effect"
 *
 * const add = IpcPool.requestSchema({
 *   request: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   response: Schema.Struct({ sum: Schema.Number })
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* IpcPool.make({ path: "/tmp/calculator.sock" })
 *   const { sum } = yield* add(pool, { a: 1, b: 2 })
 *   return sum
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category requests
 */
export const requestSchema: <A, I, RA, B, J, RB>(schemas: {
  readonly request: SchemaOf<A, I, RA>
  readonly response: SchemaOf<B, J, RB>
}) => (self: IpcPool, request: A) => Effect.Effect<B, RequestError | ConnectionPool.BorrowError, RA | RB> =
  internal.requestSchema
