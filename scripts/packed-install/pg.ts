/**
 * The @connection-pool/pg program of the packed-install test, type-checked and run by scripts/packed-install.mjs
 * in a project outside the workspace (as an .mts and a .cts file, NodeNext). It needs no running server: it points
 * at a closed port and checks the typed error a user meets there, through the package's own query and through
 * @effect/sql-pg on the adapter. It prints one line of JSON.
 */
import type { ConnectionPool } from "@connection-pool/core"
import { PgConnector, PgError, PgPool, PgPoolAdapter } from "@connection-pool/pg"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Cause, Effect, Exit, Layer } from "effect"
import { Pool } from "pg"

// Port 1 on the loopback: nothing listens there.
const closed = { host: "127.0.0.1", port: 1, user: "postgres", database: "test", connectionTimeoutMillis: 2_000 }

const PgLive = PgPool.layer({ ...closed, application_name: "packed", pool: { connectionTimeout: "2 seconds" } })
const SqlLive = Layer.unwrapEffect(
  Effect.map(PgPool.PgPool, (pg) => PgClient.layerFromPool({ acquire: PgPoolAdapter.make(pg) }))
).pipe(Layer.provideMerge(PgLive))

// What the driver gives for a failed statement (SQLSTATE 42601): not the session's fault.
const syntaxError = Object.assign(new Error("syntax error at or near \"SELEC\""), { code: "42601", severity: "ERROR" })
const host = `${closed.host}:${closed.port}`

/** The PgError at the bottom of a failure: the connector's, wrapped by the pool (and by sql-pg). */
const pgErrorIn = (cause: unknown): PgError.PgError | undefined => {
  for (let at: unknown = cause; typeof at === "object" && at !== null; at = (at as { cause?: unknown }).cause) {
    if (PgError.isPgError(at)) return at
  }
  return undefined
}

const describe = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return "succeeded"
  const error = Cause.squash(exit.cause) as { readonly _tag?: string }
  const pg = pgErrorIn(error)
  return `${error._tag} ${pg?.reason} ${pg?.code} ${pg?.host}`
}

const program = Effect.gen(function*() {
  const query = describe(yield* Effect.exit(PgPool.query("SELECT 1")))
  const sql = yield* SqlClient.SqlClient
  const sqlQuery = describe(yield* Effect.exit(sql`SELECT 1`))
  const adapter = yield* Effect.flatMap(PgPool.PgPool, (pg) => PgPoolAdapter.make(pg))
  const { pool } = yield* PgPool.PgPool
  const stats: ConnectionPool.PoolStats = yield* pool.stats
  return {
    query,
    sqlQuery,
    adapterIsAPgPool: adapter instanceof Pool,
    pool: stats.name,
    opened: stats.created,
    syntaxErrorIsFault: PgConnector.isFault(Cause.fail(PgError.fromDriverError(syntaxError, { host, opening: false })))
  }
}).pipe(Effect.scoped, Effect.provide(SqlLive))

Effect.runPromise(program).then((result) => console.log(JSON.stringify({ pg: result })))
