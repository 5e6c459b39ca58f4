/**
 * The PostgreSQL example against the real server: the example runs to completion with its one command and in
 * process, and its connector behaves as its header says (SQL errors are not faults, terminated sessions are typed
 * faults that close the connection, an interrupted query gives up its session, no process crash on an idle
 * session's termination).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { main, PgPoolLive, server, terminateSessionsNamed } from "../postgres.js"
import * as Pg from "../postgres/connector.js"
import { eventually, postgresUnavailable, requireServer, skipWithout } from "./realServers.js"

const unavailable = await postgresUnavailable()
const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): Cause.Cause<E> => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return (exit as Exit.Failure<A, E>).cause
}

describe.skipIf(skipWithout("PostgreSQL", unavailable))("PostgreSQL example", () => {
  it("runs to completion with its one command: no query lost after the server terminated the pool's sessions", async () => {
    if (unavailable !== undefined) assert.fail(`REQUIRE_SERVICES=1 but ${unavailable}`)
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          tsx,
          ["examples/postgres.ts"],
          { cwd: root, timeout: 50_000 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout, stderr })
        )
      }
    )
    assert.strictEqual(code, 0, stdout + stderr)
    const terminated = /the server terminated (\d+) of the pool's sessions/.exec(stdout)
    assert.isNotNull(terminated, stdout)
    assert.isAbove(Number(terminated![1]), 0)
    assert.include(stdout, "1000 of 1000 queries answered, 1000 with their own value")
    assert.match(stdout, /pool "examples-postgres-\d+": \d\/8 open/)
  })

  it.live("runs in process: its main effect returns what happened", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const outcome = yield* main.pipe(Effect.provide(PgPoolLive))
      assert.strictEqual(outcome.answered, outcome.queries)
      assert.isAbove(outcome.terminated, 0)
      assert.strictEqual(outcome.stats.created - outcome.stats.closed, outcome.stats.total)
    }))

  it.scopedLive("a SQL error is a PgQueryError, not a fault, and the session goes on", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const session = yield* Pg.connect(server)
      const cause = failureOf(yield* Effect.exit(session.query("SELEC 1")))
      const error = Cause.squash(cause)
      assert.instanceOf(error, Pg.PgQueryError)
      assert.strictEqual((error as Pg.PgQueryError).code, "42601") // syntax_error
      assert.isFalse(Pg.isFault(cause))
      assert.isTrue(session.isOpen)
      const result = yield* session.query<{ value: number }>("SELECT 7 AS value")
      assert.strictEqual(result.rows[0]!.value, 7)
    }))

  it.scopedLive("a terminated session fails its query with PgConnectionError (57P01), a fault, and reports closed", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const name = `examples-postgres-test-${process.pid}-busy`
      const session = yield* Pg.connect({ ...server, application_name: name })
      const admin = yield* Pg.connect(server)
      const pending = yield* Effect.fork(Effect.exit(session.query("SELECT pg_sleep(5)")))
      yield* eventually(
        Effect.map(
          admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [name]),
          (result) => result.rowCount === 1
        ),
        "the query to be running"
      )
      assert.lengthOf(yield* terminateSessionsNamed(admin, name), 1)
      const cause = failureOf(yield* pending.await.pipe(Effect.flatten))
      const error = Cause.squash(cause)
      assert.instanceOf(error, Pg.PgConnectionError)
      assert.deepInclude(error, { reason: "ServerShutdown", code: "57P01" })
      assert.isTrue(Pg.isFault(cause))
      assert.isFalse(session.isOpen)
      const next = failureOf(yield* Effect.exit(session.query("SELECT 1")))
      assert.instanceOf(Cause.squash(next), Pg.PgConnectionError)
    }))

  it.scopedLive("an idle session's termination is noticed without a query, and does not crash the process", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const name = `examples-postgres-test-${process.pid}-idle`
      const session = yield* Pg.connect({ ...server, application_name: name })
      const admin = yield* Pg.connect(server)
      assert.lengthOf(yield* terminateSessionsNamed(admin, name), 1)
      // The driver emits `error` for it: unhandled, that would end the test process.
      yield* eventually(Effect.sync(() => !session.isOpen), "the session to be seen closed")
    }))

  it.scopedLive("an interrupted query gives up its session: isOpen turns false", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const session = yield* Pg.connect(server)
      const gaveUp = yield* Effect.exit(Effect.timeout(session.query("SELECT pg_sleep(0.5)"), "20 millis"))
      assert.isTrue(Exit.isFailure(gaveUp))
      assert.isFalse(session.isOpen)
      const next = failureOf(yield* Effect.exit(session.query("SELECT 1")))
      assert.deepInclude(Cause.squash(next), { _tag: "PgConnectionError", reason: "Abandoned" })
    }))
})

describe("PostgreSQL connector, without a server", () => {
  it.live("a refused connect fails with PgConnectionError ConnectFailed", () =>
    Effect.gen(function*() {
      // Port 1 on the loopback: nothing listens there.
      const error = yield* Effect.flip(Effect.scoped(Pg.connect({ ...server, port: 1 })))
      assert.deepInclude(error, { _tag: "PgConnectionError", reason: "ConnectFailed", code: "ECONNREFUSED" })
    }))
})
