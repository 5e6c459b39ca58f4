import * as os from "node:os"
import * as path from "node:path"
import type { Address } from "../IpcAddress.js"
import type { OptionIssue } from "../IpcError.js"

const isWindows = process.platform === "win32"

export const isPipePath = (p: string): boolean => /^[\\/]{2}[.?][\\/]pipe[\\/]/i.test(p)

export const format = (address: Address): string => {
  if ("path" in address) return `${isPipePath(address.path) ? "pipe" : "unix"}:${address.path}`
  return address.host.includes(":") ? `tcp:[${address.host}]:${address.port}` : `tcp:${address.host}:${address.port}`
}

export const localPath = (name: string): string =>
  isWindows ? `\\\\.\\pipe\\${name}` : path.join(os.tmpdir(), `${name}.sock`)

/** `sun_path` holds 108 bytes on Linux and 104 on macOS, including the terminating zero. */
const maxSocketPathBytes = process.platform === "linux" ? 107 : 103

export const defaultHost = "127.0.0.1"

/**
 * Validates an address given as separate `path`, `host` and `port` fields. `port: 0` is allowed only where
 * `allowAnyPort` (a server asking for any free port).
 */
export const resolveAddress = (
  options: { readonly path?: unknown; readonly host?: unknown; readonly port?: unknown },
  allowAnyPort: boolean
): { readonly address: Address | undefined; readonly issues: ReadonlyArray<OptionIssue> } => {
  const issues: Array<OptionIssue> = []
  const { host, path: socketPath, port } = options
  if (socketPath !== undefined) {
    if (port !== undefined || host !== undefined) {
      const field = port !== undefined ? "port" : "host"
      issues.push({ field, value: options[field], message: "give either a path or a host and port, not both" })
    }
    if (typeof socketPath !== "string" || socketPath.length === 0) {
      issues.push({ field: "path", value: socketPath, message: "must be a non-empty string" })
    } else if (socketPath.includes("\0")) {
      issues.push({ field: "path", value: socketPath, message: "must not contain a NUL character" })
    } else if (!isPipePath(socketPath) && Buffer.byteLength(socketPath) > maxSocketPathBytes) {
      issues.push({
        field: "path",
        value: socketPath,
        message: `a Unix socket path is at most ${maxSocketPathBytes} bytes, this one is ${
          Buffer.byteLength(socketPath)
        }`
      })
    }
    return { address: issues.length === 0 ? { path: socketPath as string } : undefined, issues }
  }
  if (port === undefined) {
    issues.push({ field: "port", value: port, message: "give a socket path, or a port (with an optional host)" })
  } else if (typeof port !== "number" || !Number.isInteger(port) || port < (allowAnyPort ? 0 : 1) || port > 65535) {
    issues.push({
      field: "port",
      value: port,
      message: `must be a whole number from ${allowAnyPort ? 0 : 1} to 65535`
    })
  }
  if (host !== undefined && (typeof host !== "string" || host.length === 0)) {
    issues.push({ field: "host", value: host, message: "must be a non-empty string" })
  }
  return {
    address: issues.length === 0
      ? { host: (host as string | undefined) ?? defaultHost, port: port as number }
      : undefined,
    issues
  }
}
