import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fs from "node:fs"
import * as net from "node:net"
import type { Address } from "../IpcAddress.js"
import { ServerError } from "../IpcError.js"
import { format, isPipePath } from "./address.js"

const listenOnce = (
  server: net.Server,
  address: Address,
  backlog: number
): Effect.Effect<void, NodeJS.ErrnoException> =>
  Effect.async<void, NodeJS.ErrnoException>((resume) => {
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
  Effect.async<boolean>((resume) => {
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

/**
 * A Unix socket path left behind by a server that died without closing (killed, crashed) makes `listen` fail with
 * `EADDRINUSE` although nobody listens. Remove it, but only if it is a socket and nothing answers on it.
 */
const removeStaleSocket = (path: string): Effect.Effect<boolean> =>
  Effect.flatMap(answers(path), (live) =>
    live ? Effect.succeed(false) : Effect.sync(() => {
      try {
        if (!fs.lstatSync(path).isSocket()) return false
        fs.unlinkSync(path)
        return true
      } catch {
        return false
      }
    }))

/** What listening needs of the server's options. */
export interface ListenOptions {
  readonly address: Address
  readonly backlog: number
  readonly removeStaleSocket: boolean
  /** The permission bits of a Unix socket file. */
  readonly mode: number
}

/**
 * Gives the socket file its mode right after it is bound, whatever the umask made it: who may connect is the
 * server's decision, not the environment's. The file is created by `bind` with the umask's mode, so a peer that
 * connects in the instant before this is only stopped by the directory's permissions (see `IpcAddress.localPath`).
 */
const setMode = (address: Address, mode: number): Effect.Effect<void, NodeJS.ErrnoException> =>
  "path" in address && !isPipePath(address.path)
    ? Effect.try({
      try: () => fs.chmodSync(address.path, mode),
      catch: (error) => error as NodeJS.ErrnoException
    })
    : Effect.void

/**
 * Listens on the address; a Unix socket path left by a dead server is removed (when allowed) and listening tried
 * once more. Fails with `ServerError` (`AddressInUse` or `ListenFailed`).
 */
export const listen = (server: net.Server, options: ListenOptions): Effect.Effect<void, ServerError> => {
  const address = options.address
  const toServerError = (error: NodeJS.ErrnoException) =>
    new ServerError({
      reason: error.code === "EADDRINUSE" ? "AddressInUse" : "ListenFailed",
      address: format(address),
      code: error.code,
      cause: error
    })
  return listenOnce(server, address, options.backlog).pipe(
    Effect.catchAll((error) =>
      error.code === "EADDRINUSE" && "path" in address && !isPipePath(address.path) && options.removeStaleSocket
        ? Effect.flatMap(
          removeStaleSocket(address.path),
          (removed) => removed ? listenOnce(server, address, options.backlog) : Effect.fail(error)
        )
        : Effect.fail(error)
    ),
    Effect.zipRight(Effect.suspend(() =>
      // Listening, but not as asked: stop, rather than serve a socket anyone may reach.
      Effect.tapError(setMode(address, options.mode), () => Effect.sync(() => server.close()))
    )),
    Effect.mapError(toServerError)
  )
}
