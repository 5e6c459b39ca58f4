/**
 * `@connection-pool/platform-node`: IPC connections for Node.js, and pools of them for `@connection-pool/core`.
 * Connections go over Unix domain sockets, Windows named pipes or TCP and speak length-prefixed frames; the
 * package has a `Connector`, a ready-made pool and a server for the same protocol. Each module is re-exported
 * here as a namespace and can also be imported on its own (`@connection-pool/platform-node/IpcPool`).
 *
 * @since 0.1.0
 */

/**
 * The wire format: length-prefixed frames.
 *
 * @since 0.1.0
 */
export * as Frame from "./Frame.js"

/**
 * Socket paths, named pipes and TCP addresses.
 *
 * @since 0.1.0
 */
export * as IpcAddress from "./IpcAddress.js"

/**
 * One connection with a request/response channel.
 *
 * @since 0.1.0
 */
export * as IpcConnection from "./IpcConnection.js"

/**
 * A `Connector` for `@connection-pool/core`.
 *
 * @since 0.1.0
 */
export * as IpcConnector from "./IpcConnector.js"

/**
 * The errors of this package.
 *
 * @since 0.1.0
 */
export * as IpcError from "./IpcError.js"

/**
 * A pool of IPC connections and pooled requests.
 *
 * @since 0.1.0
 */
export * as IpcPool from "./IpcPool.js"

/**
 * An IPC server speaking the same protocol.
 *
 * @since 0.1.0
 */
export * as IpcServer from "./IpcServer.js"

/**
 * Test tooling: handlers that make an `IpcServer` misbehave.
 *
 * @since 0.1.0
 */
export * as IpcServerFaults from "./IpcServerFaults.js"
