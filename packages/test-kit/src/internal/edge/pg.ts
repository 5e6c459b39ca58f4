/**
 * The Effect 3 side of what the pg tests need to know per line (packages/test-kit-effect4/edge/pg.ts is the
 * Effect 4 side: same exports, same types).
 */

/**
 * Why @effect/sql-pg cannot run on a `PgPoolAdapter` on this line, or `undefined` when it can: on Effect 3,
 * @effect/sql-pg 0.53 builds its client on a `pg.Pool` (`PgClient.fromPool`, `layerFromPool`).
 */
export const sqlPgOnPoolUnavailable: string | undefined = undefined
