import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import type { Address } from "../IpcAddress.js"
import { ServerError } from "../IpcError.js"
import { format, isPipePath } from "./address.js"
import { callback, catchAll } from "./edge/effect.js"

const listenOnce = (
  server: net.Server,
  address: Address,
  backlog: number
): Effect.Effect<void, NodeJS.ErrnoException> =>
  callback<void, NodeJS.ErrnoException>((resume) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.removeListener("listening", onListening)
      resume(Exit.fail(error))
    }
    const onListening = () => {
      server.removeListener("error", onError)
      resume(Exit.void)
    }
    server.once("error", onError)
    server.once("listening", onListening)
    if ("path" in address) server.listen({ path: address.path, backlog })
    else server.listen({ host: address.host, port: address.port, backlog })
  })

/** Whether something answers at a socket path. */
const answers = (path: string): Effect.Effect<boolean> =>
  callback<boolean>((resume) => {
    const probe = net.createConnection({ path })
    probe.once("connect", () => {
      probe.destroy()
      resume(Exit.succeed(true))
    })
    probe.once("error", () => {
      probe.destroy()
      resume(Exit.succeed(false))
    })
  })

/** The identity of a file: the same device and inode is the same file, whatever happened to its name. */
interface FileId {
  readonly dev: number
  readonly ino: number
}

/** The socket file at `path`, or undefined if there is none (or something else is there). */
const socketId = (path: string): FileId | undefined => {
  try {
    const stats = fs.lstatSync(path)
    return stats.isSocket() ? { dev: stats.dev, ino: stats.ino } : undefined
  } catch {
    return undefined
  }
}

const sameFile = (a: FileId | undefined, b: FileId | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino

/**
 * Takes the lock that one server at a time holds while it takes over a stale path: a file `<path>.lock` created
 * exclusively, holding the pid. A lock whose process is gone (it died while taking over) is broken once. Returns
 * the release, or undefined when another live server (of this process or another) holds it.
 */
const takeOverLock = (path: string): (() => void) | undefined => {
  const lockPath = `${path}.lock`
  const create = (): boolean => {
    try {
      const fd = fs.openSync(lockPath, "wx", 0o600)
      try {
        fs.writeSync(fd, String(process.pid))
      } finally {
        fs.closeSync(fd)
      }
      return true
    } catch {
      return false
    }
  }
  if (!create()) {
    if (lockHolderAlive(lockPath)) return undefined
    fs.rmSync(lockPath, { force: true })
    if (!create()) return undefined
  }
  return () => fs.rmSync(lockPath, { force: true })
}

/** Whether the process named in a lock file runs; a lock being written (no pid yet, 10 s at most) counts as held. */
const lockHolderAlive = (lockPath: string): boolean => {
  try {
    const pid = Number(fs.readFileSync(lockPath, "utf8"))
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - fs.statSync(lockPath).mtimeMs < 10_000
    process.kill(pid, 0)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // ENOENT: released meanwhile (held a moment ago); EPERM: a process of another user runs with that pid.
    return code !== "ESRCH"
  }
}

/**
 * A Unix socket path left behind by a server that died without closing (killed, crashed) keeps its name taken
 * although nobody listens. Remove it and listen there, under the take-over lock (so that two servers starting at
 * once never both remove a file and bind, nor one remove the other's new file: a filesystem may give the new
 * file the inode number of the stale one), and only if it is a socket that nothing answers on and still the same
 * file as before the probe.
 */
const takeOverStaleSocket = (
  path: string,
  relisten: Effect.Effect<void, NodeJS.ErrnoException>,
  inUse: NodeJS.ErrnoException
): Effect.Effect<void, NodeJS.ErrnoException> =>
  Effect.acquireUseRelease(
    Effect.sync(() => takeOverLock(path)),
    (release) => {
      if (release === undefined) return Effect.fail(inUse)
      const before = socketId(path)
      if (before === undefined) return Effect.fail(inUse)
      return Effect.flatMap(answers(path), (live) => {
        if (live || !sameFile(before, socketId(path))) return Effect.fail(inUse)
        try {
          fs.unlinkSync(path)
        } catch {
          return Effect.fail(inUse)
        }
        return relisten
      })
    },
    (release) => Effect.sync(() => release?.())
  )

/** What listening needs of the server's options. */
export interface ListenOptions {
  readonly address: Address
  readonly backlog: number
  readonly removeStaleSocket: boolean
  /** The permission bits of a Unix socket file. */
  readonly mode: number
}

/** How to stop listening. */
export interface Listening {
  /**
   * Closes the listener (calling back once its connections are closed too). Node unlinks a Unix socket's path
   * when its listener closes, whatever file is there by then: a file that is no longer this server's (another
   * server's, after this one's was removed) is moved aside for that instant and put back.
   */
  readonly close: (onClosed: () => void) => void
}

/**
 * Listens on a Unix socket path; a stale socket there is removed (when allowed, and only if it is still the file
 * that refused the probe) and listening tried once more. The socket file is given its mode right after binding.
 */
const listenUnix = (
  server: net.Server,
  options: ListenOptions,
  path: string
): Effect.Effect<Listening, NodeJS.ErrnoException> =>
  listenOnce(server, { path }, options.backlog).pipe(
    catchAll((error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" && options.removeStaleSocket
        ? takeOverStaleSocket(path, listenOnce(server, { path }, options.backlog), error)
        : Effect.fail(error)
    ),
    // The file this server bound, taken at once: in the same turn of the event loop as the bind.
    Effect.map(() => socketId(path)),
    Effect.tap(() =>
      // Listening, but not as asked: stop, rather than serve a socket anyone may reach.
      Effect.tapError(setMode({ path }, options.mode), () => Effect.sync(() => server.close()))
    ),
    Effect.map((own): Listening => ({
      close: (onClosed) => {
        const found = socketId(path)
        if (found === undefined || sameFile(found, own)) return void server.close(() => onClosed())
        const aside = `${path}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`
        let moved = false
        try {
          fs.renameSync(path, aside)
          moved = true
        } catch {
          // Could not move it: Node's unlink below may then remove it, which nothing here can prevent.
        }
        // Node unlinks the path synchronously, within `close`.
        server.close(() => onClosed())
        if (moved) fs.renameSync(aside, path)
      }
    }))
  )

const plainListening = (server: net.Server): Listening => ({ close: (onClosed) => void server.close(() => onClosed()) })

/**
 * Gives a socket file its mode whatever the umask made it: who may connect is the server's decision, not the
 * environment's.
 */
const setMode = (address: Address, mode: number): Effect.Effect<void, NodeJS.ErrnoException> =>
  "path" in address && !isPipePath(address.path)
    ? Effect.try({
      try: () => fs.chmodSync(address.path, mode),
      catch: (error) => error as NodeJS.ErrnoException
    })
    : Effect.void

/**
 * Listens on the address. A Unix socket path held by a dead server's file is taken over (when allowed) without
 * ever removing a live server's file. Fails with `ServerError` (`AddressInUse` or `ListenFailed`).
 */
export const listen = (server: net.Server, options: ListenOptions): Effect.Effect<Listening, ServerError> => {
  const address = options.address
  const toServerError = (error: NodeJS.ErrnoException) =>
    new ServerError({
      reason: error.code === "EADDRINUSE" ? "AddressInUse" : "ListenFailed",
      address: format(address),
      code: error.code,
      cause: error
    })
  const listening: Effect.Effect<Listening, NodeJS.ErrnoException> = "path" in address
    ? isPipePath(address.path)
      ? Effect.as(listenOnce(server, address, options.backlog), plainListening(server))
      : listenUnix(server, options, address.path)
    : Effect.as(listenOnce(server, address, options.backlog), plainListening(server))
  return Effect.mapError(listening, toServerError)
}
