import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import type { Address } from "../IpcAddress.js"
import type { InvalidIpcOptions, ServerError } from "../IpcError.js"
import type { Handler, IpcServer, Options, ServerStats, TypeId as IpcServerTypeId } from "../IpcServer.js"
import {
  callback,
  type Forker,
  fromOutcome,
  makeForker,
  type RunningFiberOf,
  scopedLayer,
  serviceKey
} from "./edge/effect.js"
import { listen, type Listening } from "./listen.js"
import { type ConnectionHost, ServerConnection, ServerCounters } from "./serverConnection.js"
import { type ResolvedServerOptions, resolveServerOptions } from "./serverOptions.js"

export { type RawConnection, takeOverReply } from "./serverConnection.js"

/** @internal */
export const TypeId: IpcServerTypeId = Symbol.for("@connection-pool/platform-node/IpcServer") as IpcServerTypeId

/** @internal */
export const tag = serviceKey<IpcServer>("@connection-pool/platform-node/IpcServer")

export const echoHandler: Handler = (payload) => Effect.succeed(payload)

// ---- the server --------------------------------------------------------------------------------------------------

interface Waiter {
  readonly predicate: (open: number) => boolean
  readonly resume: (exit: Exit.Exit<number>) => void
}

class ServerImpl<E, R> implements IpcServer, ConnectionHost<E, R> {
  readonly [TypeId]: IpcServerTypeId = TypeId
  readonly connections = new Set<ServerConnection<E, R>>()
  readonly waiters = new Set<Waiter>()
  readonly runFork: Forker<R>
  address: Address
  closing = false
  readonly counters = new ServerCounters()
  accepted = 0
  peakOpen = 0

  constructor(readonly options: ResolvedServerOptions<E, R>, runFork: Forker<R>) {
    this.address = options.address
    this.runFork = runFork
  }

  readonly onConnection = (socket: net.Socket): void => {
    if (this.closing) {
      socket.destroy()
      return
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.counters.closed.TooManyConnections++
      socket.destroy()
      return
    }
    const connection = new ServerConnection(this, socket, ++this.accepted)
    this.connections.add(connection)
    if (this.connections.size > this.peakOpen) this.peakOpen = this.connections.size
    this.notify()
  }

  removed(connection: ServerConnection<E, R>): void {
    if (this.connections.delete(connection)) this.notify()
  }

  notify(): void {
    const open = this.connections.size
    for (const waiter of this.waiters) {
      if (waiter.predicate(open)) {
        this.waiters.delete(waiter)
        waiter.resume(Exit.succeed(open))
      }
    }
  }

  get stats(): Effect.Effect<ServerStats> {
    return Effect.sync(() => ({
      open: this.connections.size,
      accepted: this.accepted,
      peakOpen: this.peakOpen,
      requests: this.counters.requests,
      queuedBytes: this.queuedBytes(),
      peakQueuedBytes: this.counters.peakQueuedBytes,
      backpressurePauses: this.counters.backpressurePauses,
      inFlightPauses: this.counters.inFlightPauses,
      closed: { ...this.counters.closed }
    }))
  }

  private queuedBytes(): number {
    let queued = 0
    for (const connection of this.connections) queued += connection.socket.writableLength
    return queued
  }

  get openConnections(): Effect.Effect<number> {
    return Effect.sync(() => this.connections.size)
  }

  get totalAccepted(): Effect.Effect<number> {
    return Effect.sync(() => this.accepted)
  }

  awaitOpenConnections(predicate: (open: number) => boolean): Effect.Effect<number> {
    return callback<number>((resume) => {
      const open = this.connections.size
      if (predicate(open)) return resume(Exit.succeed(open))
      const waiter: Waiter = { predicate, resume }
      this.waiters.add(waiter)
      return Effect.sync(() => {
        this.waiters.delete(waiter)
      })
    })
  }

  get closeConnections(): Effect.Effect<number> {
    return Effect.sync(() => {
      const all = Array.from(this.connections)
      for (const connection of all) connection.socket.destroy()
      return all.length
    })
  }

  get resetConnections(): Effect.Effect<number> {
    return Effect.sync(() => {
      const all = Array.from(this.connections)
      for (const connection of all) connection.reset()
      return all.length
    })
  }

  get resetPeak(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.peakOpen = this.connections.size
    })
  }
}

const closeServer = <E, R>(server: net.Server, impl: ServerImpl<E, R>, listening: Listening): Effect.Effect<void> =>
  Effect.suspend(() => {
    impl.closing = true
    const fibers: Array<RunningFiberOf<Uint8Array, E>> = []
    for (const connection of impl.connections) {
      fibers.push(...connection.fibers)
      connection.socket.destroy()
    }
    return Fiber.interruptAll(fibers).pipe(
      // `close` calls back once every connection's handle and the listener's are closed.
      Effect.andThen(callback<void>((resume) => {
        listening.close(() => resume(Exit.void))
      }))
    )
  })

export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<IpcServer, ServerError | InvalidIpcOptions, Scope.Scope | R> =>
  Effect.flatMap(
    fromOutcome(resolveServerOptions(options)),
    (resolved) =>
      Effect.flatMap(makeForker<R>(), (runFork) => {
        const impl = new ServerImpl(resolved, runFork)
        const server = net.createServer({ noDelay: resolved.noDelay }, impl.onConnection)
        return Effect.acquireRelease(
          Effect.map(listen(server, resolved), (listening) => {
            const bound = server.address()
            if (bound !== null && typeof bound === "object") impl.address = { host: bound.address, port: bound.port }
            return [impl, listening] as const
          }),
          ([, listening]) => closeServer(server, impl, listening)
        ).pipe(Effect.map(([impl]) => impl))
      })
  )

export const layer = <E, R>(options: Options<E, R>): Layer.Layer<IpcServer, ServerError | InvalidIpcOptions, R> =>
  scopedLayer(tag, make(options))

/** Completes when the parent process that forked this one disconnects its IPC channel (for instance by dying). */
const parentGone: Effect.Effect<void> = callback<void>((resume) => {
  if (process.send === undefined) return
  if (!process.connected) return resume(Exit.void)
  const onDisconnect = () => resume(Exit.void)
  process.once("disconnect", onDisconnect)
  return Effect.sync(() => {
    process.removeListener("disconnect", onDisconnect)
  })
})

export const serveProcess = <E, R>(
  options: Options<E, R>
): Effect.Effect<void, ServerError | InvalidIpcOptions, R> =>
  Effect.scoped(
    Effect.flatMap(make(options), (server) =>
      Effect.andThen(
        Effect.sync(() => {
          process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid, address: server.address })}\n`)
        }),
        parentGone
      ))
  )
