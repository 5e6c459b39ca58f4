/**
 * Where an IPC server listens and a connector connects.
 * An address is a Unix domain socket path, a Windows named pipe, or a TCP host and port.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/address.js"

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
 * A local socket path for `name`: a named pipe `\\.\pipe\<name>` on Windows, `<os.tmpdir()>/<name>.sock`
 * elsewhere.
 *
 * @example
 * ```ts
 * import { IpcAddress, IpcServer } from "@connection-pool/platform-node"
 * import { Effect } from "effect"
 *
 * const program = IpcServer.make({ path: IpcAddress.localPath("my-app"), handler: IpcServer.echoHandler }).pipe(
 *   Effect.flatMap((server) => Effect.log(`listening on ${IpcAddress.format(server.address)}`)),
 *   Effect.scoped
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const localPath: (name: string) => string = internal.localPath
