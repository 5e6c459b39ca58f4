/**
 * The connector against the live server: which failures are a session's fault (a broken session) and which are
 * not (a failed statement), how a session the server ended is seen, with or without a query running, and what
 * an interrupted query does to its session.
 */
import { PgConnection, PgConnector, PgError } from "@connection-pool/pg"
import { Edge } from "@connection-pool/test-kit"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import {
  eventually,
  postgresUnavailable,
  requireServer,
  scopedLive,
  server,
  skipWithout,
  terminateSessionsNamed,
  uniqueName
} from "./utils.js"

const unavailable = await postgresUnavailable()

const failureOf = <A, E>(exit: Exit.Exit<A, E>): Cause.Cause<E> => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return (exit as Exit.Failure<A, E>).cause
}

const pgErrorOf = <E>(cause: Cause.Cause<E>): PgError.PgError => {
  const error = Cause.squash(cause)
  assert.isTrue(PgError.isPgError(error), `expected a PgError, got ${String(error)}`)
  return error as PgError.PgError
}

describe.skipIf(skipWithout(unavailable))("PgConnector against the live server", () => {
  scopedLive("checks a session with SELECT 1 and reports it open", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const connector = PgConnector.make(server)
      const session = yield* connector.open
      yield* connector.check(session)
      assert.isTrue(connector.isOpen(session))
      assert.strictEqual(session.host, `${server.host}:${server.port}`)
    }))

  for (
    const [what, statement, code] of [
      ["a syntax error", "SELEC 1", "42601"],
      ["an unknown table", "SELECT * FROM no_such_table_here", "42P01"],
      [
        "a unique violation",
        "SELECT * FROM (VALUES (1)) AS v(x); CREATE TEMP TABLE u (x int PRIMARY KEY); INSERT INTO u VALUES (1), (1)",
        "23505"
      ],
      ["a division by zero", "SELECT 1 / 0", "22012"]
    ] as const
  ) {
    scopedLive(
      `${what} is QueryFailed with SQLSTATE ${code}, not a fault, and the session goes on`,
      () =>
        Effect.gen(function*() {
          yield* requireServer(unavailable)
          const session = yield* PgConnection.connect(server)
          const cause = failureOf(yield* Effect.exit(session.query(statement)))
          const error = pgErrorOf(cause)
          assert.deepInclude(error, { _tag: "PgError", reason: "QueryFailed", code })
          assert.isFalse(error.isConnectionFault)
          assert.include(error.message, `postgres ${server.host}:${server.port}: QueryFailed (${code})`)
          assert.isFalse(PgConnector.isFault(cause))
          assert.isTrue(session.isOpen)
          const result = yield* session.query<{ value: number }>("SELECT 7 AS value")
          assert.strictEqual(result.rows[0]!.value, 7)
        })
    )
  }

  scopedLive(
    "a session terminated mid-query fails it with ServerShutdown 57P01, a fault, and reports closed",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("busy")
        const session = yield* PgConnection.connect({ ...server, application_name: name })
        const admin = yield* PgConnection.connect(server)
        const pending = yield* Effect.forkScoped(Effect.exit(session.query("SELECT pg_sleep(5)")))
        yield* eventually(
          Effect.map(
            admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [name]),
            (result) => result.rowCount === 1
          ),
          "the query to be running"
        )
        assert.strictEqual(yield* terminateSessionsNamed(admin, name), 1)
        const cause = failureOf(yield* Fiber.await(pending).pipe(Effect.flatten))
        const error = pgErrorOf(cause)
        assert.deepInclude(error, { reason: "ServerShutdown", code: "57P01" })
        assert.isTrue(error.isConnectionFault)
        assert.isTrue(PgConnector.isFault(cause))
        assert.isFalse(session.isOpen)
        assert.strictEqual(session.lost?.reason, "ServerShutdown")
        const next = pgErrorOf(failureOf(yield* Effect.exit(session.query("SELECT 1"))))
        assert.isTrue(next.isConnectionFault)
      })
  )

  scopedLive(
    "an idle session's termination is seen without a query, and does not crash the process",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const name = uniqueName("idle")
        const session = yield* PgConnection.connect({ ...server, application_name: name })
        const admin = yield* PgConnection.connect(server)
        assert.strictEqual(yield* terminateSessionsNamed(admin, name), 1)
        // The driver emits `error` for it: unhandled, that would end the test process.
        yield* eventually(Effect.sync(() => !session.isOpen), "the session to be seen closed")
        assert.isTrue(session.lost?.isConnectionFault)
      })
  )

  scopedLive(
    "an interrupted query gives up its session: Abandoned, and isOpen turns false",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const session = yield* PgConnection.connect(server)
        const gaveUp = yield* Effect.exit(Effect.timeout(session.query("SELECT pg_sleep(0.5)"), "20 millis"))
        assert.isTrue(Exit.isFailure(gaveUp))
        assert.isFalse(session.isOpen)
        const next = pgErrorOf(failureOf(yield* Effect.exit(session.query("SELECT 1"))))
        assert.deepInclude(next, { reason: "Abandoned", code: undefined })
      })
  )
})

describe("PgConnector.isFault and PgError.fromDriverError, on the driver's error shapes", () => {
  const host = "db.example:5432"
  const serverError = (code: string, severity = "ERROR") =>
    Object.assign(new Error(`server says ${code}`), { code, severity })
  const faultOf = (error: unknown) =>
    PgConnector.isFault(Cause.fail(PgError.fromDriverError(error, { host, opening: false })))

  it("blames the session for class 08, 57P01-57P03, FATAL errors, socket errors and a terminated connection", () => {
    for (const code of ["08006", "08003", "08P01", "57P01", "57P02", "57P03"]) {
      assert.isTrue(faultOf(serverError(code)), code)
    }
    assert.isTrue(faultOf(serverError("XX000", "FATAL")), "any FATAL error ends the session")
    assert.isTrue(faultOf(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })))
    assert.isTrue(faultOf(new Error("Connection terminated unexpectedly")))
    assert.isTrue(faultOf(new Error("Client has encountered a connection error and is not queryable")))
    assert.isTrue(PgConnector.isFault(Cause.die(new Error("a bug"))), "a defect")
  })

  it("does not blame it for failed statements (42xxx, 23xxx, 22xxx, 40001) or the borrower's own errors", () => {
    for (const code of ["42601", "42P01", "23505", "23503", "22012", "40001", "57014"]) {
      assert.isFalse(faultOf(serverError(code)), code)
    }
    assert.isFalse(PgConnector.isFault(Cause.fail("the borrower's own error")))
    assert.isFalse(PgConnector.isFault(Edge.interruption))
  })

  it("PgError.isConnectionFault finds the fault through wrappers (an SqlError, the pool's ConnectionError)", () => {
    const wrap = (cause: unknown) =>
      Object.assign(new Error("Failed to execute statement"), { _tag: "SqlError", cause })
    assert.isTrue(PgError.isConnectionFault(wrap(serverError("57P01", "FATAL"))))
    assert.isTrue(PgError.isConnectionFault(wrap(new Error("Connection terminated unexpectedly"))))
    assert.isTrue(PgError.isConnectionFault(wrap({ _tag: "ConnectionError", reason: "OpenFailed", cause: "refused" })))
    assert.isTrue(PgError.isConnectionFault(PgError.fromDriverError(serverError("08006"), { host, opening: false })))
    assert.isFalse(PgError.isConnectionFault(wrap(serverError("42601"))))
    assert.isFalse(PgError.isConnectionFault(wrap({ _tag: "PoolTimeoutError" })), "a busy pool is no broken session")
    assert.isFalse(PgError.isConnectionFault("a string"))
  })

  it("sorts errors while opening: unreachable, timed out, refused by the server", () => {
    const opening = (error: unknown) => PgError.fromDriverError(error, { host, opening: true }).reason
    assert.strictEqual(
      opening(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })),
      "Unreachable"
    )
    assert.strictEqual(opening(Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" })), "Unreachable")
    assert.strictEqual(opening(new Error("timeout expired")), "ConnectTimedOut")
    assert.strictEqual(opening(serverError("3D000", "FATAL")), "Rejected")
    assert.strictEqual(opening(serverError("28P01", "FATAL")), "Rejected")
  })
})
