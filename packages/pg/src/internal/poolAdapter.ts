import type * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Pg from "pg"
import type { PgConnection } from "../PgConnection.js"
import { fromDriverError, PgError } from "../PgError.js"
import type { Source } from "../PgPoolAdapter.js"
import * as edge from "./edge/effect.js"

type ConnectCallback = (
  error: Error | undefined,
  client: Pg.PoolClient | undefined,
  release: (release?: unknown) => void
) => void

interface Loan {
  readonly client: Pg.PoolClient
  readonly release: (release?: unknown) => void
}

/**
 * Borrows a session for a loan of its own, closed by `release`. The loan's scope ends with the fault when there
 * was one (what `release` was given, or what the session saw on the wire meanwhile), so that the pool counts it
 * in the session's health record and retires a session that is gone.
 */
const lend = (pool: ConnectionPool.ConnectionPool<PgConnection>, runner: edge.Runner) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const handle = yield* Effect.onExit(
      edge.inScope(pool.get, scope),
      (exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void
    )
    const session = handle.connection
    let released = false
    const release = (reason?: unknown): void => {
      if (released) return
      released = true
      const given = reason instanceof Error || (typeof reason === "object" && reason !== null)
        ? fromDriverError(reason, { host: session.host, opening: false })
        : reason === true
        ? new PgError({ reason: "ConnectionLost", host: session.host, code: undefined, detail: "released as broken" })
        : undefined
      const fault = given?.isConnectionFault === true ? given : session.lost
      edge.runFork(
        runner,
        Effect.andThen(
          fault === undefined ? Effect.void : handle.invalidate,
          Scope.close(scope, fault === undefined ? Exit.void : Exit.fail(fault))
        )
      )
    }
    // As pg's own pool does: the client lent carries its `release` for this loan.
    const client: Pg.PoolClient = Object.assign(session.client, { release })
    return { client, release } satisfies Loan
  })

const ended = () => new Error("Cannot use a pool after calling end on the pool")

/**
 * A `pg.Pool` whose clients come from a core pool. Subclassing keeps the driver's type and `options` (which
 * @effect/sql-pg reads for its span attributes and its `LISTEN` client); `connect`, `query` and `end` are
 * re-routed, and nothing else of the driver's pool is used.
 */
export class PooledPgPool extends Pg.Pool {
  readonly source: Source
  readonly runner: edge.Runner

  constructor(source: Source, runner: edge.Runner) {
    super({ ...source.config, max: source.pool.maxConnections })
    this.source = source
    this.runner = runner
  }

  override connect(): Promise<Pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<Pg.PoolClient> | void {
    if (callback !== undefined) return this.borrow(callback)
    return new Promise((resolve, reject) =>
      this.borrow((error, client) => error === undefined && client !== undefined ? resolve(client) : reject(error))
    )
  }

  /** As the driver's `pool.query`: one statement on a session borrowed for it, as a promise or with a callback. */
  override query(...args: Array<any>): any {
    const callback: ((error: Error | undefined, result?: unknown) => void) | undefined =
      typeof args[args.length - 1] === "function" ? args.pop() : undefined
    const [text, values] = args
    const result = new Promise<unknown>((resolve, reject) => {
      if (typeof text === "function") return reject(new Error("pool.query takes a query, not a function"))
      this.borrow((error, client) => {
        if (error !== undefined || client === undefined) return reject(error)
        let done = false
        const onError = (cause: Error) => {
          if (done) return
          done = true
          client.release(cause)
          reject(cause)
        }
        client.once("error", onError)
        client.query(text, values, (cause: Error | undefined, rows: unknown) => {
          client.off("error", onError)
          if (done) return
          done = true
          client.release(cause)
          return cause ? reject(cause) : resolve(rows)
        })
      })
    })
    if (callback === undefined) return result
    result.then((rows) => callback(undefined, rows), (error) => callback(error))
  }

  /** Refuses further loans; the core pool itself closes with the scope that opened it. */
  override end(): Promise<void>
  override end(callback: () => void): void
  override end(callback?: () => void): Promise<void> | void {
    this.markEnded()
    if (callback === undefined) return Promise.resolve()
    process.nextTick(callback)
  }

  markEnded(): void {
    const self = this as { ending: boolean; ended: boolean }
    self.ending = true
    self.ended = true
  }

  private borrow(callback: ConnectCallback): void {
    if (this.ending) return process.nextTick(() => callback(ended(), undefined, () => undefined))
    edge.runCallback(this.runner, lend(this.source.pool, this.runner), (exit) => {
      if (Exit.isSuccess(exit)) return callback(undefined, exit.value.client, exit.value.release)
      callback(edge.causeAsError(exit.cause), undefined, () => undefined)
    })
  }

  private count(of: (stats: ConnectionPool.PoolStats) => number): number {
    const exit = edge.runSyncExit(this.runner, this.source.pool.stats)
    return Exit.isSuccess(exit) ? of(exit.value) : 0
  }
}

// The driver declares the counts as read-only fields and implements them as getters; answered from the core
// pool's stats here (the driver's own bookkeeping stays empty).
Object.defineProperties(PooledPgPool.prototype, {
  totalCount: {
    get(this: PooledPgPool) {
      return this["count"]((stats) => stats.total)
    }
  },
  idleCount: {
    get(this: PooledPgPool) {
      return this["count"]((stats) => stats.idle)
    }
  },
  waitingCount: {
    get(this: PooledPgPool) {
      return this["count"]((stats) => stats.waiting)
    }
  },
  expiredCount: { get: () => 0 }
})

export const make = (source: Source): Effect.Effect<Pg.Pool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runner = yield* edge.currentRunner
    const adapter = new PooledPgPool(source, runner)
    yield* Effect.addFinalizer(() => Effect.sync(() => adapter.markEnded()))
    return adapter
  })
