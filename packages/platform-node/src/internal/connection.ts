/**
 * One client connection: a `node:net` socket with a request/response channel on top.
 *
 * This is a lean wrapper over `node:net` on purpose: @effect/platform's `Socket` model (a Channel of chunks with
 * a Scope and a Queue per socket) costs several Effect operations per chunk, which on a request round trip of a
 * few microseconds is most of the cost. Here a request is one callback effect (Effect 3's `Effect.async`, Effect 4's
 * `Effect.callback`): the frame is written directly and the reply resumes the waiting fiber from the socket's `data`
 * listener.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import type { Address } from "../IpcAddress.js"
import type { IpcConnection, TypeId as IpcConnectionTypeId } from "../IpcConnection.js"
import { ProtocolError, RemoteError, type RequestError, SocketError } from "../IpcError.js"
import { callback, timeoutFail } from "./edge/effect.js"
import { decodeErrorPayload, Decoder, emptyPayload, frameTooLargeToSend, FrameType, writeFrame } from "./frame.js"
import type { ResolvedOptions } from "./options.js"
import { ownerCheck, socketFile, wrongOwner } from "./socketOwner.js"

/** @internal */
export const TypeId: IpcConnectionTypeId = Symbol.for(
  "@connection-pool/platform-node/IpcConnection"
) as IpcConnectionTypeId

type Resume<A> = (effect: Effect.Effect<A, RequestError>) => void

/**
 * Replies owed to interrupted requests that one connection remembers, to drop them when they come. Past this, the
 * server has stopped answering (its requests in flight count against its own cap too): the connection goes.
 */
export const maxAbandoned = 256

/** A request waiting for the socket to drain before it is written; `id` is set once it is. */
interface Unsent {
  readonly payload: Uint8Array
  readonly resume: Resume<Uint8Array>
  id: number
}

const frameTypeNames: Record<number, string> = {
  [FrameType.Request]: "request",
  [FrameType.Reply]: "reply",
  [FrameType.Ping]: "ping",
  [FrameType.Pong]: "pong",
  [FrameType.Error]: "error"
}

/**
 * Requests are matched to replies by id, so several fibers may share one connection (pipelining, and `IpcPool`'s
 * shared lending) without ever receiving each other's replies.
 *
 * A request interrupted before its reply (a borrower's timeout) leaves the connection to the others: its id is
 * remembered and its late reply dropped, so one borrower giving up fails nobody else. Only when more than
 * `maxAbandoned` such replies are owed at once (a server that stopped answering) is the connection given up.
 *
 * Once anything goes wrong that leaves the byte stream in an unknown state (the peer closed or reset it, sent
 * something that is not a frame), the connection fails every pending request with that error, destroys the
 * socket and reports `isOpen: false` for good, so a pool retires it.
 */
export class Connection implements IpcConnection {
  readonly [TypeId]: IpcConnectionTypeId = TypeId
  private readonly requests = new Map<number, Resume<Uint8Array>>()
  private readonly pings = new Map<number, Resume<void>>()
  /** Ids of requests interrupted before their reply: their late replies are dropped, not unexpected. */
  private readonly abandoned = new Set<number>()
  private lastId = 0
  private failure: RequestError | undefined = undefined
  private closed = false
  private readonly closeWaiters: Array<() => void> = []
  /** Requests waiting for `drain`, in arrival order. */
  private readonly unsent = new Set<Unsent>()
  /** The socket's buffer is above its high-water mark (`write` returned false): requests wait for `drain`. */
  private congested = false
  /** Writes of this turn are corked, to go out as one system call when the turn ends. */
  private corked = false
  private readonly decoder: Decoder
  readonly ping: Effect.Effect<void, RequestError>

  constructor(private readonly socket: net.Socket, private readonly options: ResolvedOptions) {
    this.decoder = new Decoder(options.maxFrameSize)
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onClose)
    // One inactivity timer per socket, refreshed by Node on every read and write: no timer per request.
    socket.setTimeout(Duration.toMillis(options.requestTimeout))
    socket.on("timeout", this.onSilence)
    const pingTimeout = options.pingTimeout
    this.ping = timeoutFail(callback<void, RequestError>(this.registerPing), pingTimeout, () =>
      new ProtocolError({
        reason: "PingTimeout",
        direction: "receive",
        detail: `no pong from ${options.label} within ${Duration.format(pingTimeout)}`
      }))
  }

  get address(): Address {
    return this.options.address
  }

  get maxFrameSize(): number {
    return this.options.maxFrameSize
  }

  get isOpen(): boolean {
    return this.failure === undefined && !this.socket.destroyed
  }

  get pendingRequests(): number {
    return this.requests.size + this.pings.size + this.unsent.size
  }

  request(payload: Uint8Array): Effect.Effect<Uint8Array, RequestError> {
    return callback<Uint8Array, RequestError>((resume) => {
      if (this.failure !== undefined) return resume(Exit.fail(this.failure))
      if (payload.length > this.options.maxFrameSize) {
        return resume(Exit.fail(frameTooLargeToSend(payload.length, this.options.maxFrameSize)))
      }
      if (this.congested) {
        // The server is not reading as fast as this side writes: wait for the socket to drain rather than queue
        // without bound. Interrupted while waiting, the request leaves nothing behind: it was never sent.
        const unsent: Unsent = { payload, resume, id: 0 }
        this.unsent.add(unsent)
        return Effect.sync(() => {
          if (this.unsent.delete(unsent)) return
          if (this.requests.delete(unsent.id)) this.forget(unsent.id)
        })
      }
      const id = this.send(payload, resume)
      // Interrupted before the reply: the frame went out whole (or will), so the stream stays in step; only the
      // reply is no longer wanted.
      return Effect.sync(() => {
        if (this.requests.delete(id)) this.forget(id)
      })
    })
  }

  private send(payload: Uint8Array, resume: Resume<Uint8Array>): number {
    const id = this.nextId()
    this.requests.set(id, resume)
    this.write(FrameType.Request, id, payload)
    return id
  }

  /** The socket drained: send the requests that waited, in order, until it is full again. */
  private readonly onDrain = (): void => {
    this.congested = false
    for (const unsent of this.unsent) {
      if (this.congested || this.failure !== undefined) return
      this.unsent.delete(unsent)
      unsent.id = this.send(unsent.payload, unsent.resume)
    }
  }

  /** Closes the socket and waits until its file descriptor is released. */
  readonly close: Effect.Effect<void> = callback<void>((resume) => {
    if (this.closed) return resume(Exit.void)
    this.closeWaiters.push(() => resume(Exit.void))
    this.fail(new SocketError({ reason: "ClosedLocally", address: this.options.label }))
  })

  private readonly registerPing = (resume: Resume<void>): Effect.Effect<void> | void => {
    if (this.failure !== undefined) return resume(Exit.fail(this.failure))
    const id = this.nextId()
    this.pings.set(id, resume)
    this.write(FrameType.Ping, id, emptyPayload)
    return Effect.sync(() => {
      if (this.pings.delete(id)) this.abandon()
    })
  }

  private nextId(): number {
    // Id 0 is reserved for connection-level error frames.
    this.lastId = this.lastId >= 0xffff_ffff ? 1 : this.lastId + 1
    return this.lastId
  }

  /**
   * Writes a frame. While other requests are in flight (several fibers sharing the connection), the writes of one
   * turn of the event loop are corked and go out together when it ends. Past the socket's high-water mark, further requests wait for `drain`.
   */
  private write(type: FrameType, id: number, payload: Uint8Array): void {
    // Only when fibers share the connection (another request is in flight): a lone request goes out at once.
    if (!this.corked && this.requests.size > 1) {
      this.corked = true
      this.socket.cork()
      process.nextTick(this.uncork)
    }
    if (!writeFrame(this.socket, type, id, payload) && !this.congested) {
      this.congested = true
      this.socket.once("drain", this.onDrain)
    }
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  /** Drops the reply of an interrupted request when it comes, or gives the connection up past `maxAbandoned`. */
  private forget(id: number): void {
    if (this.abandoned.size >= maxAbandoned) return this.abandon()
    this.abandoned.add(id)
  }

  private abandon(): void {
    this.fail(new SocketError({ reason: "Abandoned", address: this.options.label }))
  }

  /** Fails everything pending with `error`, once, and destroys the socket. */
  private fail(error: RequestError): void {
    if (this.failure !== undefined) return
    this.failure = error
    const exit = Exit.fail(error)
    const requests = Array.from(this.requests.values())
    const pings = Array.from(this.pings.values())
    const unsent = Array.from(this.unsent)
    this.requests.clear()
    this.pings.clear()
    this.unsent.clear()
    this.abandoned.clear()
    for (const resume of requests) resume(exit)
    for (const waiting of unsent) waiting.resume(exit)
    for (const resume of pings) resume(exit)
    this.socket.destroy()
  }

  private readonly onFrame = (type: FrameType, id: number, payload: Uint8Array): void => {
    if (this.failure !== undefined) return
    if (type === FrameType.Reply) {
      const resume = this.requests.get(id)
      if (resume !== undefined) {
        this.requests.delete(id)
        return resume(Exit.succeed(payload))
      }
      if (this.abandoned.delete(id)) return
    } else if (type === FrameType.Pong) {
      const resume = this.pings.get(id)
      if (resume !== undefined) {
        this.pings.delete(id)
        return resume(Exit.void)
      }
    } else if (type === FrameType.Error) {
      const { code, message } = decodeErrorPayload(payload)
      const error = new RemoteError({ reason: code, detail: message })
      // The server closes the connection after a protocol violation; everything pending is lost with it.
      if (id === 0 || code === "ProtocolViolation") return this.fail(error)
      const resume = this.requests.get(id)
      if (resume !== undefined) {
        this.requests.delete(id)
        return resume(Exit.fail(error))
      }
      if (this.abandoned.delete(id)) return
    }
    this.fail(
      new ProtocolError({
        reason: "UnexpectedFrame",
        direction: "receive",
        detail: `a ${frameTypeNames[type]} frame with id ${id} answers nothing pending`
      })
    )
  }

  /** Nothing either way for `requestTimeout`: fatal only when a request is waiting for its reply. */
  private readonly onSilence = (): void => {
    if (this.requests.size === 0 && this.unsent.size === 0) return
    const waited = Duration.format(this.options.requestTimeout)
    this.fail(
      new ProtocolError({
        reason: "ReplyTimeout",
        direction: "receive",
        detail: `no byte from ${this.options.label} for ${waited} while ${this.requests.size} request(s) waited`
      })
    )
  }

  private readonly onData = (chunk: Buffer): void => {
    const error = this.decoder.push(chunk, this.onFrame)
    if (error !== undefined) this.fail(error)
  }

  private readonly onEnd = (): void => {
    this.fail(this.decoder.end() ?? new SocketError({ reason: "Closed", address: this.options.label }))
  }

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.fail(ioError(this.options.label, error))
  }

  private readonly onClose = (): void => {
    this.closed = true
    this.fail(new SocketError({ reason: "Closed", address: this.options.label }))
    for (const waiter of this.closeWaiters.splice(0)) waiter()
  }
}

const resetCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])

const ioError = (address: string, error: NodeJS.ErrnoException): SocketError =>
  new SocketError({
    reason: error.code !== undefined && resetCodes.has(error.code) ? "Reset" : "IoFailed",
    address,
    code: error.code,
    cause: error
  })

export const connectError = (address: string, error: NodeJS.ErrnoException): SocketError =>
  new SocketError({
    reason: error.code === "ENOENT"
      ? "PathNotFound"
      : error.code === "ECONNREFUSED"
      ? "ConnectionRefused"
      : "ConnectFailed",
    address,
    code: error.code,
    cause: error
  })

/** Opens a connection in the current scope; closing the scope closes the socket and waits for its release. */
export const connect = (options: ResolvedOptions): Effect.Effect<Connection, SocketError, Scope.Scope> =>
  Effect.acquireRelease(
    // Interruptible so that a borrower giving up stops a slow connect at once; the canceller destroys the socket.
    Effect.interruptible(callback<Connection, SocketError>((resume) => {
      const address = options.address
      const ownerBefore = socketFile(options)
      if (ownerBefore !== undefined && ownerBefore.uid !== options.socketOwner) {
        return resume(Exit.fail(wrongOwner(options, ownerBefore.uid)))
      }
      const socket = "path" in address
        ? net.createConnection({ path: address.path })
        : net.createConnection({
          host: address.host,
          port: address.port,
          noDelay: options.noDelay,
          keepAlive: options.keepAlive,
          keepAliveInitialDelay: options.keepAliveInitialDelayMillis
        })
      const settle = () => {
        clearTimeout(timer)
        socket.removeListener("connect", onConnect)
        socket.removeListener("error", onError)
      }
      const onConnect = () => {
        settle()
        const refused = ownerCheck(options, ownerBefore)
        if (refused !== undefined) {
          socket.destroy()
          return resume(Exit.fail(refused))
        }
        const connection = new Connection(socket, options)
        // Authentication first, before any request: the server reads nothing else until it has checked it.
        if (options.authToken !== undefined) writeFrame(socket, FrameType.Request, 0, options.authToken)
        resume(Exit.succeed(connection))
      }
      const onError = (error: NodeJS.ErrnoException) => {
        settle()
        socket.destroy()
        resume(Exit.fail(connectError(options.label, error)))
      }
      const timer = setTimeout(() => {
        settle()
        socket.destroy()
        resume(Exit.fail(new SocketError({ reason: "ConnectTimeout", address: options.label })))
      }, options.connectTimeoutMillis)
      socket.once("connect", onConnect)
      socket.once("error", onError)
      return Effect.sync(() => {
        settle()
        socket.destroy()
      })
    })),
    (connection) => connection.close
  )
