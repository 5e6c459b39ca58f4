/**
 * PostgreSQL: a pool of the `pg` driver's clients, from `@connection-pool/pg` (`PgPool.layer`: `SELECT 1` as the
 * health check, a session blamed only when it is broken). Twenty fibers run 1,000 queries through the pool, each
 * selecting its own number back; halfway through, the server terminates every session of the pool
 * (`pg_terminate_backend`, sent from a separate session). The queries that meet a terminated session fail with a
 * typed `PgError` whose `isConnectionFault` is true; a retry policy composed by the program (`Effect.retry` with
 * `Schedule.exponential` and jitter, bounded, retrying only connection faults) runs them again on fresh sessions,
 * so no query is lost. It ends with the pool's stats.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/postgres.ts
 *
 * The server comes from the usual `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` (default 127.0.0.1:5432, user
 * `postgres`, database `test`).
 */
import type { ConnectionPool } from "@connection-pool/core"
import { PgConnection, PgError, PgPool } from "@connection-pool/pg"
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Fiber, Schedule } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import type { ClientConfig } from "pg"

export const poolName = `examples-postgres-${process.pid}`

export const server: ClientConfig = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}

/** The program's pool of PostgreSQL sessions, as the package's `PgPool` service (named after the application). */
export const PgPoolLive = PgPool.layer({
  ...server,
  // The application name shows in `pg_stat_activity`: it is how the server finds this pool's sessions below.
  application_name: poolName,
  pool: { maxConnections: 8, connectionTimeout: "5 seconds", healthCheckInterval: "1 second" }
})

/**
 * The retry policy: connection faults (a terminated session, or a replacement that could not be opened) are
 * retried after 10, 20, 40, ... ms with jitter, at most 6 times; anything else (a SQL error, a pool timeout)
 * fails at once. A read is safe to retry; a write whose session died before its reply may or may not have
 * committed, so retrying one needs an idempotent statement.
 */
export const retryConnectionFailures = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
    times: 6,
    // A PgError whose session is broken, or the pool's ConnectionError (no replacement could be opened).
    while: PgError.isConnectionFault
  })

/**
 * Terminates the sessions whose application name is `applicationName` from the server side, as an operator or a
 * failover would. Sent on `admin`, a session outside the pool. Returns the process ids of the sessions' backends,
 * which end a moment later (`pg_terminate_backend` signals them).
 */
export const terminateSessionsNamed = (admin: PgConnection.PgConnection, applicationName: string) =>
  Effect.map(
    // In the select list, pg_terminate_backend runs for the filtered rows only (in the WHERE clause, the planner
    // could run it before the filter, on every session of the server).
    admin.query<{ pid: number; terminated: boolean }>(
      "SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1",
      [applicationName]
    ),
    (result) => result.rows.filter((row) => row.terminated).map((row) => row.pid)
  )

export interface Outcome {
  readonly queries: number
  readonly answered: number
  readonly terminated: number
  readonly failedAttempts: number
  readonly stats: ConnectionPool.PoolStats
}

/** The example: the workload, the termination midway, the recovery; returns what happened. */
export const main: Effect.Effect<Outcome, PgError.PgError | ConnectionPool.BorrowError, PgPool.PgPool> = Effect.gen(
  function*() {
    const { pool } = yield* PgPool.PgPool
    const queries = 1_000
    let answered = 0
    let failedAttempts = 0
    const halfway = yield* Deferred.make<void>()

    // One query: borrow a session, select the number back, give it back; retried on connection failures.
    const select = (n: number) =>
      pool.use((session) => session.query<{ value: number }>("SELECT $1::int AS value", [n])).pipe(
        Effect.tapError(() => Effect.sync(() => failedAttempts++)),
        retryConnectionFailures,
        Effect.map((result) => result.rows[0]?.value === n),
        Effect.tap(() => ++answered === queries / 2 ? Deferred.succeed(halfway, undefined) : Effect.void)
      )

    const killer = yield* Effect.fork(Effect.zipRight(
      Deferred.await(halfway),
      Effect.scoped(Effect.flatMap(PgConnection.connect(server), (admin) => terminateSessionsNamed(admin, poolName)))
        .pipe(
          Effect.map((pids) => pids.length),
          Effect.tap((terminated) => Effect.log(`halfway: the server terminated ${terminated} of the pool's sessions`))
        )
    ))
    const matched = yield* Effect.forEach(Array.from({ length: queries }, (_, n) => n), select, { concurrency: 20 })
    const terminated = yield* Fiber.join(killer)

    yield* Effect.log(`${failedAttempts} attempt(s) met a terminated session and were retried`)
    yield* Effect.log(
      `${answered} of ${queries} queries answered, ${matched.filter(Boolean).length} with their own value`
    )
    const stats = yield* pool.stats
    yield* Effect.log(stats.summary)
    return { queries, answered, terminated, failedAttempts, stats }
  }
)

// Run as a program only when executed directly, not when a test imports it.
if (process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(main.pipe(Effect.provide(PgPoolLive)))
}
