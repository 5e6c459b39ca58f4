/**
 * A `Connector` that pools the `pg` driver's `Client`s (one `Client` is one PostgreSQL session).
 *
 * - `connect(config)` opens a session in the current scope: `client.connect()` when it opens, `client.end()` in
 *   the scope's finalizer.
 * - `connector(config)` gives a pool what it needs: `SELECT 1` as the health check, `isOpen` from the client's
 *   `error` and `end` events, and `isFault` that blames the connection only for connection-level failures (the
 *   server terminated the session, the socket was reset, the driver says the client is no longer queryable), not
 *   for SQL errors such as a syntax error or a unique violation.
 *
 * Every failure is a tagged error: `PgConnectionError` (the session is gone, a pool retires it) or `PgQueryError`
 * (the statement failed, the session is fine).
 */
import { Connector } from "@connection-pool/core"
import { Cause, Chunk, Data, Effect, Exit, type Scope } from "effect"
import { Client, type ClientConfig, type QueryResult, type QueryResultRow } from "pg"

// ---- errors -------------------------------------------------------------------------------------------------

/**
 * The session is gone or could not be opened.
 *
 * - `ConnectFailed`: `connect()` failed (server down, authentication, unknown database, ...).
 * - `ServerShutdown`: the server ended the session: `57P01` admin_shutdown (what `pg_terminate_backend` and a
 *   fast shutdown send), `57P02` crash_shutdown, `57P03` cannot_connect_now.
 * - `ConnectionLost`: the socket closed or was reset, a SQLSTATE of class 08 (connection exception), or the
 *   driver refuses queries on a client whose connection failed.
 * - `Abandoned`: a query was interrupted before its reply; the session is retired rather than left with a
 *   statement of unknown outcome running on it.
 */
export class PgConnectionError extends Data.TaggedError("PgConnectionError")<{
  readonly reason: "ConnectFailed" | "ServerShutdown" | "ConnectionLost" | "Abandoned"
  /** The SQLSTATE or errno code, where there is one. */
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const code = this.code === undefined ? "" : ` (${this.code})`
    const detail = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `postgres: ${this.reason}${code}${detail}`
  }
}

/** A statement failed (syntax, constraint, permission, ...); the session is fine. `code` is the SQLSTATE. */
export class PgQueryError extends Data.TaggedError("PgQueryError")<{
  readonly reason: "QueryFailed"
  readonly code?: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `postgres: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export type PgError = PgConnectionError | PgQueryError

const serverShutdownCodes = new Set(["57P01", "57P02", "57P03"])
const socketCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "ECONNREFUSED", "EHOSTUNREACH"])
// What the driver says when the socket ended, or when a client whose connection failed or ended is queried.
const lostMessages = ["Connection terminated", "not queryable"]

/** Sorts a `pg` error into a connection-level failure or a failed statement. */
export const classify = (error: unknown): PgError => {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined
  const message = error instanceof Error ? error.message : String(error)
  if (code !== undefined && serverShutdownCodes.has(code)) {
    return new PgConnectionError({ reason: "ServerShutdown", code, cause: error })
  }
  if (
    (code !== undefined && (code.startsWith("08") || socketCodes.has(code))) ||
    lostMessages.some((text) => message.includes(text))
  ) {
    return new PgConnectionError({ reason: "ConnectionLost", code, cause: error })
  }
  return new PgQueryError({ reason: "QueryFailed", code, cause: error })
}

// ---- the connection -------------------------------------------------------------------------------------------

/** One session: the driver's `Client`, with queries as effects and a liveness flag. */
export class PgConnection {
  private lost: PgConnectionError | undefined = undefined

  constructor(readonly client: Client) {
    // The driver emits `error` when an idle session is terminated; without a listener, that would crash the
    // process. Here it marks the connection lost, so that the pool retires it.
    client.on("error", (cause) => {
      const error = classify(cause)
      this.markLost(
        error._tag === "PgConnectionError" ? error : new PgConnectionError({ reason: "ConnectionLost", cause })
      )
    })
    client.on("end", () => this.markLost(new PgConnectionError({ reason: "ConnectionLost", cause: "ended" })))
  }

  /** False once the session failed, ended or abandoned a query. */
  get isOpen(): boolean {
    return this.lost === undefined
  }

  /** Runs one statement. */
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: ReadonlyArray<unknown>
  ): Effect.Effect<QueryResult<R>, PgError> {
    return Effect.async<QueryResult<R>, PgError>((resume) => {
      if (this.lost !== undefined) return resume(Exit.fail(this.lost))
      let settled = false
      this.client.query<R>(text, values === undefined ? undefined : [...values]).then(
        (result) => {
          settled = true
          resume(Exit.succeed(result))
        },
        (cause: unknown) => {
          settled = true
          const error = classify(cause)
          if (error._tag === "PgConnectionError") this.markLost(error)
          resume(Exit.fail(error))
        }
      )
      // The driver cannot take a statement back, and one left running would delay the next borrower's: give
      // up the session instead (the pool retires it; `end()` then destroys its socket).
      return Effect.sync(() => {
        if (!settled) this.markLost(new PgConnectionError({ reason: "Abandoned" }))
      })
    })
  }

  /** Ends the session (`client.end()`); resolves at once for a session already ended. */
  readonly close: Effect.Effect<void> = Effect.promise(() => this.client.end().catch(() => undefined))

  private markLost(error: PgConnectionError): void {
    this.lost ??= error
  }
}

// ---- opening --------------------------------------------------------------------------------------------------

/**
 * Opens one session in the current scope. The open is bounded by the driver's `connectionTimeoutMillis`
 * (default here 5 seconds) and the pool's `openTimeout`.
 */
export const connect = (config: ClientConfig = {}): Effect.Effect<PgConnection, PgConnectionError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<PgConnection, PgConnectionError>((resume) => {
      const connection = new PgConnection(new Client({ connectionTimeoutMillis: 5_000, ...config }))
      connection.client.connect().then(
        () => resume(Exit.succeed(connection)),
        (cause: unknown) => {
          const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
          resume(Exit.fail(new PgConnectionError({ reason: "ConnectFailed", code, cause })))
          // whatever the driver had opened before failing
          connection.client.end().catch(() => undefined)
        }
      )
    }),
    (connection) => connection.close
  )

/**
 * A borrower's failure is the connection's fault when the session failed (or on a defect); SQL errors and the
 * borrower's own errors are not.
 */
export const isFault = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isDie(cause) || Chunk.some(Cause.failures(cause), (error) => error instanceof PgConnectionError)

/** What a pool needs to open, check and judge PostgreSQL sessions. */
export const connector = (config: ClientConfig = {}): Connector.Connector<PgConnection, PgConnectionError> =>
  Connector.make({
    open: connect(config),
    check: (connection) => connection.query("SELECT 1"),
    isOpen: (connection) => connection.isOpen,
    isFault
  })
