import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Address } from "../IpcAddress.js"
import { InvalidIpcOptions, type OptionIssue, SocketDirectoryError } from "../IpcError.js"

const isWindows = process.platform === "win32"

export const isPipePath = (p: string): boolean => /^[\\/]{2}[.?][\\/]pipe[\\/]/i.test(p)

export const format = (address: Address): string => {
  if ("path" in address) return `${isPipePath(address.path) ? "pipe" : "unix"}:${address.path}`
  return address.host.includes(":") ? `tcp:[${address.host}]:${address.port}` : `tcp:${address.host}:${address.port}`
}

/** The uid this process runs as; undefined where there are none (Windows). */
export const currentUid = (): number | undefined => typeof process.getuid === "function" ? process.getuid() : undefined

/** Why `directory` may not hold sockets: it must be a directory (not a link), the user's, with no group/other access. */
const checkPrivate = (directory: string, uid: number): SocketDirectoryError | undefined => {
  let stats: fs.Stats
  try {
    stats = fs.lstatSync(directory)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return new SocketDirectoryError({ reason: "CreateFailed", directory, code, cause: error })
  }
  if (!stats.isDirectory()) return new SocketDirectoryError({ reason: "NotADirectory", directory })
  if (stats.uid !== uid) {
    return new SocketDirectoryError({ reason: "WrongOwner", directory, owner: stats.uid, expectedOwner: uid })
  }
  if ((stats.mode & 0o077) !== 0) {
    return new SocketDirectoryError({ reason: "OpenToOthers", directory, mode: stats.mode & 0o777 })
  }
  return undefined
}

/**
 * The user's private directory for sockets: `$XDG_RUNTIME_DIR` when it is set and private to the user, otherwise
 * `<os.tmpdir()>/connection-pool-<uid>`, created with mode 0700 if missing and refused if it is not private.
 */
export const socketDirectory: Effect.Effect<string, SocketDirectoryError> = Effect.suspend(() => {
  const uid = currentUid()!
  const runtime = process.env.XDG_RUNTIME_DIR
  if (runtime !== undefined && path.isAbsolute(runtime) && checkPrivate(runtime, uid) === undefined) {
    return Effect.succeed(runtime)
  }
  const directory = path.join(os.tmpdir(), `connection-pool-${uid}`)
  try {
    fs.mkdirSync(directory, { mode: 0o700 })
    // The umask may have taken bits away from 0700 (the owner's own included): set them as they must be.
    fs.chmodSync(directory, 0o700)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== "EEXIST") {
      return Effect.fail(new SocketDirectoryError({ reason: "CreateFailed", directory, code, cause: error }))
    }
  }
  const refused = checkPrivate(directory, uid)
  return refused === undefined ? Effect.succeed(directory) : Effect.fail(refused)
})

const invalidName = (name: unknown): InvalidIpcOptions =>
  new InvalidIpcOptions({
    reason: "InvalidAddress",
    issues: [{ field: "name", value: name, message: "must be a non-empty name without a slash, a backslash or NUL" }]
  })

export const localPath = (name: string): Effect.Effect<string, SocketDirectoryError | InvalidIpcOptions> =>
  Effect.suspend((): Effect.Effect<string, SocketDirectoryError | InvalidIpcOptions> => {
    if (typeof name !== "string" || name.length === 0 || /[\\/\0]/.test(name) || name === "." || name === "..") {
      return Effect.fail(invalidName(name))
    }
    if (isWindows) return Effect.succeed(`\\\\.\\pipe\\${name}`)
    return Effect.map(socketDirectory, (directory) => path.join(directory, `${name}.sock`))
  })

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
