import { Connector } from "@connection-pool/core"
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  ErrorReply,
  type RedisArgument,
  type RedisClientOptions,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  WatchError
} from "@redis/client"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as RedisConnection from "../RedisConnection.js"
import { RedisCommandError, RedisConnectionError, type RedisError } from "../RedisError.js"
import * as edge from "./edge/effect.js"
import { isFault } from "./errors.js"

/** @internal */
export const TypeId: RedisConnection.TypeId = Symbol.for("@connection-pool/redis/RedisConnection") as never

/** @internal */
export const defaultConnectTimeout = Duration.seconds(10)

/** @internal */
export const formatAddress = (options: RedisConnection.RedisOptions): string => {
  if (options.path !== undefined) return `unix:${options.path}`
  if (options.url !== undefined && options.host === undefined && options.port === undefined) {
    const url = new URL(options.url)
    return `${url.hostname || "127.0.0.1"}:${url.port || 6379}`
  }
  return `${options.host ?? "127.0.0.1"}:${options.port ?? 6379}`
}

/** The node-redis options: no reconnecting and no offline queue of its own, since the pool replaces connections. */
const clientOptions = (options: RedisConnection.RedisOptions, timeoutMillis: number): RedisClientOptions => {
  const common = { connectTimeout: timeoutMillis, reconnectStrategy: false } as const
  const socket = options.path !== undefined
    ? { ...common, path: options.path, tls: false as const }
    : options.url !== undefined && options.host === undefined && options.port === undefined
    ? common
    : { ...common, host: options.host ?? "127.0.0.1", port: options.port ?? 6379 }
  return {
    socket,
    disableOfflineQueue: true,
    // Redis Enterprise's maintenance notices are one more handshake round trip that a plain server refuses.
    maintNotifications: "disabled",
    ...(options.url === undefined ? {} : { url: options.url }),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.database === undefined ? {} : { database: options.database }),
    ...(options.clientName === undefined ? {} : { name: options.clientName })
  }
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOENT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])
const authCodes = new Set(["WRONGPASS", "NOAUTH", "NOPERM"])

const replyCode = (error: Error): string => error.message.split(" ", 1)[0] ?? "ERR"
const errnoCode = (error: unknown): string | undefined =>
  hasProperty(error, "code") && typeof error.code === "string" ? error.code : undefined

const openFailure = (address: string, error: unknown): RedisConnectionError => {
  const code = errnoCode(error)
  if (code !== undefined && unreachableCodes.has(code)) {
    return new RedisConnectionError({ reason: "Unreachable", address, code, cause: error })
  }
  if (error instanceof ConnectionTimeoutError) {
    return new RedisConnectionError({ reason: "ConnectTimeout", address, cause: error })
  }
  if (error instanceof ErrorReply) {
    const reply = replyCode(error)
    const auth = authCodes.has(reply) || /\bAUTH\b/.test(error.message)
    return new RedisConnectionError({
      reason: auth ? "AuthFailed" : "HandshakeFailed",
      address,
      code: reply,
      cause: error
    })
  }
  return new RedisConnectionError({ reason: "Closed", address, code, cause: error })
}

const connectionErrors = [
  SocketClosedUnexpectedlyError,
  ClientClosedError,
  ClientOfflineError,
  DisconnectsClientError,
  SocketTimeoutError
]

type Client = RedisConnection.RedisClient

class Connection implements RedisConnection.RedisConnection {
  readonly [TypeId]: RedisConnection.TypeId = TypeId
  /** What broke the connection, when node-redis reported it as an event rather than as a rejected command. */
  private brokenBy: unknown = undefined

  constructor(readonly client: Client, readonly address: string) {
    // node-redis reports socket failures and bytes that are not RESP as "error" events (with no listener Node would
    // throw them). After a socket failure the client is closed already; after a reply it cannot parse, it stays
    // open with its pending commands waiting forever. Closing it fails them, as a connection error.
    client.on("error", (error: unknown) => {
      this.brokenBy ??= error
      if (client.isOpen) this.destroy()
    })
  }

  get isOpen(): boolean {
    return this.client.isOpen
  }

  /** What a rejection from node-redis means: the server's answer, a broken connection, or a bug (a defect). */
  readonly failure = (error: unknown): Effect.Effect<never, RedisError> => {
    if (error instanceof WatchError) {
      return Effect.fail(
        new RedisCommandError({ reason: "TransactionAborted", address: this.address, code: "EXECABORT", cause: error })
      )
    }
    if (error instanceof ErrorReply) {
      return Effect.fail(
        new RedisCommandError({ reason: "ErrorReply", address: this.address, code: replyCode(error), cause: error })
      )
    }
    if (connectionErrors.some((kind) => error instanceof kind) || !this.client.isOpen) {
      const cause = this.brokenBy ?? error
      return Effect.fail(new RedisConnectionError({ reason: "Closed", address: this.address, cause }))
    }
    return Effect.die(error)
  }

  readonly run = <A>(f: (client: Client) => Promise<A>): Effect.Effect<A, RedisError> =>
    edge.callback<A, RedisError>((resume) => {
      let settled = false
      let promise: Promise<A>
      try {
        promise = f(this.client)
      } catch (error) {
        resume(this.failure(error))
        return
      }
      promise.then(
        (value) => {
          settled = true
          resume(Exit.succeed(value))
        },
        (error) => {
          settled = true
          resume(this.failure(error))
        }
      )
      // Interrupted in flight: the server may be blocked in BLPOP for this caller, between MULTI and EXEC, or
      // about to send a reply nobody reads. Closing is the only state the next borrower can trust; the pool sees
      // the connection closed and replaces it.
      return Effect.sync(() => {
        if (!settled) this.destroy()
      })
    })

  readonly command = (...args: ReadonlyArray<RedisArgument>): Effect.Effect<unknown, RedisError> =>
    this.run((client) => client.sendCommand(args))

  readonly ping: Effect.Effect<void, RedisError> = Effect.asVoid(this.run((client) => client.ping()))

  readonly watch = <A, E, R>(
    keys: string | ReadonlyArray<string>,
    body: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | RedisError, R> =>
    Effect.andThen(
      this.run((client) => client.watch(typeof keys === "string" ? keys : [...keys])),
      // EXEC ends the WATCH; a body that fails or never reaches EXEC leaves it to UNWATCH here, so the next
      // borrower's transaction is not aborted by keys it never watched.
      Effect.ensuring(
        body,
        Effect.suspend(() => this.client.isWatching && this.client.isOpen ? this.unwatch : Effect.void)
      )
    )

  private readonly unwatch: Effect.Effect<void> = Effect.suspend(() =>
    this.run((client) => client.unwatch()).pipe(edge.catchAll(() => Effect.sync(() => this.destroy())))
  )

  readonly subscribe = (channels: string | ReadonlyArray<string>): Stream.Stream<RedisConnection.Message, RedisError> =>
    edge.callbackStream<RedisConnection.Message, RedisError, never>((emit) => {
      const names = typeof channels === "string" ? [channels] : [...channels]
      const listener = (message: string, channel: string) => emit.single({ channel, message })
      // node-redis reports a connection the server closed as an "error" event (it does not reconnect), and one
      // closed here as "end".
      const onClose = () => {
        if (!this.client.isOpen) {
          emit.fail(
            new RedisConnectionError({ reason: "Closed", address: this.address, cause: "closed while subscribed" })
          )
        }
      }
      const watchClose = (on: boolean) =>
        Effect.sync(() => {
          for (const event of ["error", "end"]) {
            if (on) this.client.on(event, onClose)
            else this.client.off(event, onClose)
          }
        })
      return Effect.acquireRelease(
        Effect.andThen(watchClose(true), this.run((c) => c.subscribe(names, listener))),
        () =>
          Effect.andThen(
            watchClose(false),
            // Left subscribed, the connection could not serve the next borrower as expected: close it instead.
            Effect.suspend(() =>
              this.client.isOpen ?
                this.run((c) => c.unsubscribe(names, listener)).pipe(
                  edge.catchAll(() => Effect.sync(() => this.destroy()))
                ) :
                Effect.void
            )
          )
      )
    })

  readonly close: Effect.Effect<void> = Effect.sync(() => this.destroy())

  destroy(): void {
    // Even when node-redis says it is not open: a connect still in its handshake has a socket to destroy.
    try {
      this.client.destroy()
    } catch {
      // Already closed: nothing left to close.
    }
  }
}

/** @internal */
export const connect = (
  options: RedisConnection.RedisOptions = {}
): Effect.Effect<RedisConnection.RedisConnection, RedisConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = formatAddress(options)
    const timeout = edge.toDuration(options.connectTimeout ?? defaultConnectTimeout)
    // Owned by the scope from the start, so a connect that times out or is interrupted is destroyed too.
    const connection = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = createClient(clientOptions(options, Duration.toMillis(timeout))) as unknown as Client
        return new Connection(client, address)
      }),
      (connection) => connection.close
    )
    yield* edge.timeoutFail(
      Effect.tryPromise({ try: () => connection.client.connect(), catch: (error) => openFailure(address, error) }),
      timeout,
      () =>
        new RedisConnectionError({
          reason: "ConnectTimeout",
          address,
          cause: `no connection and handshake within ${Duration.format(timeout)}`
        })
    )
    return connection
  })

/** @internal */
export const connector = (
  options: RedisConnection.RedisOptions = {}
): Connector.Connector<RedisConnection.RedisConnection, RedisConnectionError> =>
  Connector.make({
    open: connect(options),
    check: (connection: RedisConnection.RedisConnection) => connection.ping,
    // A connection still WATCHing or subscribed (its borrower bypassed `watch` and `subscribe`) is retired rather
    // than lent with state the next borrower does not expect.
    isOpen: ({ client }: RedisConnection.RedisConnection) =>
      client.isOpen && !client.isWatching && !client.isPubSubActive,
    isFault
  })

/** @internal */
export const isRedisConnection = (u: unknown): u is RedisConnection.RedisConnection => hasProperty(u, TypeId)
