/**
 * `PgPoolAdapter` through the driver's own pool API, against the live server: what code written for a `pg.Pool`
 * sees (`query`, `connect` and `release`, the counts, `end`), each loan a loan of the core pool, counted in the
 * session's health record; a fault given to `release`, or a session the server ended during the loan, retires the
 * session. (The tests through @effect/sql-pg are in PgPoolAdapter.test.ts and chaos-sql.test.ts.)
 */
import { PgConnection, PgPool, PgPoolAdapter } from "@connection-pool/pg"
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type * as Pg from "pg"
import {
  eventually,
  postgresUnavailable,
  requireServer,
  scopedLive,
  server,
  sessionsNamed,
  skipWithout,
  terminateSessionsNamed,
  uniqueName,
  within
} from "./utils.js"

const unavailable = await postgresUnavailable()

/** A PgPool service of at most `max` sessions named `name`, and the adapter on it. */
const adapterOn = (name: string, max: number) =>
  Effect.gen(function*() {
    const pg = yield* PgPool.make({ ...server, application_name: name, pool: { maxConnections: max } })
    const pool = yield* PgPoolAdapter.make(pg)
    return { pg, pool }
  })

/** A client lent by `pool.connect()`, released when the scope closes if the test has not released it by then. */
const borrow = (pool: Pg.Pool) =>
  Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release()))

/** What a promise of the driver rejected with, or `undefined` when it resolved. */
const rejection = (promise: () => Promise<unknown>) =>
  Effect.promise(() => promise().then(() => undefined, (error: unknown) => error))

const pidOf = (client: Pg.PoolClient) =>
  Effect.promise(() => client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).pipe(
    Effect.map((result) => result.rows[0]!.pid)
  )

describe.skipIf(skipWithout(unavailable))("PgPoolAdapter as a pg.Pool", () => {
  scopedLive(
    "pool.query runs one statement per loan, as a promise or with a callback; a failed one is no fault",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const { pg, pool } = yield* adapterOn(uniqueName("adapter-query"), 2)
        const result = yield* Effect.promise(() => pool.query<{ n: number }>("SELECT $1::int AS n", [7]))
        assert.deepStrictEqual(result.rows, [{ n: 7 }])
        const viaCallback = yield* Effect.promise(() =>
          new Promise<unknown>((resolve, reject) =>
            pool.query(
              "SELECT 8 AS n",
              (error: Error | undefined, answer: Pg.QueryResult) => error ? reject(error) : resolve(answer.rows)
            )
          )
        )
        assert.deepStrictEqual(viaCallback, [{ n: 8 }])
        const failed = yield* rejection(() => pool.query("SELECT * FROM no_such_table_here"))
        assert.strictEqual((failed as { readonly code?: unknown }).code, "42P01")

        // Each statement was a loan of its own, and every loan came back; the failed statement blamed no session.
        yield* eventually(Effect.map(pg.pool.stats, (stats) => stats.inUse === 0), "every loan to come back")
        const records = yield* pg.pool.connections
        assert.strictEqual(records.reduce((sum, record) => sum + record.useCount, 0), 3)
        assert.strictEqual(records.reduce((sum, record) => sum + record.errorCount, 0), 0)
        assert.strictEqual((yield* pg.pool.stats).closed, 0)
      })
  )

  scopedLive(
    "connect lends a session until release, the counts follow the core pool, and a newcomer waits",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("adapter-connect")
        const { pg, pool } = yield* adapterOn(name, 1)
        assert.strictEqual(pool.options.application_name, name, "options: the sessions' config")
        assert.strictEqual(pool.options.max, 1)

        const first = yield* borrow(pool)
        const pid = yield* pidOf(first)
        assert.deepInclude(pool, { totalCount: 1, idleCount: 0, waitingCount: 0, expiredCount: 0 })
        assert.strictEqual((yield* pg.pool.stats).inUse, 1)

        // The pool has one session, lent: a second connect waits for it.
        let second: Pg.PoolClient | undefined
        const waiting = pool.connect().then((client) => {
          second = client
        })
        // Should the test end before the second loan comes, it is given back as soon as it does.
        yield* Effect.addFinalizer(() => Effect.sync(() => void waiting.then(() => second?.release())))
        yield* eventually(() => pool.waitingCount === 1, "the second connect to wait")
        first.release()
        yield* Effect.promise(() => waiting).pipe(within("5 seconds", "the second connect to get the session"))
        assert.strictEqual(yield* pidOf(second!), pid, "the same session served both loans")
        second!.release()
        yield* eventually(() => pool.idleCount === 1 && pool.totalCount === 1, "the session to be idle again")

        const stats = yield* pg.pool.stats
        assert.strictEqual(stats.created, 1)
        assert.strictEqual(stats.closed, 0)
        const [record] = yield* pg.pool.connections
        assert.strictEqual(record!.useCount, 2)
      })
  )

  scopedLive(
    "release(fault) and release(true) retire the session; release(error of a statement) does not",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const { pg, pool } = yield* adapterOn(uniqueName("adapter-release"), 1)
        const closedAfter = (release: (client: Pg.PoolClient) => void, closed: number) =>
          Effect.scoped(Effect.gen(function*() {
            const client = yield* borrow(pool)
            release(client)
            yield* eventually(
              Effect.map(pg.pool.stats, (stats) => stats.inUse === 0 && stats.closed === closed),
              `the loan to come back, with ${closed} sessions closed`
            )
          }))
        const serverShutdown = Object.assign(new Error("terminating connection due to administrator command"), {
          code: "57P01",
          severity: "FATAL"
        })
        yield* closedAfter((client) => client.release(serverShutdown), 1)
        yield* closedAfter((client) => client.release(true), 2)
        const syntax = Object.assign(new Error("syntax error at or near \"SELEC\""), {
          code: "42601",
          severity: "ERROR"
        })
        yield* closedAfter((client) => client.release(syntax), 2)
        yield* closedAfter((client) => client.release(), 2)
        const stats = yield* pg.pool.stats
        assert.strictEqual(stats.closedByReason.invalidated, 2)
        assert.strictEqual(stats.created, 3, "each retired session replaced once")
      })
  )

  scopedLive(
    "a session the server terminates during a loan is retired when it comes back",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("adapter-terminated")
        const { pg, pool } = yield* adapterOn(name, 2)
        const admin = yield* PgConnection.connect(server)
        const client = yield* borrow(pool)
        const ended = new Promise<void>((resolve) => client.once("end", () => resolve()))
        assert.strictEqual(yield* terminateSessionsNamed(admin, name), 1)
        yield* Effect.promise(() => ended).pipe(within("5 seconds", "the client to see its session end"))
        client.release()
        yield* eventually(
          Effect.map(pg.pool.stats, (stats) => stats.closed === 1 && stats.total === 0),
          "the session retired"
        )
        const result = yield* Effect.promise(() => pool.query<{ n: number }>("SELECT 5 AS n"))
        assert.strictEqual(result.rows[0]!.n, 5)
        assert.strictEqual(yield* sessionsNamed(admin, name), 1)
      })
  )

  scopedLive(
    "end() refuses further loans, as does the adapter once its scope closes; the core pool goes on",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const { pg, pool } = yield* adapterOn(uniqueName("adapter-end"), 2)
        yield* Effect.promise(() => pool.end())
        const refused = "Cannot use a pool after calling end on the pool"
        assert.include(String(yield* rejection(() => pool.connect())), refused)
        assert.include(String(yield* rejection(() => pool.query("SELECT 1"))), refused)
        assert.deepStrictEqual((yield* pg.query<{ n: number }>("SELECT 1 AS n")).rows, [{ n: 1 }])

        const scope = yield* Scope.make()
        const scoped = yield* Effect.provideService(PgPoolAdapter.make(pg), Scope.Scope, scope)
        assert.deepStrictEqual((yield* Effect.promise(() => scoped.query<{ n: number }>("SELECT 2 AS n"))).rows, [{
          n: 2
        }])
        yield* Scope.close(scope, Exit.void)
        assert.include(String(yield* rejection(() => scoped.connect())), refused)
      })
  )
})
