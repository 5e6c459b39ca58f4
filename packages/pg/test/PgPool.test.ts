/**
 * The pool service against the live server: a newcomer's query, a failed statement that leaves its session in
 * the pool, and sessions the server terminates under load: each retired once and replaced, and with a retry
 * policy no query lost.
 */
import { PgConnection, PgPool } from "@connection-pool/pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import {
  eventually,
  postgresUnavailable,
  requireServer,
  scopedLive,
  server,
  sessionsNamed,
  skipWithout,
  terminateSessionsNamed,
  uniqueName
} from "./utils.js"

const unavailable = await postgresUnavailable()

describe.skipIf(skipWithout(unavailable))("PgPool against the live server", () => {
  it.live("PgPool.query runs a statement on a pooled session, through the layer", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const result = yield* PgPool.query<{ greeting: string }>("SELECT $1::text AS greeting", ["hello"]).pipe(
        Effect.provide(PgPool.layer(server))
      )
      assert.deepStrictEqual(result.rows, [{ greeting: "hello" }])
    }))

  scopedLive(
    "a failed statement is a typed PgError with its SQLSTATE; the session stays and serves again",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const pg = yield* PgPool.make({ ...server, pool: { maxConnections: 1 } })
        const error = yield* Effect.flip(pg.query("SELECT * FROM no_such_table_here"))
        assert.deepInclude(error, { _tag: "PgError", reason: "QueryFailed", code: "42P01" })
        const after = yield* pg.query<{ n: number }>("SELECT 2 AS n")
        assert.strictEqual(after.rows[0]!.n, 2)
        const stats = yield* pg.pool.stats
        assert.strictEqual(stats.created, 1, "the same session served both")
        assert.strictEqual(stats.closed, 0)
        const [record] = yield* pg.pool.connections
        assert.strictEqual(record!.errorCount, 0, "a failed statement is not the session's fault")
        assert.strictEqual(record!.useCount, 2)
      })
  )

  scopedLive(
    "the pool is named after application_name, and the server sees its sessions under that name",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("named")
        const pg = yield* PgPool.make({ ...server, application_name: name, pool: { minConnections: 2, warmUp: true } })
        const admin = yield* PgConnection.connect(server)
        assert.strictEqual(pg.pool.name, name)
        assert.strictEqual(yield* sessionsNamed(admin, name), 2)
      })
  )

  scopedLive(
    "sessions terminated under load: each retired once and replaced; with a retry policy no query is lost",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("load")
        const size = 4
        const pg = yield* PgPool.make({
          ...server,
          application_name: name,
          pool: { maxConnections: size, minConnections: size, warmUp: true, healthCheckInterval: "200 millis" }
        })
        const admin = yield* PgConnection.connect(server)
        let answered = 0
        let failedAttempts = 0
        const queries = 400
        const select = (n: number) =>
          pg.query<{ value: number }>("SELECT $1::int AS value, pg_sleep(0.002)", [n]).pipe(
            Effect.tapError(() => Effect.sync(() => failedAttempts++)),
            Effect.retry({
              schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
              times: 6,
              while: (error) =>
                error._tag === "ConnectionError" || (error._tag === "PgError" && error.isConnectionFault)
            }),
            Effect.map((result) => {
              answered++
              return result.rows[0]?.value === n
            })
          )
        const load = yield* Effect.forkScoped(
          Effect.forEach(Array.from({ length: queries }, (_, n) => n), select, { concurrency: 16 })
        )
        yield* eventually(Effect.sync(() => answered >= queries / 4), "a quarter of the queries answered", "30 seconds")
        const terminated = yield* terminateSessionsNamed(admin, name)
        const matched = yield* Fiber.await(load).pipe(Effect.flatten)

        assert.strictEqual(terminated, size, "every session was terminated")
        assert.strictEqual(answered, queries, "no query lost")
        assert.isTrue(matched.every(Boolean), "every query got its own value back")
        // Back to full strength, the server seeing exactly the pool's sessions.
        yield* eventually(
          Effect.map(pg.pool.stats, (stats) => stats.total === size && stats.idle === size),
          "the pool back to full strength"
        )
        yield* eventually(Effect.map(sessionsNamed(admin, name), (count) => count === size), "the server to agree")
        const stats = yield* pg.pool.stats
        // Each terminated session retired exactly once, and replaced once.
        assert.strictEqual(stats.closed, terminated)
        assert.strictEqual(stats.created, size + terminated)
        console.log(
          `PgPool under load: ${queries} queries, ${terminated} sessions terminated, ${failedAttempts} attempts ` +
            `retried, ${queries - answered} lost; ${stats.summary}`
        )
      }),
    60_000
  )

  // Issue 16, item 2: before, the pool's scope closed while those opens were in flight, and their sessions came
  // (and were closed) only after it had returned.
  scopedLive(
    "releasing the layer while opens are in flight: no session of the pool is left, then or after",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const admin = yield* PgConnection.connect(server)
        for (let round = 0; round < 5; round++) {
          const name = uniqueName("release-in-flight")
          const scope = yield* Scope.make()
          // minConnections: two opens start as soon as the layer is built, and are in flight when it is released
          yield* Layer.buildWithScope(
            PgPool.layer({ ...server, application_name: name, pool: { minConnections: 2 } }),
            scope
          )
          yield* Scope.close(scope, Exit.void)
          const releasedAt = Date.now()
          // the moment the layer is released, and for 300 ms after: the server has no session of the pool
          const seen: Array<number> = []
          while (Date.now() - releasedAt < 300) seen.push(yield* sessionsNamed(admin, name))
          assert.deepStrictEqual([...new Set(seen)], [0], `round ${round}: sessions of the pool after its release`)
        }
      })
  )
})
