/**
 * Test tooling: makes an `IpcServer` misbehave, to test clients against a broken server (garbage on the wire,
 * frames cut short, headers announcing more than any client accepts, silence, hang-ups, resets).
 *
 * A faulty handler replies with a {@link Fault} instead of bytes; {@link handler} turns it into a plain
 * `IpcServer.Handler`, which acts each fault out on the request's connection. {@link scriptedHandler} does this
 * from the request's text. The production `IpcServer` knows nothing of faults: they exist only where a program
 * passes one of these handlers. Do not serve one to untrusted clients: any client can make it write garbage,
 * hang up or hold its requests.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/faults.js"
import type { Handler, RequestInfo } from "./IpcServer.js"

/**
 * What a faulty handler may reply instead of bytes:
 *
 * - `Garbage`: writes `bytes` as they are (not a frame).
 * - `Truncated`: writes the first half of a reply frame carrying `payload`, then closes the connection.
 * - `Oversized`: writes a reply header declaring `size` bytes (a whole number from 0 to 2^32 - 1), and no body.
 * - `NoReply`: writes nothing; the request is never answered.
 * - `Close`: closes the connection without replying.
 * - `Reset`: resets the connection (TCP) or closes it abruptly (path, pipe) without replying.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | { readonly _tag: "Garbage"; readonly bytes: Uint8Array }
  | { readonly _tag: "Truncated"; readonly payload: Uint8Array }
  | { readonly _tag: "Oversized"; readonly size: number }
  | { readonly _tag: "NoReply" }
  | { readonly _tag: "Close" }
  | { readonly _tag: "Reset" }

/**
 * A faulty handler's reply: the payload of the reply frame, or a {@link Fault}.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = Uint8Array | Fault

/**
 * A handler that may reply with a {@link Fault}. Serve it through {@link handler}.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultyHandler<E = never, R = never> = (
  payload: Uint8Array,
  request: RequestInfo
) => Effect.Effect<Reply, E, R>

/**
 * Turns a faulty handler into a plain `IpcServer.Handler`: bytes are the reply, as with any handler; a
 * {@link Fault} is acted out on the request's connection, and the server writes nothing else for that request.
 * A fault that cannot be written (an `Oversized` size outside 0 to 2^32 - 1) is a defect: the client gets an
 * error frame `HandlerDefect` (naming it when the server has `exposeDefects`). A fault only works on a request an `IpcServer` passed; called in any
 * other way the handler dies.
 *
 * @example
 * ```ts
 * import { IpcConnection, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * // Every third request hangs up on the client instead of answering.
 * let served = 0
 * const flaky = IpcServerFaults.handler((payload) =>
 *   Effect.sync(() => (++served % 3 === 0 ? IpcServerFaults.closeConnection : payload))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* IpcServer.make({ port: 0, handler: flaky })
 *   const connection = yield* IpcConnection.connect({ ...server.address })
 *   const hello = new TextEncoder().encode("hello")
 *   yield* connection.request(hello)
 *   yield* connection.request(hello)
 *   const error = yield* Effect.flip(connection.request(hello))
 *   return error._tag // "SocketError"
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler: <E, R>(faulty: FaultyHandler<E, R>) => Handler<E, R> = internal.handler

/**
 * A reply of bytes that are not a frame (by default an HTTP status line).
 *
 * @since 0.1.0
 * @category faults
 */
export const garbage: (bytes?: Uint8Array | undefined) => Fault = internal.garbage

/**
 * A reply frame cut in half, after which the connection is closed. By default the payload is 64 bytes.
 *
 * @since 0.1.0
 * @category faults
 */
export const truncated: (payload?: Uint8Array | undefined) => Fault = internal.truncated

/**
 * A reply header declaring `size` bytes of payload (a whole number from 0 to 2^32 - 1), with no body.
 *
 * @since 0.1.0
 * @category faults
 */
export const oversized: (size: number) => Fault = internal.oversized

/**
 * No reply at all.
 *
 * @since 0.1.0
 * @category faults
 */
export const noReply: Fault = internal.noReply

/**
 * Close the connection instead of replying.
 *
 * @since 0.1.0
 * @category faults
 */
export const closeConnection: Fault = internal.closeConnection

/**
 * Reset the connection instead of replying.
 *
 * @since 0.1.0
 * @category faults
 */
export const resetConnection: Fault = internal.resetConnection

/**
 * The error of {@link scriptedHandler}: reason `"Scripted"` for its `fail` command (`detail` is the text after
 * `fail:`), `"InvalidCommand"` for a command it cannot carry out (`detail` names the command and what is wrong).
 *
 * @since 0.1.0
 * @category errors
 */
export const ScriptedFailure: new(args: {
  readonly reason: "Scripted" | "InvalidCommand"
  readonly detail: string
}) => ScriptedFailure = internal.ScriptedFailure

/**
 * The type of a {@link ScriptedFailure} error; its message is its `detail`.
 *
 * @since 0.1.0
 * @category errors
 */
export interface ScriptedFailure extends Cause.YieldableError {
  readonly _tag: "ScriptedFailure"
  readonly reason: "Scripted" | "InvalidCommand"
  readonly detail: string
}

/**
 * A handler scripted by the request's text, to test clients against every kind of reply. Requests of at most 64
 * bytes are read as commands:
 *
 * - `garbage`, `truncated`, `oversized` (64 MiB) or `oversized:<bytes>`, `silent`, `close`, `reset`: the
 *   faults of the same names (`silent` is `NoReply`);
 * - `fail` or `fail:<message>`: fails with a {@link ScriptedFailure} (an error frame `HandlerFailed`);
 * - `die` or `die:<message>`: dies (an error frame `HandlerDefect`);
 * - `sleep:<ms>` or `sleep:<ms>:<text>`: waits, then replies with `<text>`;
 *
 * and anything else is echoed. A command it cannot carry out (`oversized:-1`, `oversized:5000000000`,
 * `sleep:soon`) fails with a {@link ScriptedFailure} of reason `"InvalidCommand"` naming it: the client gets an
 * error frame `HandlerFailed`, and the connection and the server go on.
 *
 * @example
 * ```ts
 * import { IpcConnection, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * // how does the client report a connection reset by the server?
 * const program = Effect.gen(function*() {
 *   const server = yield* IpcServer.make({ port: 0, handler: IpcServerFaults.scriptedHandler })
 *   const connection = yield* IpcConnection.connect({ ...server.address })
 *   const error = yield* Effect.flip(connection.request(new TextEncoder().encode("reset")))
 *   return error._tag // "SocketError"
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const scriptedHandler: Handler<ScriptedFailure> = internal.scriptedHandler
