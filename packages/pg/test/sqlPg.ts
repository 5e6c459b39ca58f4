/**
 * @effect/sql and @effect/sql-pg for the tests of `PgPoolAdapter` under @effect/sql-pg. These are the Effect 3
 * packages (0.52 / 0.53), whose `PgClient.fromPool` / `layerFromPool` take a `pg.Pool`; the tests import this
 * module only on the line where that holds (see `skipWithoutSqlPg`).
 */
export { SqlClient } from "@effect/sql"
export { PgClient } from "@effect/sql-pg"
