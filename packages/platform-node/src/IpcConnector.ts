/**
 * A `Connector` for `@connection-pool/core` that opens IPC connections.
 * It connects over a Unix domain socket, a Windows named pipe or TCP, checks idle connections with a ping frame,
 * and retires broken ones.
 *
 * @since 0.1.0
 */
import type * as Connector from "@connection-pool/core/Connector"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/connector.js"
import type { DurationInput } from "./internal/edge/effect.js"
import type { IpcConnection } from "./IpcConnection.js"
import type { InvalidIpcOptions, SocketError } from "./IpcError.js"

/**
 * Connection options. Give a `path` (a Unix socket path or a Windows named pipe such as `\\.\pipe\app`), or a
 * `port` with an optional `host`. A duration is a `Duration`, a number of milliseconds or a string such as
 * `"5 seconds"`, above zero and at most 2^31-1 ms (about 24.8 days), as the pool's own options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A Unix domain socket path or a Windows named pipe. Not with `host` or `port`. */
  readonly path?: string | undefined
  /** The TCP host. Default `"127.0.0.1"`. */
  readonly host?: string | undefined
  /** The TCP port, 1 to 65535. */
  readonly port?: number | undefined
  /**
   * How long connecting may take before failing with a `SocketError` of reason `"ConnectTimeout"`. Default
   * 5 seconds.
   */
  readonly connectTimeout?: DurationInput | undefined
  /** TCP keep-alive probes on idle connections (ignored for paths and pipes). Default `true`. */
  readonly keepAlive?: boolean | undefined
  /** Idle time before the first keep-alive probe. Default 60 seconds. */
  readonly keepAliveInitialDelay?: DurationInput | undefined
  /** Disables Nagle's algorithm, so small requests go out at once (ignored for paths and pipes). Default `true`. */
  readonly noDelay?: boolean | undefined
  /**
   * The largest payload, in bytes, a frame may carry, enforced on both sends and receives. From 1 to 2^32 - 1.
   * Default 16 MiB (16777216).
   */
  readonly maxFrameSize?: number | undefined
  /** How long the health check waits for the pong to its ping. Default 3 seconds. */
  readonly pingTimeout?: DurationInput | undefined
  /**
   * How long a connection with a request waiting for its reply may go without a byte from the server (or to it)
   * before the request fails with a `ProtocolError` of reason `"ReplyTimeout"` and the connection is closed (a late
   * reply could not be told from trouble). It bounds a silent or stalled server even when the caller sets no
   * `Effect.timeout`; a reply that is slow but arrives within it is fine, and an idle connection is never closed
   * by it. Set it above the slowest reply your server's handler may take. Default 60 seconds.
   */
  readonly requestTimeout?: DurationInput | undefined
  /**
   * Whose Unix socket file this connector trusts: a uid, or `"any"`. Before connecting (and again once connected,
   * before anything is sent) the socket file's owner is checked; a socket of another user fails with a
   * `SocketError` of reason `"WrongOwner"` naming the uid found and the one expected, so that requests never go to
   * a server another user started at the path. Ignored for TCP and named pipes. Default: the uid this process
   * runs as (`"any"` where there are no uids).
   */
  readonly socketOwner?: number | "any" | undefined
  /**
   * A shared token for a server started with the same `auth` (see `IpcServer`): sent as the first frame of every
   * connection. A wrong token is answered with a `RemoteError` of reason `"Unauthorized"` and the connection is
   * closed. From 16 to 1024 bytes; give it as a `Redacted` string to keep it out of logs. Never logged or echoed.
   */
  readonly auth?: { readonly token: string | Redacted.Redacted<string> } | undefined
}

/**
 * Builds a connector, or fails with `InvalidIpcOptions` naming every bad option (for instance `port: 70000`).
 *
 * - `open` connects (failing with a `SocketError`: `PathNotFound`, `ConnectionRefused`, `ConnectTimeout`, ...);
 *   closing its scope destroys the socket and waits until the file descriptor is released.
 * - `check` pings the server, bounded by `pingTimeout`.
 * - `isOpen` is false once the connection is broken, so the pool retires it instead of lending it again.
 * - `isFault` counts only errors that broke the connection (`SocketError`, and `ProtocolError`s found in what was
 *   received): a borrower's own failures and the server's error replies do not count against it.
 *
 * @example
 * ```ts
 * import { ConnectionPool } from "@connection-pool/core"
 * import { IpcConnector } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const connector = yield* IpcConnector.make({ path: "/tmp/app.sock" })
 *   const pool = yield* ConnectionPool.make(connector, { maxConnections: 4 })
 *   return yield* pool.use((connection) => connection.request(new TextEncoder().encode("hello")))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<Connector.Connector<IpcConnection, SocketError>, InvalidIpcOptions> = internal.make
