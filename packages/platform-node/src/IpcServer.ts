/**
 * An IPC server speaking the same frames as `IpcConnection`.
 * It runs a handler per request, answers pings, and reports its connections. It runs in-process as a scoped
 * effect or layer, or as its own process (`serveProcess`, and the entry script `src/bin/server.ts`).
 *
 * To test clients against a server that misbehaves (garbage, cut frames, hang-ups, silence), see the test tooling
 * in `IpcServerFaults`: it wraps a handler of this module, and this one stays free of it.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { hasProperty } from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { DurationInput, ServiceKey } from "./internal/edge/effect.js"
import type { SchemaOf } from "./internal/edge/schema.js"
import * as internalSchema from "./internal/schema.js"
import * as internal from "./internal/server.js"
import type { Address } from "./IpcAddress.js"
import type { InvalidIpcOptions, ProtocolError, ServerError } from "./IpcError.js"

/**
 * The symbol that marks an `IpcServer`.
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
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface IpcServer {
  readonly [TypeId]: TypeId
  /** The address it listens on; with `port: 0`, the port actually bound. Spreads into connector options. */
  readonly address: Address
  /** Connections open now, accepted in all, the most open at once, requests received. */
  readonly stats: Effect.Effect<ServerStats>
  /** Connections open now. */
  readonly openConnections: Effect.Effect<number>
  /** Connections accepted since the server started. */
  readonly totalAccepted: Effect.Effect<number>
  /**
   * Waits until the number of open connections satisfies `predicate` (checked at once, then on every accept and
   * close) and returns it. Bound it with `Effect.timeout`.
   */
  readonly awaitOpenConnections: (predicate: (open: number) => boolean) => Effect.Effect<number>
  /** Closes every open connection (a FIN to the client); returns how many. */
  readonly closeConnections: Effect.Effect<number>
  /**
   * Resets every open connection: an RST over TCP (the client sees `ECONNRESET`), an abrupt close over a path or
   * pipe. Returns how many.
   */
  readonly resetConnections: Effect.Effect<number>
  /** Starts `peakOpen` again from the connections open now. */
  readonly resetPeak: Effect.Effect<void>
}

/**
 * Counts of a server's connections and requests, as returned by `stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerStats {
  /** Connections open now. */
  readonly open: number
  /** Connections accepted since the server started. */
  readonly accepted: number
  /** The most connections open at once (since the start or the last `resetPeak`). */
  readonly peakOpen: number
  /** Request frames received. */
  readonly requests: number
  /** Reply bytes queued for writing now, on all connections (a client that does not read makes them grow). */
  readonly queuedBytes: number
  /** The most reply bytes queued on one connection at once, since the server started; at most `maxQueuedBytes`. */
  readonly peakQueuedBytes: number
  /** How many times a connection stopped being read because its queued replies passed `writeHighWaterMark`. */
  readonly backpressurePauses: number
  /** How many times a connection stopped being read because it had `maxInFlight` requests being handled. */
  readonly inFlightPauses: number
  /** Connections the server closed itself, by reason (a client's own close is not counted). */
  readonly closed: Readonly<Record<CloseReason, number>>
}

/**
 * Why the server closed a connection itself:
 *
 * - `ProtocolViolation`: the client sent something that is not a valid request or ping (bad magic byte, unknown
 *   type, a frame above `maxFrameSize`, a frame type a client may not send). The server writes an error frame on
 *   id 0, stops reading, and destroys the socket once the frame is flushed (after 1 second at most).
 *
 * - `WriteQueueFull`: a reply would have taken the bytes queued for the client past `maxQueuedBytes` (the client
 *   sends requests but does not read the replies). The reply is dropped and the socket destroyed.
 * - `IdleTimeout`: no byte either way for `idleTimeout`, and no request being handled.
 * - `FrameDeadline`: a frame began to arrive and was not complete within `frameDeadline` (a slow sender).
 * - `TooManyConnections`: accepted while `maxConnections` were open; destroyed at once.
 * - `Unauthorized`: the server takes a token (`auth`) and the connection's first frame was not it (a wrong token,
 *   or another frame), or nothing came within `frameDeadline` of connecting. The server writes an error frame on
 *   id 0 that says only that authentication failed, and destroys the socket.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseReason =
  | "ProtocolViolation"
  | "WriteQueueFull"
  | "IdleTimeout"
  | "FrameDeadline"
  | "TooManyConnections"
  | "Unauthorized"

/**
 * The service tag of a server built by {@link layer}.
 *
 * @since 0.1.0
 * @category tags
 */
export const IpcServer: ServiceKey<IpcServer, IpcServer> = internal.tag

/**
 * Whether a value is an `IpcServer`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isIpcServer = (u: unknown): u is IpcServer => hasProperty(u, TypeId)

/**
 * What a handler learns about the request besides its payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInfo {
  /** The server's number for the connection, from 1 in order of acceptance. */
  readonly connectionId: number
  /** The request's id on its connection. */
  readonly requestId: number
}

/**
 * Handles one request. Its failure is sent back as an error frame, `RemoteError` of reason `"HandlerFailed"`,
 * carrying what the handler chose to expose: a tagged error's `_tag` and `message` (`"NotFound: no user 7"`), an
 * error's message, or a string. Nothing else of the error is sent: a failure that is none of these gets a generic
 * message with a correlation id, logged on the server with the failure. A defect (or a throw) is an error frame
 * `"HandlerDefect"` with a generic message and a correlation id (see `exposeDefects`); a reply above
 * `maxFrameSize` is `"ReplyTooLarge"`.
 * Requests on one connection are handled concurrently and answered as they finish. A handler still running when
 * its connection closes is interrupted.
 *
 * @example
 * ```ts
 * import type { IpcServer } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const upperCase: IpcServer.Handler = (payload) =>
 *   Effect.succeed(new TextEncoder().encode(new TextDecoder().decode(payload).toUpperCase()))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E = never, R = never> = (
  payload: Uint8Array,
  request: RequestInfo
) => Effect.Effect<Uint8Array, E, R>

/**
 * Server options. Give a `path` (a Unix socket path or a Windows named pipe), or a `port` (0 for any free port)
 * with an optional `host`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> {
  /** A Unix domain socket path or a Windows named pipe. Not with `host` or `port`. */
  readonly path?: string | undefined
  /** The TCP host. Default `"127.0.0.1"`. */
  readonly host?: string | undefined
  /** The TCP port, 0 to 65535; 0 binds any free port (see `address`). */
  readonly port?: number | undefined
  /** Handles each request. */
  readonly handler: Handler<E, R>
  /**
   * The largest payload, in bytes, a frame may carry, in both directions. A client frame above it is a protocol
   * violation (an error frame, then the connection is destroyed; see {@link CloseReason}). Default 16 MiB
   * (16777216).
   */
  readonly maxFrameSize?: number | undefined
  /** Whether to answer pings. `false` makes every health check time out (for tests). Default `true`. */
  readonly answerPings?: boolean | undefined
  /** Disables Nagle's algorithm on accepted TCP connections. Default `true`. */
  readonly noDelay?: boolean | undefined
  /**
   * Whether a Unix socket file left by a server that died without closing may be removed, if it is a socket
   * and nothing answers on it. Default `true`.
   */
  readonly removeStaleSocket?: boolean | undefined
  /** The length of the queue of connections waiting to be accepted. Default 511 (Node's). */
  readonly backlog?: number | undefined
  /**
   * Whether error frames describe defects in full (the defect's message, or the JSON of a value that is not an
   * `Error`), as a reply that is not bytes. For development only: a defect can carry anything (a secret, a
   * connection string) and the client sees it all. Default `false`: the client gets a generic message with a
   * correlation id, and the details go to the server's log under the same `correlationId`.
   */
  readonly exposeDefects?: boolean | undefined
  /**
   * Bytes of replies queued for one client past which the server stops reading that client's requests, until
   * the queue has drained (the client reads again). A client that sends requests and never reads cannot make the
   * server queue replies without bound. Default 1 MiB (1048576).
   */
  readonly writeHighWaterMark?: number | undefined
  /**
   * The most bytes of replies queued for one client: a reply that would go past it closes the connection (a
   * {@link CloseReason} of `"WriteQueueFull"`, counted in `stats`). At least `writeHighWaterMark` and
   * `maxFrameSize` + 10, so that one reply of the largest size always fits. Default 64 MiB, or twice
   * `maxFrameSize` + 10 when that is more.
   */
  readonly maxQueuedBytes?: number | undefined
  /**
   * The most connections open at once; one accepted beyond it is destroyed at once (counted in `stats` as
   * `closed.TooManyConnections`). Default 1024.
   */
  readonly maxConnections?: number | undefined
  /**
   * The most requests of one connection handled at once. At the cap the server stops reading the connection
   * until a handler finishes (requests already read with the last chunk wait their turn, at most one read's
   * worth). Default 1024.
   */
  readonly maxInFlight?: number | undefined
  /**
   * How long a connection may stay with no byte either way and no request being handled before the server
   * closes it (`closed.IdleTimeout`). A pool's health pings keep its idle connections alive when its
   * `healthCheckInterval` is shorter. A Duration, milliseconds or `"5 minutes"`. Default 5 minutes.
   */
  readonly idleTimeout?: DurationInput | undefined
  /**
   * How long a frame may take to arrive once its first bytes have (`closed.FrameDeadline`): a client that
   * sends a header, then a byte now and then, is closed. Time the server itself is not reading (backpressure,
   * `maxInFlight`) is not counted. Default 30 seconds.
   */
  readonly frameDeadline?: DurationInput | undefined
  /**
   * The permission bits of the Unix socket file, set right after it is bound whatever the umask: who may connect
   * is decided here, not by the environment. Ignored for TCP and named pipes. Default `0o600`: only the user the
   * server runs as may connect (`0o660` lets the file's group in).
   */
  readonly mode?: number | undefined
  /**
   * A shared token every connection must send as its first frame (the connector's `auth` does it): over TCP, the
   * only way to keep out other local users and programs. Checked in constant time; a wrong or missing token, or
   * none within `frameDeadline` of connecting, closes the connection (`closed.Unauthorized`). The token is never
   * logged nor echoed, and no handler sees it. From 16 to 1024 bytes; a `Redacted` string keeps it out of logs.
   * Default: none (any peer that can reach the address may send requests).
   */
  readonly auth?: { readonly token: string | Redacted.Redacted<string> } | undefined
}

/**
 * Starts a server in the current scope; closing the scope closes every connection, interrupts running handlers
 * and stops listening (removing the socket file). Fails with `InvalidIpcOptions` naming every bad option, or a
 * `ServerError` when it cannot listen.
 *
 * @example
 * ```ts
 * import { IpcServer } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* IpcServer.make({ port: 0, handler: IpcServer.echoHandler })
 *   yield* Effect.log(`listening on port ${"port" in server.address ? server.address.port : "?"}`)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E, R>(
  options: Options<E, R>
) => Effect.Effect<IpcServer, ServerError | InvalidIpcOptions, Scope.Scope | R> = internal.make

/**
 * A layer running a server as the {@link IpcServer} service.
 *
 * @example
 * ```ts
 * import { IpcServer } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const ServerLive = IpcServer.layer({ path: "/tmp/app.sock", handler: IpcServer.echoHandler })
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* IpcServer.IpcServer
 *   const stats = yield* server.stats
 *   yield* Effect.log(`${stats.open} connections open, ${stats.requests} requests so far`)
 * }).pipe(Effect.provide(ServerLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <E, R>(options: Options<E, R>) => Layer.Layer<IpcServer, ServerError | InvalidIpcOptions, R> =
  internal.layer

/**
 * Runs a server as the main program of its own process: prints one line of JSON when listening
 * (`{"event":"ready","pid":...,"address":{...}}`) and serves until interrupted (run it with `NodeRuntime.runMain`
 * so that SIGINT and SIGTERM close it cleanly) or, when forked, until the parent disconnects.
 *
 * @since 0.1.0
 * @category running
 */
export const serveProcess: <E, R>(
  options: Options<E, R>
) => Effect.Effect<void, ServerError | InvalidIpcOptions, R> = internal.serveProcess

/**
 * Replies with the request's payload.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echoHandler: Handler = internal.echoHandler

/**
 * A typed handler: the request is decoded from JSON with `schemas.request`, the reply encoded as JSON with
 * `schemas.response`. A request that does not decode is answered with an error frame (`HandlerFailed`, the
 * `ProtocolError` of reason `"DecodeFailed"` as message).
 *
 * @example
 * ```ts
 * import { IpcPool, IpcServer } from "@connection-pool/platform-node"
 * import { Effect, Schema } from "effect"
 *
 * const Add = {
 *   request: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   response: Schema.Struct({ sum: Schema.Number })
 * }
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* IpcServer.make({
 *     port: 0,
 *     handler: IpcServer.schemaHandler(Add, ({ a, b }) => Effect.succeed({ sum: a + b }))
 *   })
 *   const pool = yield* IpcPool.make({ ...server.address })
 *   const { sum } = yield* IpcPool.requestSchema(Add)(pool, { a: 1, b: 2 })
 *   return sum // 3
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const schemaHandler = <A, I, RA, B, J, RB, E, R>(
  schemas: {
    readonly request: SchemaOf<A, I, RA>
    readonly response: SchemaOf<B, J, RB>
  },
  f: (request: A) => Effect.Effect<B, E, R>
): Handler<E | ProtocolError, R | RA | RB> => internalSchema.handler(schemas, f)
