/**
 * The errors of the IPC connector, channel and server.
 * Each is a tagged error with a `reason` literal that says what happened and, where there is one, the `cause`
 * that led to it.
 *
 * @since 0.1.0
 */
import * as PoolError from "@connection-pool/core/PoolError"
import type * as Cause from "effect/Cause"
import { hasProperty } from "effect/Predicate"
import { hasFailure } from "./internal/edge/effect.js"

/**
 * The symbol that marks an error of this package (see {@link isIpcError}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@connection-pool/platform-node/IpcError")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Whether a value is one of the errors of this package (any {@link IpcError}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isIpcError = (u: unknown): u is IpcError => hasProperty(u, TypeId)

/**
 * Why a socket failed.
 *
 * - `PathNotFound`: nothing exists at the socket path (`ENOENT`); the server is not running.
 * - `ConnectionRefused`: nothing listens at the address (`ECONNREFUSED`); the server is down or restarting.
 * - `ConnectFailed`: connecting failed for another reason; see `code`.
 * - `ConnectTimeout`: connecting took longer than `connectTimeout`.
 * - `Closed`: the peer closed the connection.
 * - `Reset`: the connection was reset (`ECONNRESET`, `EPIPE`).
 * - `IoFailed`: another error on an established connection; see `code`.
 * - `Abandoned`: more than 256 requests on the connection were interrupted before their replies and the server
 *   has answered none of them since: it has stopped answering, so the connection was closed. (One interrupted
 *   request leaves the connection open: its late reply is dropped.)
 * - `ClosedLocally`: the connection was closed by its owner (its pool or scope).
 * - `WrongOwner`: the Unix socket file belongs to another user than the connector's `socketOwner` (by default the
 *   user this process runs as); nothing was sent. `owner` is the uid found, `expectedOwner` the one required.
 *
 * @since 0.1.0
 * @category models
 */
export type SocketErrorReason =
  | "PathNotFound"
  | "ConnectionRefused"
  | "ConnectFailed"
  | "ConnectTimeout"
  | "Closed"
  | "Reset"
  | "IoFailed"
  | "Abandoned"
  | "ClosedLocally"
  | "WrongOwner"

/**
 * The fields shared by the errors of a socket address: the address, and the system's errno code.
 *
 * @since 0.2.0
 * @category models
 */
export interface AddressFailure {
  /** The address, as `unix:<path>`, `pipe:<path>` or `tcp:<host>:<port>`. */
  readonly address: string
  /** The errno code (`ENOENT`, `ECONNREFUSED`, `ECONNRESET`, ...) where the system gave one. */
  readonly code?: string | undefined
  readonly cause?: unknown
}

/** `"<address>: <what> (<code>)"`, the code where there is one. */
const describeAddressFailure = (failure: AddressFailure, what: string): string =>
  `${failure.address}: ${what}${failure.code === undefined ? "" : ` (${failure.code})`}`

/**
 * A socket could not be opened, or an open one failed or closed. The connection it happened on is closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class SocketError extends PoolError.TypeIdError(TypeId, "SocketError")<
  AddressFailure & {
    readonly reason: SocketErrorReason
    /** With `WrongOwner`: the uid that owns the socket file. @since 0.2.0 */
    readonly owner?: number | undefined
    /** With `WrongOwner`: the uid required (the connector's `socketOwner`). @since 0.2.0 */
    readonly expectedOwner?: number | undefined
  }
> {
  /** @since 0.1.0 */
  override get message(): string {
    return describeAddressFailure(
      this,
      this.reason === "WrongOwner"
        ? `the socket file is owned by uid ${this.owner}, not uid ${this.expectedOwner}`
        : socketMessages[this.reason]
    )
  }
}

const socketMessages: Record<SocketErrorReason, string> = {
  PathNotFound: "no socket at this path",
  ConnectionRefused: "connection refused",
  ConnectFailed: "could not connect",
  ConnectTimeout: "timed out connecting",
  Closed: "the peer closed the connection",
  Reset: "the connection was reset",
  IoFailed: "socket error",
  Abandoned: "more than 256 requests were interrupted before their replies; the connection was closed",
  ClosedLocally: "the connection is closed",
  WrongOwner: "the socket file is owned by another user"
}

/**
 * Why the byte stream could not be read or written as frames, or a payload could not be encoded or decoded.
 *
 * - `MalformedFrame`: a header with a bad magic byte or an unknown frame type (garbage on the wire).
 * - `TruncatedFrame`: the stream ended in the middle of a frame.
 * - `FrameTooLarge`: a payload above `maxFrameSize`; with `direction: "send"` nothing was sent and the
 *   connection is intact, with `direction: "receive"` the connection is closed.
 * - `UnexpectedFrame`: a well-formed frame that does not answer anything pending (a wrong id or type).
 * - `PingTimeout`: the server did not answer a health ping within `pingTimeout`.
 * - `ReplyTimeout`: a request waited `requestTimeout` with no byte from the server; the connection is closed.
 * - `EncodeFailed` / `DecodeFailed`: a typed request or reply did not match its schema, or was not JSON. The
 *   connection is intact.
 *
 * @since 0.1.0
 * @category models
 */
export type ProtocolErrorReason =
  | "MalformedFrame"
  | "TruncatedFrame"
  | "FrameTooLarge"
  | "UnexpectedFrame"
  | "PingTimeout"
  | "ReplyTimeout"
  | "EncodeFailed"
  | "DecodeFailed"

/**
 * The peer broke the protocol, or a payload did not fit it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends PoolError.TypeIdError(TypeId, "ProtocolError")<{
  readonly reason: ProtocolErrorReason
  /** Whether the problem was found in what this side sends or what it receives. */
  readonly direction: "send" | "receive"
  readonly detail: string
  /** For `FrameTooLarge`: the payload size. */
  readonly size?: number | undefined
  /** For `FrameTooLarge`: the limit it broke. */
  readonly limit?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * What the server said went wrong, carried by an error frame.
 *
 * - `HandlerFailed`: the server's handler failed with an error.
 * - `HandlerDefect`: the server's handler died (a defect).
 * - `ReplyTooLarge`: the handler's reply was above the server's `maxFrameSize`.
 * - `ProtocolViolation`: the server rejected what this side sent (for instance a request above the server's
 *   `maxFrameSize`) and closed the connection.
 * - `Unauthorized`: the server takes a token (its `auth` option) and this connection's was wrong or missing (see
 *   the connector's `auth`); the server closed the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type RemoteErrorReason =
  | "HandlerFailed"
  | "HandlerDefect"
  | "ReplyTooLarge"
  | "ProtocolViolation"
  | "Unauthorized"

/**
 * The server answered a request with an error frame. Except for `ProtocolViolation`, the connection is intact.
 *
 * @since 0.1.0
 * @category errors
 */
export class RemoteError extends PoolError.TypeIdError(TypeId, "RemoteError")<{
  readonly reason: RemoteErrorReason
  /** The server's message. */
  readonly detail: string
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `server: ${this.reason}: ${this.detail}`
  }
}

/**
 * One rejected option: the field, the value given and what was wrong with it (the core's own model).
 *
 * @since 0.1.0
 * @category models
 */
export type OptionIssue = PoolError.OptionIssue

/**
 * Connector or server options were rejected; `issues` names every bad field with its value.
 *
 * - `InvalidAddress`: the path, host or port is missing, malformed or out of range.
 * - `InvalidValue`: another option is out of range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidIpcOptions extends PoolError.TypeIdError(TypeId, "InvalidIpcOptions")<{
  readonly reason: "InvalidAddress" | "InvalidValue"
  readonly issues: ReadonlyArray<OptionIssue>
}> {
  /** The names of the rejected fields. @since 0.1.0 */
  get fields(): ReadonlyArray<string> {
    return this.issues.map((issue) => issue.field)
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid IPC options: ${PoolError.formatOptionIssues(this.issues)}`
  }
}

/**
 * The server could not start listening.
 *
 * - `AddressInUse`: another live server holds the address (`EADDRINUSE`).
 * - `ListenFailed`: listening failed for another reason; see `code`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends PoolError.TypeIdError(TypeId, "ServerError")<
  AddressFailure & { readonly reason: "AddressInUse" | "ListenFailed" }
> {
  /** @since 0.1.0 */
  override get message(): string {
    return describeAddressFailure(this, this.reason === "AddressInUse" ? "address in use" : "could not listen")
  }
}

/**
 * The directory `IpcAddress.localPath` puts sockets in could not be made private to the user:
 *
 * - `NotADirectory`: something else (a file, a symbolic link) is at its path.
 * - `WrongOwner`: it belongs to another user (`owner`) than the one this process runs as (`expectedOwner`).
 * - `OpenToOthers`: its group or other users have some access to it (`mode`); it must be 0700.
 * - `CreateFailed`: it could not be created or inspected; see `code`.
 *
 * It is never used as it is: a directory another user controls would let them take the socket's place.
 *
 * @since 0.2.0
 * @category errors
 */
export class SocketDirectoryError extends PoolError.TypeIdError(TypeId, "SocketDirectoryError")<{
  readonly reason: "NotADirectory" | "WrongOwner" | "OpenToOthers" | "CreateFailed"
  /** The directory's path. */
  readonly directory: string
  /** The uid owning it, where it was found. */
  readonly owner?: number | undefined
  /** The uid this process runs as. */
  readonly expectedOwner?: number | undefined
  /** Its permission bits, where it was found. */
  readonly mode?: number | undefined
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.2.0 */
  override get message(): string {
    const what = this.reason === "NotADirectory"
      ? "is not a directory"
      : this.reason === "WrongOwner"
      ? `is owned by uid ${this.owner}, not uid ${this.expectedOwner}`
      : this.reason === "OpenToOthers"
      ? `has mode 0${(this.mode ?? 0).toString(8)}: group or other users have access, it must be 0700`
      : `could not be created${this.code === undefined ? "" : ` (${this.code})`}`
    return `socket directory ${this.directory} ${what}`
  }
}

/**
 * What a request can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestError = SocketError | ProtocolError | RemoteError

/**
 * Any error of this package.
 *
 * @since 0.1.0
 * @category models
 */
export type IpcError =
  | SocketError
  | ProtocolError
  | RemoteError
  | InvalidIpcOptions
  | ServerError
  | SocketDirectoryError

/**
 * Whether an error means the connection it happened on is broken: every `SocketError`, and every
 * `ProtocolError` found in what was received. A `RemoteError`, an encoding failure or a payload refused before
 * sending leaves the connection intact and is not its fault.
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionFault = (u: unknown): boolean => {
  // By tag, not `instanceof`: a program loading both the ESM and the CommonJS build has two copies of each class.
  if (!isIpcError(u)) return false
  if (u._tag === "SocketError") return true
  if (u._tag === "ProtocolError") return u.direction === "receive" && u.reason !== "DecodeFailed"
  return false
}

/**
 * Whether a cause holds a failure that {@link isConnectionFault} says broke the connection. Used as the
 * connector's `isFault`, so that a borrower's own errors do not count against a healthy connection.
 *
 * @since 0.1.0
 * @category guards
 */
export const causeIsConnectionFault = (cause: Cause.Cause<unknown>): boolean => hasFailure(cause, isConnectionFault)
