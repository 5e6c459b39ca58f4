import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import type { Address } from "../IpcAddress.js"
import type { InvalidIpcOptions, OptionIssue, ServerError } from "../IpcError.js"
import type { Handler, IpcServer, Options, RequestInfo, ServerStats, TypeId as IpcServerTypeId } from "../IpcServer.js"
import { resolveAddress } from "./address.js"
import { Decoder, emptyPayload, encodeErrorPayload, type ErrorCode, FrameType, writeFrame } from "./frame.js"
import { listen } from "./listen.js"
import { booleanOption, frameSizeOption, invalid } from "./options.js"

/** @internal */
export const TypeId: IpcServerTypeId = Symbol.for("@connection-pool/platform-node/IpcServer") as IpcServerTypeId

/** @internal */
export const tag = Context.GenericTag<IpcServer>("@connection-pool/platform-node/IpcServer")

export const echoHandler: Handler = (payload) => Effect.succeed(payload)

// ---- options -----------------------------------------------------------------------------------------------------

interface ResolvedServerOptions<E, R> {
  readonly address: Address
  readonly handler: Handler<E, R>
  readonly maxFrameSize: number
  readonly answerPings: boolean
  readonly noDelay: boolean
  readonly removeStaleSocket: boolean
  readonly backlog: number
}

const resolve = <E, R>(options: Options<E, R>): Either.Either<ResolvedServerOptions<E, R>, InvalidIpcOptions> => {
  const { address, issues: addressIssues } = resolveAddress(options, true)
  const issues: Array<OptionIssue> = []
  if (typeof options.handler !== "function") {
    issues.push({ field: "handler", value: options.handler, message: "must be a function" })
  }
  const maxFrameSize = frameSizeOption(issues, options.maxFrameSize)
  const answerPings = booleanOption(issues, "answerPings", options.answerPings, true)
  const noDelay = booleanOption(issues, "noDelay", options.noDelay, true)
  const removeStaleSocket = booleanOption(issues, "removeStaleSocket", options.removeStaleSocket, true)
  const backlog = options.backlog ?? 511
  if (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1) {
    issues.push({ field: "backlog", value: backlog, message: "must be a whole number above zero" })
  }
  if (address === undefined || addressIssues.length > 0 || issues.length > 0) {
    return Either.left(invalid(addressIssues, issues))
  }
  return Either.right({
    address,
    handler: options.handler,
    maxFrameSize,
    answerPings,
    noDelay,
    removeStaleSocket,
    backlog
  })
}

// ---- the server --------------------------------------------------------------------------------------------------

interface Waiter {
  readonly predicate: (open: number) => boolean
  readonly resume: (exit: Exit.Exit<number>) => void
}

class ServerImpl<E, R> implements IpcServer {
  readonly [TypeId]: IpcServerTypeId = TypeId
  readonly connections = new Set<ServerConnection<E, R>>()
  readonly waiters = new Set<Waiter>()
  readonly runFork: <A, E2>(effect: Effect.Effect<A, E2, R>) => Fiber.RuntimeFiber<A, E2>
  address: Address
  closing = false
  accepted = 0
  peakOpen = 0
  requests = 0

  constructor(readonly options: ResolvedServerOptions<E, R>, runtime: Runtime.Runtime<R>) {
    this.address = options.address
    this.runFork = Runtime.runFork(runtime)
  }

  readonly onConnection = (socket: net.Socket): void => {
    if (this.closing) {
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
      requests: this.requests
    }))
  }

  get openConnections(): Effect.Effect<number> {
    return Effect.sync(() => this.connections.size)
  }

  get totalAccepted(): Effect.Effect<number> {
    return Effect.sync(() => this.accepted)
  }

  awaitOpenConnections(predicate: (open: number) => boolean): Effect.Effect<number> {
    return Effect.async<number>((resume) => {
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

/** What test tooling may act on when it answers a request itself: the request's connection. */
export interface RawConnection {
  /** The connection closed (by either side): nothing more should be written. */
  readonly closed: boolean
  readonly socket: net.Socket
  /** An RST over TCP, an abrupt close over a path or pipe. */
  reset(): void
}

/**
 * The `RequestInfo` a handler receives. Its connection is private (a handler that logs or copies its request
 * sees the two numbers only); `takeOverReply` reaches it.
 */
class ServerRequest implements RequestInfo {
  // Own fields, as the plain object this replaced: a handler that spreads or serialises its request keeps both.
  readonly connectionId: number
  readonly #connection: ServerConnection<unknown, unknown>
  #takenOver = false

  constructor(connection: ServerConnection<any, any>, readonly requestId: number) {
    this.connectionId = connection.id
    this.#connection = connection
  }

  get takenOver(): boolean {
    return this.#takenOver
  }

  takeOver(): RawConnection {
    this.#takenOver = true
    return this.#connection
  }
}

/**
 * Lets `IpcServerFaults` answer a request on the socket itself, with bytes the protocol has no reply for
 * (garbage, a cut frame, a hang-up): the server then writes nothing for that request, whatever its handler
 * returns. `undefined` when `request` was not passed by a server of this module. Test tooling only: the
 * production reply path never calls it.
 */
export const takeOverReply = (request: RequestInfo): RawConnection | undefined =>
  request instanceof ServerRequest ? request.takeOver() : undefined

class ServerConnection<E, R> {
  readonly fibers = new Set<Fiber.RuntimeFiber<Uint8Array, E>>()
  readonly decoder: Decoder
  closed = false

  constructor(readonly server: ServerImpl<E, R>, readonly socket: net.Socket, readonly id: number) {
    this.decoder = new Decoder(server.options.maxFrameSize)
    socket.on("data", this.onData)
    // Errors (a reset by the client, a write after it left) end in "close", which is all the server needs.
    socket.on("error", ignore)
    socket.on("close", this.onClose)
  }

  reset(): void {
    // Only TCP has a reset; a Unix socket or pipe closed with unread data is the nearest thing.
    if (typeof this.socket.resetAndDestroy === "function" && this.socket.remotePort !== undefined) {
      this.socket.resetAndDestroy()
    } else {
      this.socket.destroy()
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    const error = this.decoder.push(chunk, this.onFrame)
    if (error !== undefined) this.violation(error.message)
  }

  private readonly onClose = (): void => {
    this.closed = true
    for (const fiber of this.fibers) fiber.unsafeInterruptAsFork(fiber.id())
    this.fibers.clear()
    this.server.removed(this)
  }

  private readonly onFrame = (type: FrameType, id: number, payload: Uint8Array): void => {
    if (this.closed) return
    if (type === FrameType.Request) return this.handle(id, payload)
    if (type === FrameType.Ping) {
      if (this.server.options.answerPings) this.write(FrameType.Pong, id, emptyPayload)
      return
    }
    this.violation(`a client may send requests and pings, not frame type ${type}`)
  }

  private handle(id: number, payload: Uint8Array): void {
    this.server.requests++
    const handler = this.server.options.handler
    const request = new ServerRequest(this, id)
    // Suspended, so that a handler that throws instead of returning an effect dies instead of crashing the server.
    const fiber = this.server.runFork(Effect.suspend(() => handler(payload, request)))
    let done = false
    fiber.addObserver((exit) => {
      done = true
      this.fibers.delete(fiber)
      // This runs outside any fiber: a throw here would be an uncaught exception that stops the whole server.
      try {
        this.respond(request, exit)
      } catch (error) {
        this.replyFailed(id, error)
      }
    })
    if (!done) this.fibers.add(fiber)
  }

  private respond(request: ServerRequest, exit: Exit.Exit<Uint8Array, E>): void {
    if (this.closed || request.takenOver) return
    const id = request.requestId
    if (Exit.isSuccess(exit)) {
      const reply: unknown = exit.value
      if (reply instanceof Uint8Array) {
        const limit = this.server.options.maxFrameSize
        if (reply.length > limit) {
          return this.writeError(id, "ReplyTooLarge", `a reply of ${reply.length} bytes exceeds the limit of ${limit}`)
        }
        return this.write(FrameType.Reply, id, reply)
      }
      // Not bytes (a handler typed loosely): say so rather than leave the client waiting.
      return this.writeError(id, "HandlerDefect", `the handler replied with ${describe(reply)}, not bytes`)
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) return this.writeError(id, "HandlerFailed", describe(failure.value))
    this.server.runFork(Effect.logError("IPC request handler died", exit.cause))
    this.writeError(id, "HandlerDefect", describe(Cause.squash(exit.cause)))
  }

  /** Sending the answer threw: tell the client with a generic error frame, or hang up if even that fails. */
  private replyFailed(id: number, error: unknown): void {
    this.server.runFork(Effect.logError("IPC server could not send a reply", Cause.die(error)))
    try {
      this.writeError(id, "HandlerDefect", "the server could not send the reply")
    } catch {
      this.socket.destroy()
    }
  }

  /** The client broke the protocol: say why on request id 0, then hang up (the stream cannot be re-synchronised). */
  private violation(message: string): void {
    if (this.closed) return
    this.writeError(0, "ProtocolViolation", message)
    this.socket.end()
    this.closed = true
    for (const fiber of this.fibers) fiber.unsafeInterruptAsFork(fiber.id())
    this.fibers.clear()
  }

  private writeError(id: number, code: ErrorCode, message: string): void {
    this.write(FrameType.Error, id, encodeErrorPayload(code, message, this.server.options.maxFrameSize))
  }

  private write(type: FrameType, id: number, payload: Uint8Array): void {
    writeFrame(this.socket, type, id, payload)
  }
}

const ignore = () => {}

/** A one-line account of a failure, defect or stray reply for an error frame; it never throws. */
const describe = (error: unknown): string => {
  try {
    return describeUnsafe(error)
  } catch {
    // A getter or `toString` that throws: the value cannot tell what it is.
    return "a value that could not be described"
  }
}

const describeUnsafe = (error: unknown): string => {
  if (hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0) {
    return hasProperty(error, "_tag") && typeof error._tag === "string"
      ? `${error._tag}: ${error.message}`
      : error.message
  }
  if (hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

const closeServer = <E, R>(server: net.Server, impl: ServerImpl<E, R>): Effect.Effect<void> =>
  Effect.suspend(() => {
    impl.closing = true
    const fibers: Array<Fiber.RuntimeFiber<Uint8Array, E>> = []
    for (const connection of impl.connections) {
      fibers.push(...connection.fibers)
      connection.socket.destroy()
    }
    return Fiber.interruptAll(fibers).pipe(
      // `close` calls back once every connection's handle and the listener's are closed.
      Effect.zipRight(Effect.async<void>((resume) => {
        server.close(() => resume(Exit.void))
      }))
    )
  })

export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<IpcServer, ServerError | InvalidIpcOptions, Scope.Scope | R> =>
  Effect.flatMap(resolve(options), (resolved) =>
    Effect.flatMap(Effect.runtime<R>(), (runtime) => {
      const impl = new ServerImpl(resolved, runtime)
      const server = net.createServer({ noDelay: resolved.noDelay }, impl.onConnection)
      return Effect.acquireRelease(
        Effect.map(listen(server, resolved), () => {
          const bound = server.address()
          if (bound !== null && typeof bound === "object") impl.address = { host: bound.address, port: bound.port }
          return impl
        }),
        () => closeServer(server, impl)
      )
    }))

export const layer = <E, R>(options: Options<E, R>): Layer.Layer<IpcServer, ServerError | InvalidIpcOptions, R> =>
  Layer.scoped(tag, make(options))

/** Completes when the parent process that forked this one disconnects its IPC channel (for instance by dying). */
const parentGone: Effect.Effect<void> = Effect.async<void>((resume) => {
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
      Effect.zipRight(
        Effect.sync(() => {
          process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid, address: server.address })}\n`)
        }),
        parentGone
      ))
  )
