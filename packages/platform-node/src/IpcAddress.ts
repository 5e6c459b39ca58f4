/**
 * Where an IPC server listens and a connector connects.
 * An address is a Unix domain socket path, a Windows named pipe, or a TCP host and port.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as internal from "./internal/address.js"
import type { InvalidIpcOptions, SocketDirectoryError } from "./IpcError.js"

/**
 * A Unix domain socket path (`/tmp/app.sock`) or a Windows named pipe (`\\.\pipe\app`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PathAddress {
  readonly path: string
}

/**
 * A TCP address.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpAddress {
  readonly host: string
  readonly port: number
}

/**
 * An address a server listens on. It spreads straight into connector options:
 * `IpcConnector.make({ ...server.address })`.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = PathAddress | TcpAddress

/**
 * Whether an address is a socket path or named pipe rather than a TCP address.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPathAddress = (address: Address): address is PathAddress => "path" in address

/**
 * The address as text: `unix:<path>`, `pipe:<path>` or `tcp:<host>:<port>`. Used in errors.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (address: Address) => string = internal.format

/**
 * A local socket path for `name`, private to the user: `<dir>/<name>.sock` in a directory only the user may
 * enter (mode 0700), so that no other user can connect to the socket or take its place. The directory is
 * `$XDG_RUNTIME_DIR` when it is set and private to the user, otherwise `<os.tmpdir()>/connection-pool-<uid>`,
 * created with mode 0700 when missing. A directory there that is not a directory of the user's with no group or
 * other access (another user made it first, or a link) is never used: `SocketDirectoryError` says what was wrong.
 * On Windows, a named pipe `\\.\pipe\<name>`. A name that is empty or holds a slash, backslash or NUL fails with
 * `InvalidIpcOptions`.
 *
 * @example
 * ```ts
 * import { IpcAddress, IpcServer } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const path = yield* IpcAddress.localPath("my-app")
 *   const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
 *   yield* Effect.log(`listening on ${IpcAddress.format(server.address)}`)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const localPath: (name: string) => Effect.Effect<string, SocketDirectoryError | InvalidIpcOptions> =
  internal.localPath
