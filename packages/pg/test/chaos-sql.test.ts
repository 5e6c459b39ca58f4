/**
 * Real-server chaos for @effect/sql-pg on the pool: many fibers run `SqlClient` queries through `PgPoolAdapter`
 * while the server terminates the pool's sessions (`pg_terminate_backend`, by application name) several times.
 * With a retry policy reading `PgError.isConnectionFault` no query is lost; without it every failure is an
 * `SqlError` over a connection fault; either way each terminated session is retired once and replaced, and
 * nothing is left open on the server once the layer closes.
 *
 * Each query selects its own number back, which proves the reply went to its own query.
 */
import { PgConnection, PgError, PgPool, PgPoolAdapter } from "@connection-pool/pg"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schedule } from "effect"
import type * as SqlPg from "./sqlPg.js"
import {
  eventually,
  postgresUnavailable,
  requireServer,
  server,
  sessionsNamed,
  skipWithout,
  skipWithoutSqlPg,
  terminateSessionsNamed,
  uniqueName,
  within
} from "./utils.js"

const unavailable = await postgresUnavailable()
const skipSqlPg = skipWithoutSqlPg()
// Loaded only on the line whose @effect/sql-pg takes a pg.Pool (Effect 3): on Effect 4, @effect/sql is part of
// effect and @effect/sql-pg has no fromPool.
const { PgClient, SqlClient } = skipSqlPg ? ({} as typeof SqlPg) : await import("./sqlPg.js")
const full = process.env.RELIABILITY === "full"
const size = full
  ? { fibers: 32, connections: 8, kills: 20, queriesBetweenKills: 1_000 }
  : { fibers: 16, connections: 4, kills: 3, queriesBetweenKills: 150 }
const family = "Real-server chaos: @effect/sql-pg on @connection-pool/pg"

interface Report {
  readonly queries: number
  readonly answered: number
  readonly mismatched: number
  readonly failedAttempts: number
  readonly failures: ReadonlyArray<unknown>
  readonly defects: number
  readonly hung: number
  readonly killed: number
  readonly closed: number
  readonly created: number
  readonly serverSessionsRecovered: number
  readonly serverSessionsAfterClose: number
}

const run = (withRetry: boolean) =>
  Effect.gen(function*() {
    const name = uniqueName(withRetry ? "sql-chaos-retry" : "sql-chaos")
    const admin = yield* PgConnection.connect(server)
    const SqlLive = Layer.unwrapEffect(
      Effect.map(PgPool.PgPool, (pg) => PgClient.layerFromPool({ acquire: PgPoolAdapter.make(pg) }))
    ).pipe(Layer.provideMerge(PgPool.layer({
      ...server,
      application_name: name,
      pool: {
        maxConnections: size.connections,
        minConnections: size.connections,
        connectionTimeout: "5 seconds",
        healthCheckInterval: "200 millis"
      }
    })))

    let issued = 0
    let completed = 0
    let answered = 0
    let mismatched = 0
    let failedAttempts = 0
    let defects = 0
    let hung = 0
    let killed = 0
    let stopped = false
    const failures: Array<unknown> = []

    const inLayer = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { pool } = yield* PgPool.PgPool
      const attempt = (n: number) =>
        sql<{ value: number }>`SELECT ${n}::int AS value, pg_sleep(0.002)`.pipe(
          Effect.tapError(() => Effect.sync(() => failedAttempts++))
        )
      const query = Effect.suspend(() => {
        const n = issued++
        const sent = withRetry
          ? Effect.retry(attempt(n), {
            schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
            times: 6,
            while: PgError.isConnectionFault
          })
          : attempt(n)
        // A query that neither answers nor fails within 5 seconds has hung.
        return Effect.exit(Effect.timeout(sent, "5 seconds")).pipe(Effect.map((exit) => {
          completed++
          if (Exit.isSuccess(exit)) {
            answered++
            if (exit.value[0]?.value !== n) mismatched++
            return
          }
          const failure = Cause.failureOption(exit.cause)
          if (Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause) || Option.isNone(failure)) defects++
          else if (failure.value._tag === "TimeoutException") hung++
          else failures.push(failure.value)
        }))
      })
      const workers = yield* Effect.fork(Effect.forEach(
        Array.from({ length: size.fibers }),
        () => Effect.whileLoop({ while: () => !stopped, body: () => query, step: () => undefined }),
        { concurrency: "unbounded", discard: true }
      ))
      for (let round = 1; round <= size.kills + 1; round++) {
        const target = round * size.queriesBetweenKills
        yield* eventually(Effect.sync(() => completed >= target), `${target} completed queries`, "60 seconds")
        if (round <= size.kills) killed += yield* terminateSessionsNamed(admin, name)
      }
      stopped = true
      yield* Fiber.join(workers).pipe(within("30 seconds", "the load to stop"))
      yield* eventually(
        Effect.map(pool.stats, (stats) => stats.total === size.connections && stats.idle === size.connections),
        "the pool back to full strength",
        "10 seconds"
      )
      yield* eventually(
        Effect.map(sessionsNamed(admin, name), (count) => count === size.connections),
        "the server to see exactly the pool's sessions"
      )
      const stats = yield* pool.stats
      return {
        closed: stats.closed,
        created: stats.created,
        serverSessionsRecovered: yield* sessionsNamed(admin, name)
      }
    }).pipe(Effect.provide(SqlLive))

    const inside = yield* inLayer
    yield* eventually(
      Effect.map(sessionsNamed(admin, name), (count) => count === 0),
      "the sessions to close",
      "2 seconds"
    )
      .pipe(Effect.ignore)
    return {
      queries: issued,
      answered,
      mismatched,
      failedAttempts,
      failures,
      defects,
      hung,
      killed,
      ...inside,
      serverSessionsAfterClose: yield* sessionsNamed(admin, name)
    } satisfies Report
  }).pipe(Effect.scoped)

const figures = (report: Report, withRetry: boolean) => ({
  family,
  did: {
    requests: report.queries,
    killRounds: size.kills,
    connectionsKilled: report.killed,
    fibers: size.fibers,
    poolSize: size.connections
  },
  held: {
    ...(withRetry
      ? { requestsLost: report.queries - report.answered, attemptsRetried: report.failedAttempts }
      : { typedFailures: report.failures.length }),
    untypedFailures: report.defects,
    hungRequests: report.hung,
    wrongReplies: report.mismatched,
    // Sessions closed beyond the terminated ones, or left open on the server once the layer closed.
    connectionsLeaked: report.closed - report.killed + report.serverSessionsAfterClose
  }
})

const assertRetiredOnceAndRecovered = (report: Report) => {
  assert.isAtLeast(report.killed, size.kills, "every round terminated sessions")
  assert.strictEqual(report.closed, report.killed, "each terminated session retired once, nothing else closed")
  assert.strictEqual(report.created, size.connections + report.killed, "each replaced once")
  assert.strictEqual(report.serverSessionsRecovered, size.connections)
  assert.strictEqual(report.serverSessionsAfterClose, 0, "nothing left open on the server")
  assert.strictEqual(report.defects, 0)
  assert.strictEqual(report.hung, 0)
  assert.strictEqual(report.mismatched, 0, "every query got its own value back")
}

describe.skipIf(skipWithout(unavailable) || skipSqlPg)(
  "chaos: @effect/sql-pg on the pool, sessions terminated by the server",
  () => {
    it.live("with a retry policy on PgError.isConnectionFault: no query is lost", (ctx) =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const report = yield* run(true)
        assertRetiredOnceAndRecovered(report)
        assert.strictEqual(report.answered, report.queries, "every query answered")
        assert.lengthOf(report.failures, 0)
        console.log(
          `sql-pg chaos, with retries: ${report.queries} queries, ${report.killed} sessions terminated in ` +
            `${size.kills} rounds, ${report.failedAttempts} attempts retried, ${report.queries - report.answered} lost`
        )
        Object.assign(ctx.task.meta, { reliability: figures(report, true) })
      }), full ? 300_000 : 60_000)

    it.live(
      "without it: every failure is an SqlError over a connection fault, none hangs",
      (ctx) =>
        Effect.gen(function*() {
          yield* requireServer(unavailable)
          const report = yield* run(false)
          assertRetiredOnceAndRecovered(report)
          assert.strictEqual(report.answered + report.failures.length, report.queries, "every query answered or failed")
          assert.strictEqual(report.failures.length, report.failedAttempts)
          for (const failure of report.failures) {
            assert.strictEqual((failure as { _tag?: string })._tag, "SqlError")
            assert.isTrue(PgError.isConnectionFault(failure), String(failure))
          }
          console.log(
            `sql-pg chaos, no retries: ${report.queries} queries, ${report.killed} sessions terminated, ` +
              `${report.failures.length} failed (SqlError over a connection fault)`
          )
          Object.assign(ctx.task.meta, { reliability: figures(report, false) })
        }),
      full ? 300_000 : 60_000
    )
  }
)
