/**
 * Misuse catalogue, continued (issue 16, items 1 and 2): connectors that misbehave, and closing a pool while
 * opens are in flight. A connector is code the pool does not control: its callbacks may throw or die. Each case
 * shows the pool keeps serving, its stats agree with the connector's own count of open connections, the defect
 * is logged once with the pool's name and the connection's id, and the close ends (elapsed time of the
 * `TestClock` asserted).
 *
 * The connectors here are built without `Connector.make` (a plain object with the connector's type id), so
 * nothing but the pool stands between a throwing callback and the pool's bookkeeping. Every case failed before
 * the pool guarded its calls into connectors (commit e188de1).
 */
import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, type Connector } from "@connection-pool/core"
import {
  Edge,
  eventually,
  it,
  makeTestConnector,
  QueryFailure,
  TestClock,
  type TestConnection
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Option, Scope } from "effect"

/** Runs `body` with a logger that keeps every log line (level, message, annotations) in `logs`. */
const withLogs = <A, E, R>(body: (logs: Array<Edge.LogEntry>) => Effect.Effect<A, E, R>) => {
  const logs: Array<Edge.LogEntry> = []
  return body(logs).pipe(Edge.withLogger(Edge.makeLogger((entry) => logs.push(entry))))
}

/** The logged defects of the connector's `callback`. */
const defectsOf = (logs: ReadonlyArray<Edge.LogEntry>, callback: string) =>
  logs.filter((log) => log.level === "ERROR" && log.message.includes(`connector's ${callback}`))

/** A connector built by hand from the test connector with some callbacks replaced: no guard of `make` applies. */
const raw = (
  base: Connector.Connector<TestConnection, unknown>,
  overrides: Partial<Omit<Connector.Connector<TestConnection, unknown>, Connector.TypeId>>
): Connector.Connector<TestConnection, unknown> => ({ ...base, ...overrides })

/** Closes `scope` in a fiber, moves the TestClock `millis` on, and asserts the close ended; returns the time it took. */
const closesWithin = (scope: Edge.CloseableScope, millis: number) =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
    yield* TestClock.adjust(millis)
    yield* eventually(() => Effect.map(Edge.poll(closing), Option.isSome), "the pool's close to end")
    const elapsed = (yield* Clock.currentTimeMillis) - startedAt
    assert.isAtMost(elapsed, millis)
    return elapsed
  })

const shutdownTimeout = 200

describe("misuse: connector callbacks that throw or die", () => {
  it.effect("isOpen throws when a connection is lent: it counts as closed, the borrower gets a new one", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        let throwNext = false
        const throwing = raw(connector, {
          isOpen: (connection) => {
            if (throwNext) {
              throwNext = false
              throw new Error("isOpen threw")
            }
            return connection.open
          }
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(throwing, { name: "p", shutdownTimeout }), scope)
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
        throwNext = true
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 2)
        yield* eventually(() => Effect.map(pool.stats, (stats) => stats.closedByReason.disconnected === 1))
        const stats = yield* pool.stats
        assert.strictEqual(stats.total, state.open)
        assert.strictEqual(stats.inUse, 0)
        const logged = defectsOf(logs, "isOpen")
        assert.strictEqual(logged.length, 1)
        assert.deepInclude(logged[0]!.annotations, { pool: "p", connectionId: 1 })
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 2)
        yield* closesWithin(scope, 0)
        assert.strictEqual(state.open, 0)
      })
    ))

  it.effect("isOpen throws when a connection comes back: the borrower keeps its success; it is retired, replaced", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        let throwNext = false
        const throwing = raw(connector, {
          isOpen: (connection) => {
            if (throwNext) {
              throwNext = false
              throw new Error("isOpen threw")
            }
            return connection.open
          }
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(throwing, { name: "p", shutdownTimeout }), scope)
        const result = yield* Edge.outcome(pool.use(() => Effect.sync(() => (throwNext = true)).pipe(Effect.as("ok"))))
        assert.deepStrictEqual(result, Edge.succeeded("ok"))
        yield* eventually(() => Effect.map(pool.stats, (stats) => stats.closedByReason.disconnected === 1))
        assert.strictEqual((yield* pool.stats).total, state.open)
        assert.strictEqual(state.open, 0)
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 2)
        assert.strictEqual(defectsOf(logs, "isOpen").length, 1)
        assert.deepInclude(defectsOf(logs, "isOpen")[0]!.annotations, { pool: "p", connectionId: 1 })
        yield* closesWithin(scope, 0)
        assert.strictEqual(state.open, 0)
      })
    ))

  it.effect("isFault throws on a failed borrow: the borrower keeps its own error; it counts as a fault", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const throwing = raw(connector, {
          isFault: () => {
            throw new Error("isFault threw")
          }
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(throwing, { name: "p", shutdownTimeout }), scope)
        const error = yield* Effect.flip(pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))))
        assert.instanceOf(error, QueryFailure)
        const [info] = yield* pool.connections
        assert.strictEqual(info!.errorCount, 1)
        assert.strictEqual(info!.healthScore, 90)
        const stats = yield* pool.stats
        assert.strictEqual(stats.inUse, 0)
        assert.strictEqual(stats.total, state.open)
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
        yield* eventually(() => defectsOf(logs, "isFault").length > 0, "the defect to be logged")
        assert.strictEqual(defectsOf(logs, "isFault").length, 1)
        assert.deepInclude(defectsOf(logs, "isFault")[0]!.annotations, { pool: "p", connectionId: 1 })
        yield* closesWithin(scope, 0)
        assert.strictEqual(state.open, 0)
      })
    ))

  for (const how of ["throws", "dies"] as const) {
    it.effect(`check ${how} at validation on borrow: a failed check, retired; the borrower gets another`, () =>
      withLogs((logs) =>
        Effect.gen(function*() {
          const { connector, state } = makeTestConnector()
          const throwing = raw(connector, {
            check: (connection) => {
              if (connection.serial !== 1) return Effect.void
              if (how === "dies") return Effect.die(new Error("check died"))
              throw new Error("check threw")
            }
          })
          const scope = yield* Scope.make()
          const pool = yield* Edge.inScope(
            ConnectionPool.make(throwing, { name: "p", validateOnBorrow: true, shutdownTimeout }),
            scope
          )
          assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
          yield* TestClock.adjust("1 second") // past validationWindow
          assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 2)
          yield* eventually(() => Effect.map(pool.stats, (stats) => stats.closedByReason["validation-failed"] === 1))
          assert.strictEqual((yield* pool.stats).total, state.open)
          assert.strictEqual(defectsOf(logs, "check").length, 1)
          assert.deepInclude(defectsOf(logs, "check")[0]!.annotations, { pool: "p", connectionId: 1 })
          yield* closesWithin(scope, 0)
          assert.strictEqual(state.open, 0)
        })
      ))
  }

  it.effect("open throws while it is built: a failed open; the borrower gets a ConnectionError at once", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        let throwNext = true
        const throwing = raw(connector, {})
        Object.defineProperty(throwing, "open", {
          get: () => {
            if (throwNext) {
              throwNext = false
              throw new Error("open threw while built")
            }
            return connector.open
          }
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(throwing, { name: "p", shutdownTimeout }), scope)
        // the clock does not move: a borrower left to wait for connectionTimeout would not end
        const borrower = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
        yield* eventually(() => Effect.map(Edge.poll(borrower), Option.isSome), "the borrower to fail")
        const result = yield* Fiber.join(borrower)
        assert.isTrue(Edge.isFailure(result))
        const error = Edge.failureOf(result)! as PoolError.ConnectionError
        assert.strictEqual(error._tag, "ConnectionError")
        assert.strictEqual(error.reason, "OpenFailed")
        assert.strictEqual(defectsOf(logs, "open").length, 1)
        assert.deepInclude(defectsOf(logs, "open")[0]!.annotations, { pool: "p" })
        const stats = yield* pool.stats
        assert.strictEqual(stats.total, 0)
        assert.strictEqual(stats.openFailures, 1)
        yield* TestClock.adjust("50 millis") // the pause after a failed open
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
        yield* closesWithin(scope, 0)
        assert.strictEqual(state.open, 0)
      })
    ))

  it.effect("open dies while it runs: a failed open, logged once with the pool's name", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        let dieNext = true
        const dying = raw(connector, {
          open: Effect.suspend(() => {
            if (!dieNext) return connector.open
            dieNext = false
            return Effect.die(new Error("open died"))
          })
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(dying, { name: "p", shutdownTimeout }), scope)
        const error = yield* Effect.flip(pool.use(() => Effect.void))
        assert.strictEqual(error._tag, "ConnectionError")
        assert.strictEqual(defectsOf(logs, "open").length, 1)
        assert.deepInclude(defectsOf(logs, "open")[0]!.annotations, { pool: "p" })
        yield* TestClock.adjust("50 millis") // the pause after a failed open
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
        assert.strictEqual((yield* pool.stats).total, state.open)
        yield* closesWithin(scope, 0)
        assert.strictEqual(state.open, 0)
      })
    ))

  it.effect("a close that dies: the borrower that gave the connection back keeps its success", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        let open = 0
        const dyingClose = raw(makeTestConnector().connector, {
          open: Effect.acquireRelease(
            Effect.sync(() => ++open),
            () => Effect.sync(() => open--).pipe(Effect.andThen(Effect.die(new Error("close died"))))
          ) as unknown as Effect.Effect<TestConnection, unknown, Scope.Scope>,
          isOpen: () => true
        })
        const scope = yield* Scope.make()
        const pool = yield* Edge.inScope(ConnectionPool.make(dyingClose, { name: "p", shutdownTimeout }), scope)
        const result = yield* Edge.outcome(pool.use((_, handle) => Effect.as(handle.invalidate, "ok")))
        assert.deepStrictEqual(result, Edge.succeeded("ok"))
        assert.strictEqual((yield* pool.stats).total, open)
        assert.strictEqual(defectsOf(logs, "close").length, 1)
        assert.deepInclude(defectsOf(logs, "close")[0]!.annotations, { pool: "p", connectionId: 1 })
        yield* closesWithin(scope, 0)
      })
    ))
})

describe("misuse: closing the pool while opens are in flight", () => {
  /** A connector whose opens take `millis` of the clock, uninterruptibly (an `acquireRelease` acquire). */
  const slowOpens = (millis: number) => {
    const counts = { started: 0, opened: 0, closed: 0 }
    const base = makeTestConnector().connector
    const connector = raw(base, {
      open: Effect.acquireRelease(
        Effect.sync(() => counts.started++).pipe(
          Effect.andThen(Effect.sleep(millis)),
          Effect.map(() => ++counts.opened)
        ),
        () => Effect.sync(() => counts.closed++)
      ) as unknown as Effect.Effect<TestConnection, unknown, Scope.Scope>,
      isOpen: () => true
    })
    return { connector, counts }
  }

  it.effect("with two uninterruptible opens of 300 ms pending, the close returns only once both are closed", () =>
    Effect.gen(function*() {
      const { connector, counts } = slowOpens(300)
      const scope = yield* Scope.make()
      yield* Edge.inScope(ConnectionPool.make(connector, { minConnections: 2 }), scope)
      yield* eventually(() => counts.started === 2)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("100 millis")
      yield* Effect.repeat(Edge.yieldNow, { times: 50 })
      assert.isTrue(Option.isNone(yield* Edge.poll(closing)), "the close returned with opens still in flight")
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(closing)
      // the moment the close returned: both connections came, and both were closed
      assert.deepStrictEqual(counts, { started: 2, opened: 2, closed: 2 })
    }))

  it.effect("opens in flight that can be interrupted are interrupted: the close ends at once, nothing opened", () =>
    Effect.gen(function*() {
      const counts = { started: 0, opened: 0 }
      const connector = raw(makeTestConnector().connector, {
        open: Effect.sync(() => counts.started++).pipe(
          Effect.andThen(Effect.sleep("300 millis")),
          Effect.map(() => ++counts.opened)
        ) as unknown as Effect.Effect<TestConnection, unknown, Scope.Scope>
      })
      const scope = yield* Scope.make()
      yield* Edge.inScope(ConnectionPool.make(connector, { minConnections: 2 }), scope)
      yield* eventually(() => counts.started === 2)
      assert.strictEqual(yield* closesWithin(scope, 0), 0)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(counts.opened, 0)
    }))

  it.effect("an open that never ends: with shutdownTimeout the close returns within it and logs what it left", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const connector = raw(makeTestConnector().connector, {
          open: Effect.acquireRelease(Effect.never, () => Effect.void) as unknown as Effect.Effect<
            TestConnection,
            unknown,
            Scope.Scope
          >
        })
        const scope = yield* Scope.make()
        yield* Edge.inScope(ConnectionPool.make(connector, { name: "p", minConnections: 1, shutdownTimeout }), scope)
        yield* Effect.repeat(Edge.yieldNow, { times: 20 })
        const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust(shutdownTimeout - 1)
        yield* Effect.repeat(Edge.yieldNow, { times: 50 })
        assert.isTrue(Option.isNone(yield* Edge.poll(closing)), "the close did not wait for the open")
        yield* TestClock.adjust(1)
        yield* eventually(() => Effect.map(Edge.poll(closing), Option.isSome), "the pool's close to end")
        const left = logs.filter((log) => log.level === "WARN" && log.message.includes("1 open(s)"))
        assert.strictEqual(left.length, 1)
        assert.deepInclude(left[0]!.annotations, { pool: "p" })
      })
    ))
})
