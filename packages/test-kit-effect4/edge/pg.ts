/**
 * The Effect 4 side of what the pg tests need to know per line (packages/test-kit/src/internal/edge/pg.ts is the
 * Effect 3 side: same exports, same types).
 */

/**
 * Why @effect/sql-pg cannot run on a `PgPoolAdapter` on this line, or `undefined` when it can. @effect/sql-pg 4
 * speaks the PostgreSQL protocol itself, with a pool of its own: it has no `fromPool` / `layerFromPool` and takes
 * no `pg.Pool`, so the adapter (a `pg.Pool`) has no @effect/sql-pg to serve on Effect 4.
 */
export const sqlPgOnPoolUnavailable: string | undefined =
  "@effect/sql-pg 4 has its own driver and pool and takes no pg.Pool (no PgClient.fromPool / layerFromPool)"
