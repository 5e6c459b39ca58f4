/**
 * A `Connector` for a real Redis server: RESP2 over TCP (or a Unix socket), written against `node:net` with no
 * Redis client library, so that the whole path from the pool to the wire fits on a few screens.
 *
 * - `connect(options)` opens one connection in the current scope (the scope's finalizer closes the socket).
 * - `connector(options)` gives a pool what it needs: `open`, `PING` as the health check, `isOpen` from the
 *   socket's state, and `isFault` that blames the connection for socket failures only: a `-ERR` reply is the
 *   command's problem, not the connection's.
 *
 * Replies come back in the order commands were written (RESP guarantees it), so a connection keeps a FIFO of
 * pending commands and hands each parsed reply to the oldest one.
 */
import { Connector } from "@connection-pool/core"
import { Cause, Chunk, Data, Duration, Effect, Exit, type Scope } from "effect"
import * as net from "node:net"

// ---- errors -------------------------------------------------------------------------------------------------

/**
 * The connection failed: it could not be opened, the server closed or reset it, or it sent bytes that are not
 * RESP. The connection is unusable afterwards (`isOpen` is false) and a pool retires it.
 */
export class RedisConnectionError extends Data.TaggedError("RedisConnectionError")<{
  readonly reason: "ConnectFailed" | "ConnectTimeout" | "Closed" | "Reset" | "SocketFailed" | "MalformedReply"
  /** `tcp:host:port` or `unix:path` */
  readonly address: string
  /** The errno code (`ECONNREFUSED`, `ECONNRESET`, ...) where the system gave one. */
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const code = this.code === undefined ? "" : ` (${this.code})`
    return `redis ${this.address}: ${this.reason}${code}`
  }
}

/**
 * The server answered a command with an error reply (`-ERR ...`, `-WRONGTYPE ...`). The connection is fine.
 */
export class RedisReplyError extends Data.TaggedError("RedisReplyError")<{
  readonly reason: "ErrorReply" | "UnexpectedReply"
  /** The error's first word (`ERR`, `WRONGTYPE`, `NOAUTH`, ...), or the command for an unexpected reply. */
  readonly code: string
  readonly detail: string
}> {
  override get message(): string {
    return `redis: ${this.code} ${this.detail}`
  }
}

export type RedisError = RedisConnectionError | RedisReplyError

/** A RESP2 reply. Bulk strings are decoded as UTF-8; an error nested in an array (as `EXEC` returns) is a value. */
export type RedisValue = string | number | null | RedisReplyError | ReadonlyArray<RedisValue>

// ---- RESP2 parsing --------------------------------------------------------------------------------------------

const CR = 13
const LF = 10

/** A reply parsed from `buffer`, and where the next one starts; `undefined` when the bytes end mid-reply. */
type Parsed = { readonly value: RedisValue; readonly next: number } | undefined

/** Bytes that are not RESP2; thrown by the parser, and the cause of the connection's `MalformedReply` failure. */
export class MalformedReply extends Data.TaggedError("MalformedReply")<{ readonly detail: string }> {
  override get message(): string {
    return `malformed reply: ${this.detail}`
  }
}

const parseInteger = (line: string): number => {
  const value = Number(line)
  if (line.length === 0 || !Number.isInteger(value)) throw new MalformedReply({ detail: `not an integer: ${line}` })
  return value
}

const errorReply = (line: string): RedisReplyError => {
  const space = line.indexOf(" ")
  return new RedisReplyError({
    reason: "ErrorReply",
    code: space === -1 ? line : line.slice(0, space),
    detail: space === -1 ? "" : line.slice(space + 1)
  })
}

/** Parses one reply starting at `start`. Throws `MalformedReply` on bytes that are not RESP2. */
const parseReply = (buffer: Buffer, start: number): Parsed => {
  if (start >= buffer.length) return undefined
  const lineEnd = buffer.indexOf("\r\n", start)
  if (lineEnd === -1) return undefined
  const line = buffer.toString("utf8", start + 1, lineEnd)
  const next = lineEnd + 2
  switch (String.fromCharCode(buffer[start]!)) {
    case "+":
      return { value: line, next }
    case "-":
      return { value: errorReply(line), next }
    case ":":
      return { value: parseInteger(line), next }
    case "$": {
      const length = parseInteger(line)
      if (length === -1) return { value: null, next }
      if (length < 0) throw new MalformedReply({ detail: `bulk length ${length}` })
      if (buffer.length < next + length + 2) return undefined
      if (buffer[next + length] !== CR || buffer[next + length + 1] !== LF) {
        throw new MalformedReply({ detail: "bulk string without its CRLF" })
      }
      return { value: buffer.toString("utf8", next, next + length), next: next + length + 2 }
    }
    case "*": {
      const count = parseInteger(line)
      if (count === -1) return { value: null, next }
      if (count < 0) throw new MalformedReply({ detail: `array length ${count}` })
      const items: Array<RedisValue> = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at)
        if (item === undefined) return undefined
        items.push(item.value)
        at = item.next
      }
      return { value: items, next: at }
    }
    default:
      throw new MalformedReply({ detail: `unknown reply type ${JSON.stringify(String.fromCharCode(buffer[start]!))}` })
  }
}

/**
 * Accumulates bytes until whole replies are there: a reply may arrive split over several chunks (a partial
 * read), and one chunk may carry several replies (pipelined commands). An incomplete reply is parsed again from
 * its start when more bytes come; simple, and cheap for the short replies of typical commands.
 */
export class ReplyParser {
  private pending: Buffer = Buffer.alloc(0)

  /** Feeds a chunk; calls `onReply` for each complete reply. Throws `MalformedReply` on garbage. */
  push(chunk: Buffer, onReply: (reply: RedisValue) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    let offset = 0
    while (true) {
      const parsed = parseReply(this.pending, offset)
      if (parsed === undefined) break
      offset = parsed.next
      onReply(parsed.value)
    }
    this.pending = this.pending.subarray(offset)
  }
}

/** A command as RESP2 sends it: an array of bulk strings. */
export const encodeCommand = (args: ReadonlyArray<string | number>): string => {
  let encoded = `*${args.length}\r\n`
  for (const arg of args) {
    const text = String(arg)
    encoded += `$${Buffer.byteLength(text)}\r\n${text}\r\n`
  }
  return encoded
}

// ---- the connection -------------------------------------------------------------------------------------------

/** Where a pending command's reply goes; `undefined` once its caller was interrupted. */
interface Slot {
  deliver: ((reply: RedisValue | RedisConnectionError) => void) | undefined
}

/**
 * One connection to Redis. Several commands may be in flight at once (`pipeline`, or fibers sharing the
 * connection); replies are matched to them in order.
 */
export class RedisConnection {
  private readonly slots: Array<Slot> = []
  private readonly parser = new ReplyParser()
  private failure: RedisConnectionError | undefined = undefined
  private readonly closeWaiters: Array<() => void> = []
  private closed = false

  constructor(private readonly socket: net.Socket, readonly address: string) {
    socket.on("data", this.onData)
    socket.on("end", () => this.fail(new RedisConnectionError({ reason: "Closed", address })))
    socket.on("error", (error: NodeJS.ErrnoException) => this.fail(socketError(address, error)))
    socket.on("close", () => {
      this.closed = true
      this.fail(new RedisConnectionError({ reason: "Closed", address }))
      for (const waiter of this.closeWaiters.splice(0)) waiter()
    })
  }

  /** False once the socket failed or closed, from either side. */
  get isOpen(): boolean {
    return this.failure === undefined && !this.socket.destroyed
  }

  /** Sends one command; an error reply fails with `RedisReplyError`. */
  command(...args: ReadonlyArray<string | number>): Effect.Effect<RedisValue, RedisError> {
    return Effect.flatMap(
      this.send([args]),
      ([reply]) => reply instanceof RedisReplyError ? Effect.fail(reply) : Effect.succeed(reply!)
    )
  }

  /**
   * Sends several commands in one write and collects their replies, in order. Error replies are values in the
   * result (each command succeeds or fails on its own, as in Redis); only a connection failure fails the whole.
   */
  pipeline(commands: ReadonlyArray<ReadonlyArray<string | number>>): Effect.Effect<Array<RedisValue>, RedisError> {
    return this.send(commands)
  }

  /** `PING`, expecting `PONG`: the pool's health check. */
  get ping(): Effect.Effect<void, RedisError> {
    return Effect.flatMap(this.command("PING"), (reply) =>
      reply === "PONG"
        ? Effect.void
        : Effect.fail(new RedisReplyError({ reason: "UnexpectedReply", code: "PING", detail: String(reply) })))
  }

  /** Closes the socket and waits until it is released. */
  readonly close: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.closed) return resume(Exit.void)
    this.closeWaiters.push(() => resume(Exit.void))
    this.fail(new RedisConnectionError({ reason: "Closed", address: this.address }))
  })

  private send(commands: ReadonlyArray<ReadonlyArray<string | number>>): Effect.Effect<Array<RedisValue>, RedisError> {
    return Effect.async<Array<RedisValue>, RedisError>((resume) => {
      if (this.failure !== undefined) return resume(Exit.fail(this.failure))
      const replies: Array<RedisValue> = []
      const slots = commands.map((): Slot => ({
        deliver: (reply) => {
          if (reply instanceof RedisConnectionError) {
            for (const slot of slots) slot.deliver = undefined
            return resume(Exit.fail(reply))
          }
          replies.push(reply)
          if (replies.length === commands.length) resume(Exit.succeed(replies))
        }
      }))
      this.slots.push(...slots)
      this.socket.write(commands.map(encodeCommand).join(""))
      // Interrupted before the replies came: they will still come, in order, so the slots stay in the queue
      // and their replies are dropped. The connection stays usable for the next command.
      return Effect.sync(() => {
        for (const slot of slots) slot.deliver = undefined
      })
    })
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.parser.push(chunk, (reply) => {
        const slot = this.slots.shift()
        if (slot === undefined) throw new MalformedReply({ detail: "a reply to no command" })
        slot.deliver?.(reply)
      })
    } catch (error) {
      this.fail(new RedisConnectionError({ reason: "MalformedReply", address: this.address, cause: error }))
    }
  }

  /** Fails every pending command with `error`, once, and destroys the socket. */
  private fail(error: RedisConnectionError): void {
    if (this.failure !== undefined) return
    this.failure = error
    for (const slot of this.slots.splice(0)) slot.deliver?.(error)
    this.socket.destroy()
  }
}

const resetCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"])

const socketError = (address: string, error: NodeJS.ErrnoException): RedisConnectionError =>
  new RedisConnectionError({
    reason: error.code !== undefined && resetCodes.has(error.code) ? "Reset" : "SocketFailed",
    address,
    code: error.code,
    cause: error
  })

// ---- opening --------------------------------------------------------------------------------------------------

export interface RedisOptions {
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Default 6379. */
  readonly port?: number | undefined
  /** A Unix socket path (Redis's `unixsocket`); when given, `host` and `port` are ignored. */
  readonly path?: string | undefined
  /**
   * `CLIENT SETNAME` on every connection: it shows in `CLIENT LIST`, which lets an operator (or a test) find
   * exactly this pool's connections. No spaces.
   */
  readonly clientName?: string | undefined
  /** `AUTH` on every connection, when the server requires it. */
  readonly username?: string | undefined
  readonly password?: string | undefined
  /** Bound on the TCP connect. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

export const formatAddress = (options: RedisOptions): string =>
  options.path !== undefined ? `unix:${options.path}` : `tcp:${options.host ?? "127.0.0.1"}:${options.port ?? 6379}`

const openSocket = (options: RedisOptions): Effect.Effect<RedisConnection, RedisConnectionError, Scope.Scope> => {
  const address = formatAddress(options)
  const timeoutMillis = Duration.toMillis(options.connectTimeout ?? "5 seconds")
  return Effect.acquireRelease(
    // Interruptible, so that a borrower giving up stops a slow connect; the canceller destroys the socket.
    Effect.interruptible(Effect.async<RedisConnection, RedisConnectionError>((resume) => {
      const socket = options.path !== undefined
        ? net.createConnection({ path: options.path })
        : net.createConnection({ host: options.host ?? "127.0.0.1", port: options.port ?? 6379, noDelay: true })
      const settle = () => {
        clearTimeout(timer)
        socket.removeAllListeners("connect").removeAllListeners("error")
      }
      const timer = setTimeout(() => {
        settle()
        socket.destroy()
        resume(Exit.fail(new RedisConnectionError({ reason: "ConnectTimeout", address })))
      }, timeoutMillis)
      socket.once("connect", () => {
        settle()
        resume(Exit.succeed(new RedisConnection(socket, address)))
      })
      socket.once("error", (error: NodeJS.ErrnoException) => {
        settle()
        socket.destroy()
        resume(
          Exit.fail(new RedisConnectionError({ reason: "ConnectFailed", address, code: error.code, cause: error }))
        )
      })
      return Effect.sync(() => {
        settle()
        socket.destroy()
      })
    })),
    (connection) => connection.close
  )
}

/** Opens one connection in the current scope: connect, `AUTH` and `CLIENT SETNAME` as the options ask. */
export const connect = (options: RedisOptions = {}): Effect.Effect<RedisConnection, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = yield* openSocket(options)
    if (options.password !== undefined) {
      const credentials = options.username === undefined ? [options.password] : [options.username, options.password]
      yield* connection.command("AUTH", ...credentials)
    }
    if (options.clientName !== undefined) yield* connection.command("CLIENT", "SETNAME", options.clientName)
    return connection
  })

/**
 * A borrower's failure is the connection's fault when the socket failed (or on a defect); Redis error replies
 * and the borrower's own errors are not.
 */
export const isFault = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isDie(cause) || Chunk.some(Cause.failures(cause), (error) => error instanceof RedisConnectionError)

/** What a pool needs to open, check and judge Redis connections. */
export const connector = (options: RedisOptions = {}): Connector.Connector<RedisConnection, RedisError> =>
  Connector.make({
    open: connect(options),
    check: (connection) => connection.ping,
    isOpen: (connection) => connection.isOpen,
    isFault
  })
