import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import type * as net from "node:net"
import type { CloseReason, RequestInfo } from "../IpcServer.js"
import { firstFailure, type Forker, interruptNow, isInterruptedOnly, type RunningFiberOf } from "./edge/effect.js"
import { defectReply, type ErrorReply, failureReply, notBytesReply } from "./errorReply.js"
import {
  Decoder,
  emptyPayload,
  encodeErrorPayload,
  type ErrorCode,
  FrameType,
  HEADER_SIZE,
  writeFrame
} from "./frame.js"
import { MAX_TOKEN_BYTES } from "./options.js"
import { PausedFor, ReadGate } from "./readGate.js"
import { digest, type ResolvedServerOptions } from "./serverOptions.js"

/** What a connection reports to, and reads from, the server that accepted it. */
export interface ConnectionHost<E, R> {
  readonly options: ResolvedServerOptions<E, R>
  readonly runFork: Forker<R>
  readonly counters: ServerCounters
  removed(connection: ServerConnection<E, R>): void
}

/** The server's running counts, written by its connections. */
export class ServerCounters {
  requests = 0
  peakQueuedBytes = 0
  backpressurePauses = 0
  inFlightPauses = 0
  readonly closed: Record<CloseReason, number> = {
    ProtocolViolation: 0,
    WriteQueueFull: 0,
    IdleTimeout: 0,
    FrameDeadline: 0,
    TooManyConnections: 0,
    Unauthorized: 0
  }
}

/** How long a connection that broke the protocol gets to flush its error frame before it is destroyed anyway. */
const VIOLATION_FLUSH_MILLIS = 1_000

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

/** One accepted connection: it owns its socket, its decoder and its running handlers. */
export class ServerConnection<E, R> implements RawConnection {
  readonly fibers = new Set<RunningFiberOf<Uint8Array, E>>()
  readonly decoder: Decoder
  closed = false
  private readonly gate: ReadGate
  /** Requests read while `maxInFlight` were being handled: they wait their turn (at most one chunk's worth). */
  private readonly waiting: Array<{ readonly id: number; readonly payload: Uint8Array }> = []
  private waitingHead = 0
  private admitting = false
  /** Whether the client has sent the server's token (always, when the server takes none). */
  private authenticated: boolean
  private authTimer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(readonly server: ConnectionHost<E, R>, readonly socket: net.Socket, readonly id: number) {
    this.decoder = new Decoder(server.options.maxFrameSize)
    this.authenticated = server.options.authDigest === undefined
    if (!this.authenticated) {
      // The token must arrive within frameDeadline of connecting: a client that sends nothing is not kept.
      this.authTimer = setTimeout(() => this.refuse(), server.options.frameDeadlineMillis)
      this.authTimer.unref?.()
    }
    this.gate = new ReadGate(socket, server.options.frameDeadlineMillis, () => this.closeFor("FrameDeadline"))
    socket.setTimeout(server.options.idleTimeoutMillis)
    socket.on("timeout", this.onIdle)
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
    if (error !== undefined) return this.violation(error.message)
    // Before the token, the server holds no more than a token's frame for a client it does not know.
    if (!this.authenticated && this.decoder.bufferedBytes > HEADER_SIZE + MAX_TOKEN_BYTES) return this.refuse()
    this.gate.received(this.decoder.bufferedBytes > 0)
  }

  /** No byte either way for `idleTimeout`: closed, unless a request is still being handled. */
  private readonly onIdle = (): void => {
    if (this.fibers.size === 0 && this.waitingHead === this.waiting.length) this.closeFor("IdleTimeout")
  }

  private readonly onClose = (): void => {
    this.stop()
    this.server.removed(this)
  }

  /** No more reading, writing or handling: interrupts the handlers still running. */
  private stop(): void {
    this.closed = true
    this.gate.dispose()
    if (this.authTimer !== undefined) clearTimeout(this.authTimer)
    this.waiting.length = 0
    this.waitingHead = 0
    // Effect 4 ends an interrupted handler synchronously, inside this loop, running its observer (which deletes it
    // from `fibers` and would admit and answer the next): safe because `closed` is set first, and over a copy.
    for (const fiber of Array.from(this.fibers)) interruptNow(fiber)
    this.fibers.clear()
  }

  private readonly onFrame = (type: FrameType, id: number, payload: Uint8Array): void => {
    if (this.closed) return
    if (!this.authenticated) return this.authenticate(type, id, payload)
    if (type === FrameType.Request) {
      if (id === 0) {
        return this.violation(
          this.server.options.authDigest === undefined
            ? "request id 0 is reserved for a token, and this server takes none"
            : "request id 0 is reserved for the token, sent once, first"
        )
      }
      if (this.waitingHead === this.waiting.length && this.fibers.size < this.server.options.maxInFlight) {
        return this.handle(id, payload)
      }
      this.waiting.push({ id, payload })
      return
    }
    if (type === FrameType.Ping) {
      if (this.server.options.answerPings) this.write(FrameType.Pong, id, emptyPayload)
      return
    }
    this.violation(`a client may send requests and pings, not frame type ${type}`)
  }

  private handle(id: number, payload: Uint8Array): void {
    this.server.counters.requests++
    const handler = this.server.options.handler
    const request = new ServerRequest(this, id)
    // Suspended, so that a handler that throws instead of returning an effect dies instead of crashing the server.
    const fiber = this.server.runFork(Effect.suspend(() => handler(payload, request)))
    let done = false
    fiber.addObserver((exit) => {
      done = true
      if (this.fibers.delete(fiber) && this.gate.isPausedFor(PausedFor.InFlight)) this.admitWaiting()
      // This runs outside any fiber: a throw here would be an uncaught exception that stops the whole server.
      try {
        this.respond(request, exit)
      } catch (error) {
        this.replyFailed(id, error)
      }
    })
    if (done) return
    this.fibers.add(fiber)
    if (this.fibers.size >= this.server.options.maxInFlight && !this.gate.isPausedFor(PausedFor.InFlight)) {
      this.server.counters.inFlightPauses++
      this.gate.pause(PausedFor.InFlight)
    }
  }

  /** A handler finished while at `maxInFlight`: start the requests waiting, then read again once none wait. */
  private admitWaiting(): void {
    // A handler that finishes at once would otherwise re-enter here from `handle`, once per waiting request.
    if (this.admitting) return
    this.admitting = true
    const cap = this.server.options.maxInFlight
    while (this.waitingHead < this.waiting.length && this.fibers.size < cap && !this.closed) {
      const next = this.waiting[this.waitingHead++]!
      this.handle(next.id, next.payload)
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0
      this.waitingHead = 0
    }
    this.admitting = false
    if (this.waiting.length === 0 && this.fibers.size < cap) this.gate.resume(PausedFor.InFlight)
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
      return this.report(id, "HandlerDefect", notBytesReply(reply, request, this.server.options.exposeDefects))
    }
    // Interrupted only: the server is closing the connection or itself; there is no one to answer.
    if (isInterruptedOnly(exit.cause)) return
    const failure = firstFailure(exit.cause)
    if (Option.isSome(failure)) {
      return this.report(id, "HandlerFailed", failureReply(failure.value, exit.cause, request))
    }
    this.report(id, "HandlerDefect", defectReply(exit.cause, request, this.server.options.exposeDefects))
  }

  private report(id: number, code: ErrorCode, reply: ErrorReply): void {
    if (reply.log !== undefined) this.server.runFork(reply.log)
    this.writeError(id, code, reply.message)
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

  /**
   * The first frame of a client of a server with a token: a request with id 0 carrying the token. Compared as
   * SHA-256 digests (of one length whatever was sent) with `timingSafeEqual`, so that the time taken says nothing
   * of how much of it matched. The token is never logged nor echoed.
   */
  private authenticate(type: FrameType, id: number, payload: Uint8Array): void {
    const expected = this.server.options.authDigest!
    if (type === FrameType.Request && id === 0 && crypto.timingSafeEqual(digest(payload), expected)) {
      this.authenticated = true
      if (this.authTimer !== undefined) clearTimeout(this.authTimer)
      this.authTimer = undefined
      return
    }
    this.refuse()
  }

  /** A wrong or missing token, or none in time: an error frame that says only that, then the socket is destroyed. */
  private refuse(): void {
    if (this.closed) return
    this.server.counters.closed.Unauthorized++
    this.closeWithError("Unauthorized", "authentication failed: a wrong or missing token")
  }

  /**
   * The client broke the protocol: say why on request id 0, then destroy the socket (the stream cannot be
   * re-synchronised).
   */
  private violation(message: string): void {
    if (this.closed) return
    this.server.counters.closed.ProtocolViolation++
    this.closeWithError("ProtocolViolation", message)
  }

  /**
   * Sends an error frame on id 0 and destroys the socket. Nothing more is read; the frame gets a bounded time to
   * flush, so that a client that keeps writing, or never reads, cannot hold the connection open.
   */
  private closeWithError(code: ErrorCode, message: string): void {
    this.stop()
    const socket = this.socket
    socket.removeListener("data", this.onData)
    socket.pause()
    const frame = encodeErrorPayload(code, message, this.server.options.maxFrameSize)
    const timer = setTimeout(() => socket.destroy(), VIOLATION_FLUSH_MILLIS)
    socket.once("close", () => clearTimeout(timer))
    writeFrame(socket, FrameType.Error, 0, frame)
    // `end`'s callback runs once the frame is handed to the system (or the socket failed): then nothing is left
    // to keep the connection for.
    socket.end(() => socket.destroy())
  }

  private writeError(id: number, code: ErrorCode, message: string): void {
    this.write(FrameType.Error, id, encodeErrorPayload(code, message, this.server.options.maxFrameSize))
  }

  /**
   * Writes a frame, unless it would take the bytes queued for this client past `maxQueuedBytes`: the client is
   * not reading, and the connection is closed. Past `writeHighWaterMark`, reading stops until the queue drains,
   * so that a client that never reads cannot make the server queue replies without bound.
   */
  private write(type: FrameType, id: number, payload: Uint8Array): void {
    const options = this.server.options
    const queued = this.socket.writableLength + HEADER_SIZE + payload.length
    if (queued > options.maxQueuedBytes) return this.closeFor("WriteQueueFull")
    writeFrame(this.socket, type, id, payload)
    if (queued > this.server.counters.peakQueuedBytes) this.server.counters.peakQueuedBytes = queued
    if (queued > options.writeHighWaterMark && !this.gate.isPausedFor(PausedFor.Backpressure)) {
      this.server.counters.backpressurePauses++
      this.gate.pause(PausedFor.Backpressure)
      this.socket.once("drain", this.onDrain)
    }
  }

  private readonly onDrain = (): void => {
    this.gate.resume(PausedFor.Backpressure)
  }

  /** The server closes the connection itself, for a reason it counts. */
  private closeFor(reason: Exclude<CloseReason, "ProtocolViolation" | "Unauthorized">): void {
    if (this.closed) return
    this.server.counters.closed[reason]++
    this.stop()
    this.socket.destroy()
  }
}

const ignore = () => {}
