/**
 * Real-server chaos against PostgreSQL, with the connector of @connection-pool/pg: under steady load, the server
 * terminates the pool's sessions (`pg_terminate_backend`) several times, then once more while all are idle. With
 * the retry policy of `examples/postgres.ts` no query is lost; without it every failure is a typed error; either
 * way the pool is back to full health within one health interval and leaks no session.
 *
 * Each query selects its own number back (`SELECT $1::int`), which proves the reply went to its own query.
 */
import { PgConnection, PgConnector, type PgError } from "@connection-pool/pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { retryConnectionFailures, server, terminateSessionsNamed } from "../postgres.js"
import {
  assertRecoveredWithoutLeaks,
  assertTypedFailuresOnly,
  full,
  reliabilityFigures,
  runChaos,
  size,
  type Target
} from "./chaos.js"
import { eventually, postgresUnavailable, requireServer, skipWithout } from "./realServers.js"

const unavailable = await postgresUnavailable()
const family = "Real-server chaos: PostgreSQL (@connection-pool/pg)"

const postgres = (admin: PgConnection.PgConnection): Target<PgConnection.PgConnection, PgError.PgError> => ({
  connector: (name) => PgConnector.make({ ...server, application_name: name }),
  request: (session, n) =>
    Effect.map(
      // The short sleep keeps the backend busy with the query most of the time, so that a termination meets a
      // query in flight (a backend waiting for its client's next query ends quietly, and the client only notices
      // that its connection is gone).
      session.query<{ value: number }>("SELECT $1::int AS value, pg_sleep(0.002)", [n]),
      (result) => ({ matched: result.rows.length === 1 && result.rows[0]!.value === n })
    ),
  retry: retryConnectionFailures,
  // Returns once the terminated backends have ended (they end a moment after being signalled), so that the
  // kill is complete when the run starts timing the recovery.
  kill: (name) =>
    Effect.gen(function*() {
      const pids = yield* terminateSessionsNamed(admin, name)
      const alive = admin.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM pg_stat_activity WHERE pid = ANY($1)",
        [pids]
      )
      yield* eventually(Effect.map(alive, (result) => result.rows[0]!.count === 0), "terminated backends to end")
      return pids.length
    }),
  serverCount: (name) =>
    Effect.map(
      admin.query<{ count: number }>(
        "SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1",
        [name]
      ),
      (result) => result.rows[0]!.count
    )
})

const timeout = full ? 300_000 : 60_000

describe.skipIf(skipWithout("PostgreSQL", unavailable))("chaos: PostgreSQL sessions terminated by the server", () => {
  it.scopedLive(
    "with the retry policy: no query is lost, every reply is its query's own",
    (ctx) =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const admin = yield* PgConnection.connect(server)
        const report = yield* runChaos(postgres(admin), { withRetry: true, label: "postgres-retry" })

        assert.isAtLeast(report.connectionsKilled, size.kills + 1, "every round terminated sessions")
        assert.isAbove(report.failedAttempts, 0, "the terminations hit queries in flight")
        assert.strictEqual(report.answered, report.requests, "every query answered")
        assert.deepStrictEqual(report.failuresByTag, {})
        assert.strictEqual(report.defects, 0)
        assert.strictEqual(report.hung, 0)
        assert.strictEqual(report.mismatched, 0, "every query got its own value back")
        assertRecoveredWithoutLeaks(report)

        console.log(
          `PostgreSQL chaos, with retries: ${report.requests} queries, ${report.connectionsKilled} sessions ` +
            `terminated in ${report.killRounds} rounds, ${report.failedAttempts} attempts retried, ` +
            `${
              report.requests - report.answered
            } lost, killed ones retired in ${report.retiredMillis} ms, back to full health in ${report.recoveryMillis} ms (slowest reopen ${report.slowestReopenMillis} ms)`
        )
        Object.assign(ctx.task.meta, { reliability: reliabilityFigures(family, report, true) })
      }),
    timeout
  )

  it.scopedLive(
    "without it: every failure is a typed connection error, none hangs, and the pool recovers",
    (ctx) =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const admin = yield* PgConnection.connect(server)
        const report = yield* runChaos(postgres(admin), { withRetry: false, label: "postgres-no-retry" })

        assertTypedFailuresOnly(report, ["PgError", "ConnectionError"])
        assertRecoveredWithoutLeaks(report)

        console.log(
          `PostgreSQL chaos, no retries: ${report.requests} queries, ${report.connectionsKilled} sessions terminated, ` +
            `failures ${
              JSON.stringify(report.failuresByTag)
            }, killed ones retired in ${report.retiredMillis} ms, back to full health in ${report.recoveryMillis} ms (slowest reopen ${report.slowestReopenMillis} ms)`
        )
        const figures = reliabilityFigures(family, report, false)
        Object.assign(ctx.task.meta, {
          reliability: { ...figures, held: { ...figures.held, ...failedByTag(report.failuresByTag) } }
        })
      }),
    timeout
  )
})

const failedByTag = (byTag: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(byTag).map(([tag, count]) => [`failed${tag}`, count]))
