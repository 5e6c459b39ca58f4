/**
 * Where an IPC server listens and a connector connects: a Unix domain socket path, a Windows named pipe, or a
 * TCP host and port.
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
 * @since 0.1.0
 * @category constructors
 */
export const localPath: (name: string) => string = internal.localPath
