/**
 * One IPC connection: a socket with a request/response channel of length-prefixed frames on top.
 *
 * A pool built with `IpcConnector` or `IpcPool` lends these; `connect` opens one on its own.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/connection.js"
import * as internalConnector from "./internal/connector.js"
import type { SchemaOf } from "./internal/edge/schema.js"
import * as internalSchema from "./internal/schema.js"
import type { Address } from "./IpcAddress.js"
import type { Options } from "./IpcConnector.js"
import type { InvalidIpcOptions, RequestError, SocketError } from "./IpcError.js"

/**
 * The symbol that marks an `IpcConnection`.
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
 * An open connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface IpcConnection {
  readonly [TypeId]: TypeId
  /** Where it is connected. */
  readonly address: Address
  /** The largest payload it sends or accepts. */
  readonly maxFrameSize: number
  /**
   * False once the connection is broken or closed: the peer closed or reset it, sent something that is not a
   * frame, or more than 256 requests on it were interrupted with their replies still owed (`Abandoned`). A
   * broken connection never recovers; a pool retires it.
   */
  readonly isOpen: boolean
  /** Requests and pings sent and not yet answered, and requests waiting for the socket to drain to be sent. */
  readonly pendingRequests: number
  /**
   * Sends `payload` as a request frame and waits for the reply's payload. Fails with a `RemoteError` if the server
   * answers with an error frame, a `ProtocolError` with reason `"FrameTooLarge"` (direction `"send"`, nothing
   * sent) if the payload is above `maxFrameSize`, and otherwise with the error that broke the connection.
   *
   * Requests are matched to replies by id: fibers sharing one connection never receive each other's replies.
   * Interrupting a request (for instance with `Effect.timeout`) after it was sent leaves the connection to the
   * other requests on it: its reply is dropped when it comes. Past 256 replies owed to interrupted requests at
   * once (a server that stopped answering), the connection is closed with `SocketError` `Abandoned`.
   *
   * Requests of one turn of the event loop go out in one write. When the server reads slower than requests are
   * written (the socket's buffer is above its high-water mark), further requests wait for it to drain, in order,
   * rather than queue without bound: the wait is bounded by the caller's own timeout and by the connector's
   * `requestTimeout`, and a request interrupted while it waits was never sent and leaves the connection intact.
   */
  readonly request: (payload: Uint8Array) => Effect.Effect<Uint8Array, RequestError>
  /**
   * Sends a ping frame and waits for the pong, at most the connector's `pingTimeout` (then a `ProtocolError` with
   * reason `"PingTimeout"`, and the connection is closed). The connector's health check.
   */
  readonly ping: Effect.Effect<void, RequestError>
}

/**
 * Whether a value is an `IpcConnection`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isIpcConnection = (u: unknown): u is IpcConnection => hasProperty(u, TypeId)

/**
 * Opens one connection, outside any pool, for the rest of the current scope. Fails with `InvalidIpcOptions`
 * for bad options and a `SocketError` when the connection cannot be made.
 *
 * @example
 * ```ts
 * import { IpcConnection } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const connection = yield* IpcConnection.connect({ path: "/tmp/app.sock", connectTimeout: "1 second" })
 *   const reply = yield* connection.request(new TextEncoder().encode("hello"))
 *   return new TextDecoder().decode(reply)
 * }).pipe(Effect.scoped) // closing the scope closes the connection
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (
  options: Options
) => Effect.Effect<IpcConnection, SocketError | InvalidIpcOptions, Scope.Scope> = internalConnector.connect

/**
 * `connection.request(payload)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { IpcConnection } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const encoder = new TextEncoder()
 *
 * const program = Effect.gen(function*() {
 *   const connection = yield* IpcConnection.connect({ host: "127.0.0.1", port: 7000 })
 *   // concurrent requests on one connection: each gets its own reply, matched by id
 *   return yield* Effect.all([
 *     IpcConnection.request(connection, encoder.encode("first")),
 *     IpcConnection.request(connection, encoder.encode("second"))
 *   ], { concurrency: "unbounded" })
 * }).pipe(Effect.scoped)
 *
 * // data-last
 * const once = IpcConnection.connect({ port: 7000 }).pipe(
 *   Effect.flatMap(IpcConnection.request(encoder.encode("once"))),
 *   Effect.scoped
 * )
 * ```
 *
 * @since 0.1.0
 * @category requests
 */
export const request: {
  (payload: Uint8Array): (self: IpcConnection) => Effect.Effect<Uint8Array, RequestError>
  (self: IpcConnection, payload: Uint8Array): Effect.Effect<Uint8Array, RequestError>
} = dual(2, (self: IpcConnection, payload: Uint8Array) => self.request(payload))

/**
 * A typed request: the value is encoded with `schemas.request` as JSON, the reply decoded from JSON with
 * `schemas.response`. Encoding and decoding failures are a `ProtocolError` with reason `"EncodeFailed"` or
 * `"DecodeFailed"`, and leave the connection intact.
 *
 * @example
 * ```ts
 * import { IpcConnection } from "@connection-pool/platform-node"
 * import { Schema } from "effect"
 *
 * const add = IpcConnection.requestSchema({
 *   request: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   response: Schema.Struct({ sum: Schema.Number })
 * })
 * // add(connection, { a: 1, b: 2 }): Effect<{ readonly sum: number }, RequestError>
 * ```
 *
 * @since 0.1.0
 * @category requests
 */
export const requestSchema = <A, I, RA, B, J, RB>(schemas: {
  readonly request: SchemaOf<A, I, RA>
  readonly response: SchemaOf<B, J, RB>
}): (self: IpcConnection, request: A) => Effect.Effect<B, RequestError, RA | RB> => {
  const send = internalSchema.typed(schemas)
  return (self, value) => send(value, (payload) => self.request(payload))
}
