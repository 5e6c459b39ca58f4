import { PgPool, PgPoolAdapter } from "@connection-pool/pg"
import { Effect } from "effect"

// A pg.Pool on the PgPool service's sessions (scoped: ended with the scope), for code written against
// node-postgres's pool. (@effect/sql-pg 4 has its own driver and takes no pg.Pool.)
const program = Effect.gen(function*() {
  const service = yield* PgPool.PgPool
  const pool = yield* PgPoolAdapter.make(service)
  const result = yield* Effect.promise(() => pool.query("SELECT 1 AS one"))
  yield* Effect.log(result.rows, (yield* service.pool.stats).summary)
}).pipe(Effect.scoped, Effect.provide(PgPool.layer({ host: "127.0.0.1", user: "postgres", database: "test" })))
