import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { Client, type ClientConfig, type QueryResult, type QueryResultRow } from "pg"
import type { PgConnection, TypeId as PgConnectionTypeId } from "../PgConnection.js"
import { fromDriverError, PgError } from "../PgError.js"
import * as edge from "./edge/effect.js"
import { describeHost } from "./pgError.js"

export const TypeId: PgConnectionTypeId = Symbol.for("@connection-pool/pg/PgConnection") as PgConnectionTypeId

/** The driver's connect timeout when the config gives none: its own default is to wait forever. */
export const defaultConnectTimeoutMillis = 10_000

/** How long `end()` may take before the socket is destroyed instead. */
const closeTimeout = "5 seconds"

export class PgConnectionImpl implements PgConnection {
  readonly [TypeId]: PgConnectionTypeId = TypeId
  readonly host: string
  private lostWith: PgError | undefined = undefined

  constructor(readonly client: Client, readonly config: ClientConfig) {
    this.host = describeHost(client)
    // The driver emits `error` when an idle session is terminated or its socket breaks; without a listener that
    // would crash the process. Here it marks the session lost, so that a pool retires it.
    client.on("error", (cause) => this.markLost(cause, "ConnectionLost"))
    client.on("end", () => this.markLost(new Error("Connection terminated"), "ConnectionLost"))
    // The wire itself: a FATAL error from the server (57P01 from pg_terminate_backend, ...) or the socket's end is
    // seen here even when the driver hands it to a query's callback only, as it does for the queries of
    // @effect/sql-pg, which reach the client without going through `query` below.
    client.connection.on("errorMessage", (message: { readonly severity?: string }) => {
      if (message.severity === "FATAL" || message.severity === "PANIC") this.markLost(message, "ConnectionLost")
    })
    client.connection.on("end", () => this.markLost(new Error("Connection terminated"), "ConnectionLost"))
  }

  get isOpen(): boolean {
    return this.lostWith === undefined
  }

  get lost(): PgError | undefined {
    return this.lostWith
  }

  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: ReadonlyArray<unknown>
  ): Effect.Effect<QueryResult<R>, PgError> {
    return edge.callback<QueryResult<R>, PgError>((resume) => {
      if (this.lostWith !== undefined) return resume(Exit.fail(this.lostWith))
      let settled = false
      this.client.query<R>(text, values === undefined ? undefined : [...values]).then(
        (result) => {
          settled = true
          resume(Exit.succeed(result))
        },
        (cause: unknown) => {
          settled = true
          const error = fromDriverError(cause, { host: this.host, opening: false })
          if (error.isConnectionFault) this.markLost(error, "ConnectionLost")
          resume(Exit.fail(error))
        }
      )
      // The driver cannot take a statement back, and one left running would delay the next borrower's: give up the
      // session instead (a pool retires it; `end()` then destroys the socket of a client with a query running).
      return Effect.sync(() => {
        if (!settled) {
          this.lostWith ??= new PgError({
            reason: "Abandoned",
            host: this.host,
            code: undefined,
            detail: "a query was interrupted before its reply"
          })
        }
      })
    })
  }

  readonly close: Effect.Effect<void> = Effect.promise(() => this.client.end().catch(() => undefined)).pipe(
    Effect.timeoutOption(closeTimeout),
    Effect.flatMap((ended) =>
      ended._tag === "Some" ? Effect.void : Effect.sync(() => this.client.connection.stream.destroy())
    )
  )

  /** Records the first reason the session was lost; a statement error never counts here. */
  markLost(cause: unknown, otherwise: "ConnectionLost"): void {
    if (this.lostWith !== undefined) return
    const error = fromDriverError(cause, { host: this.host, opening: false })
    this.lostWith = error.isConnectionFault
      ? error
      : new PgError({ reason: otherwise, host: error.host, code: error.code, detail: error.detail, cause })
  }
}

export const connect = (config: ClientConfig = {}): Effect.Effect<PgConnection, PgError, Scope.Scope> =>
  Effect.acquireRelease(
    edge.callback<PgConnectionImpl, PgError>((resume) => {
      const client = new Client({ connectionTimeoutMillis: defaultConnectTimeoutMillis, ...config })
      // Listening before `connect()`, so that no `error` event can find the client without a listener.
      const connection = new PgConnectionImpl(client, config)
      let settled = false
      client.connect().then(
        () => {
          settled = true
          resume(Exit.succeed(connection))
        },
        (cause: unknown) => {
          settled = true
          // whatever the driver had opened before failing
          client.end().catch(() => undefined)
          resume(Exit.fail(fromDriverError(cause, { host: connection.host, opening: true })))
        }
      )
      // Interrupted while opening (the pool's `openTimeout`, a borrower giving up): abandon the half-open client.
      return Effect.sync(() => {
        if (!settled) client.end().catch(() => undefined)
      })
    }),
    (connection) => connection.close
  )
