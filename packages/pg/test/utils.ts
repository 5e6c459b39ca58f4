/**
 * The live PostgreSQL server of the development and CI machines (127.0.0.1:5432, trust auth, database `test`):
 * whether it answers, and the rule for when it does not (skip with a printed reason; fail under
 * `REQUIRE_SERVICES=1`, as CI runs). Bounded waits for conditions with no event to wait on.
 */
import type { PgConnection } from "@connection-pool/pg"
import * as Kit from "@connection-pool/test-kit"
import { sqlPgOnPoolUnavailable } from "@connection-pool/test-kit/internal/edge/pg"
import { it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { Client, type ClientConfig } from "pg"

export const server: ClientConfig = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}

let serial = 0
/** An application name no other test uses: the tests kill only the sessions carrying their own. */
export const uniqueName = (label: string): string => `pg-test-${label}-${process.pid}-${++serial}`

/** Why PostgreSQL cannot be used, or `undefined` when `SELECT 1` works. */
export const postgresUnavailable = async (): Promise<string | undefined> => {
  const where = `${server.host}:${server.port} (user ${server.user}, database ${server.database})`
  const client = new Client({ ...server, connectionTimeoutMillis: 2_000 })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (error) {
    return `PostgreSQL at ${where} is not reachable: ${error instanceof Error ? error.message : String(error)}`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Whether to skip the PostgreSQL tests (the kit's rule: skip with the reason printed, fail under `REQUIRE_SERVICES=1`). */
export const skipWithout = (unavailable: string | undefined): boolean => Kit.skipWithout("PostgreSQL", unavailable)

/**
 * Whether to skip the tests of @effect/sql-pg on the pool: on a line where @effect/sql-pg takes no `pg.Pool`,
 * always, with the reason printed.
 */
export const skipWithoutSqlPg = (): boolean => {
  if (sqlPgOnPoolUnavailable === undefined) return false
  console.warn(`skipping the @effect/sql-pg tests on this line: ${sqlPgOnPoolUnavailable}`)
  return true
}

export { eventually, requireServer, ServerUnavailable, Timeout, within } from "@connection-pool/test-kit"

type LiveContext = Parameters<Parameters<typeof it.live>[1]>[0]

/** A live test with a scope of its own, closed when the test ends (what Effect 3's `it.scopedLive` is). */
export const scopedLive = <A, E>(
  name: string,
  self: (ctx: LiveContext) => Effect.Effect<A, E, Scope.Scope>,
  timeout?: number
): void => it.live(name, (ctx) => Effect.scoped(self(ctx)), timeout)

/**
 * Terminates, from `admin` (a session outside any pool), the sessions whose application name is `name`; returns
 * once their backends have ended (they end a moment after the signal), with how many there were.
 */
export const terminateSessionsNamed = (admin: PgConnection.PgConnection, name: string) =>
  Effect.gen(function*() {
    // In the select list, pg_terminate_backend runs for the filtered rows only (in the WHERE clause the planner
    // could run it before the filter, on every session of the server).
    const terminated = yield* admin.query<{ pid: number; terminated: boolean }>(
      "SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1",
      [name]
    )
    const pids = terminated.rows.filter((row) => row.terminated).map((row) => row.pid)
    const alive = admin.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_stat_activity WHERE pid = ANY($1)",
      [pids]
    )
    yield* Kit.eventually(Effect.map(alive, (result) => result.rows[0]!.count === 0), "terminated backends to end")
    return pids.length
  })

/** How many sessions named `name` the server has. */
export const sessionsNamed = (admin: PgConnection.PgConnection, name: string) =>
  Effect.map(
    admin.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1",
      [name]
    ),
    (result) => result.rows[0]!.count
  )
