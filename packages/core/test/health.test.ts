/**
 * A connection's health: errors while lent, the health tick and its checks, validation on borrow, and staleness.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import {
  Edge,
  eventually,
  holdOne,
  idsOf,
  it,
  makeTestConnector,
  makeTestPool,
  QueryFailure,
  TestClock
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"

describe("errors while lent", () => {
  it.scoped("a failure of the borrowing effect counts as the connection's error and lowers its score", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
      const result = yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
      assert.isTrue(Edge.isFailure(result))
      assert.strictEqual(Edge.failureOf(result)!._tag, "QueryFailure")
      const [info] = yield* pool.connections
      assert.strictEqual(info!.errorCount, 1)
      assert.strictEqual(info!.healthScore, 90)
    }))

  it.scoped("a connection with maxErrors errors is retired when returned, and replaced", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      // unhealthyScore 0 so that only the error count can retire it
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, maxErrors: 5, unhealthyScore: 0 })
      const fail = pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))).pipe(Edge.outcome)
      for (let i = 0; i < 4; i++) yield* fail
      assert.deepStrictEqual((yield* pool.connections).map((c) => [c.id, c.errorCount]), [[1, 4]])
      yield* fail
      assert.deepStrictEqual(yield* idsOf(pool), [])
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 2)
    }))

  it.scoped("the connector decides which failures are the connection's fault", () =>
    Effect.gen(function*() {
      const { connector: base } = makeTestConnector()
      const connector = Connector.make({
        open: base.open,
        isOpen: base.isOpen,
        isFault: (cause) =>
          Edge.failureOption(cause).pipe(
            Option.match({ onNone: () => true, onSome: (e) => !(e instanceof QueryFailure) || e.retryable })
          )
      })
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))))
      assert.strictEqual((yield* pool.connections)[0]!.errorCount, 0)
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
      assert.strictEqual((yield* pool.connections)[0]!.errorCount, 1)
      yield* Effect.exit(pool.use(() => Effect.die("defect")))
      assert.strictEqual((yield* pool.connections)[0]!.errorCount, 2)
    }))
})

describe("health checks", () => {
  it.scoped("a health tick happens every healthCheckInterval and no sooner", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 2, healthCheckInterval: "30 seconds" })
      yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 2))
      assert.strictEqual(state.checks, 0)
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual(state.checks, 0)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => state.checks === 2)
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual(state.checks, 2)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => state.checks === 4)
      assert.strictEqual((yield* pool.stats).healthChecks, 4)
    }))

  it.scoped("the health tick never checks a connection that is lent", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 2 })
      yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 2))
      const holder = yield* holdOne(pool)
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 2)
      const infos = yield* pool.connections
      const held = infos.find((c) => c.id === holder.id)!
      assert.strictEqual(held.state, "in-use")
      assert.strictEqual((yield* pool.stats).healthChecks, 2)
    }))

  it.scoped("a borrower never receives a connection mid-check: it waits for the check to finish", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 1, maxConnections: 1 })
      yield* eventually(() => state.connections.length === 1)
      const gate = yield* Deferred.make<void>()
      state.connections[0]!.checkGate = gate
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      assert.deepStrictEqual((yield* pool.connections).map((c) => c.state), ["checking"])
      const borrower = yield* Edge.fork(pool.use((connection) => Effect.succeed(connection.serial)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      for (let i = 0; i < 100; i++) yield* Edge.yieldNow
      assert.isTrue(Option.isNone(yield* Edge.poll(borrower)), "lent while the check was running")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(borrower), 1)
    }))

  it.scoped("a borrower waiting for a connection whose check then fails is given a new one", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
        minConnections: 1,
        maxConnections: 1,
        unhealthyScore: 80 // one failed check (100 -> 75) retires it
      })
      yield* eventually(() => state.connections.length === 1)
      const gate = yield* Deferred.make<void>()
      state.connections[0]!.checkGate = gate
      state.connections[0]!.healthy = false
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      const borrower = yield* Edge.fork(pool.use((connection) => Effect.succeed(connection.serial)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(borrower), 2)
      assert.strictEqual(state.finalizerRuns.get(1), 1)
    }))

  it.scoped("a connection whose check fails enough times drops to unhealthyScore and is retired", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 1, unhealthyScore: 50 })
      yield* eventually(() => state.connections.length === 1)
      state.connections[0]!.healthy = false
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      assert.deepStrictEqual(
        (yield* pool.connections).map((c) => [c.id, c.healthScore, c.errorCount]),
        [[1, 75, 1]]
      )
      assert.strictEqual((yield* pool.stats).healthy, 1)
      yield* TestClock.adjust("30 seconds")
      // second failure: 75 -> 50, at the threshold: retired and replaced up to minConnections
      yield* eventually(() => state.finalizerRuns.get(1) === 1)
      yield* eventually(() => Effect.map(idsOf(pool), (ids) => ids.length === 1 && ids[0] === 2))
      const stats = yield* pool.stats
      assert.strictEqual(stats.healthCheckFailures, 2)
      assert.strictEqual(stats.closed, 1)
      assert.strictEqual(stats.created, 2)
      assert.strictEqual((yield* pool.connections)[0]!.healthScore, 100)
    }))

  it.scoped("a successful check raises a lowered score again, up to 100", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ maxConnections: 1 })
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
      assert.strictEqual((yield* pool.connections)[0]!.healthScore, 80)
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      assert.strictEqual((yield* pool.connections)[0]!.healthScore, 90)
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 2)
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 3)
      assert.strictEqual((yield* pool.connections)[0]!.healthScore, 100)
    }))

  it.scoped("a check that hangs fails after healthCheckTimeout", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 1, healthCheckTimeout: "2 seconds" })
      yield* eventually(() => state.connections.length === 1)
      state.connections[0]!.checkGate = yield* Deferred.make<void>() // never completed
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => state.checks === 1)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual((yield* pool.stats).healthCheckFailures, 0)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => Effect.map(pool.stats, (s) => s.healthCheckFailures === 1))
      assert.deepStrictEqual((yield* pool.connections).map((c) => [c.healthScore, c.state]), [[75, "idle"]])
    }))
})

describe("validation on borrow", () => {
  it.scoped("an idle connection unused for validationWindow is checked before it is lent; a failing one is replaced", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
        validateOnBorrow: true,
        validationWindow: "500 millis",
        healthCheckInterval: "1 hour"
      })
      yield* pool.use(() => Effect.void)
      assert.strictEqual(state.checks, 0, "a new connection is not checked")
      yield* TestClock.adjust("499 millis")
      yield* pool.use(() => Effect.void)
      assert.strictEqual(state.checks, 0, "used within the window: not checked")
      yield* TestClock.adjust("500 millis")
      yield* pool.use(() => Effect.void)
      assert.strictEqual(state.checks, 1)
      // the server dropped it while idle, unnoticed: the check fails, and the borrower gets a new one
      yield* TestClock.adjust("1 second")
      state.connections[0]!.healthy = false
      const serial = yield* pool.use((connection) => Effect.succeed(connection.serial))
      assert.strictEqual(serial, 2)
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      const stats = yield* pool.stats
      assert.strictEqual(stats.healthCheckFailures, 1)
      assert.strictEqual(stats.inUse, 0)
    }))

  it.scoped("without validateOnBorrow, nothing is checked on borrow", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ healthCheckInterval: "1 hour" })
      yield* pool.use(() => Effect.void)
      yield* TestClock.adjust("10 seconds")
      yield* pool.use(() => Effect.void)
      assert.strictEqual(state.checks, 0)
    }))
})

describe("staleness and cleanUpStale", () => {
  it.scoped("a connection idle for staleAfter is retired at the next tick and replaced up to minConnections", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 1, staleAfter: "5 minutes" })
      yield* eventually(() => state.connections.length === 1)
      yield* TestClock.adjust("4 minutes")
      yield* TestClock.adjust("59999 millis")
      assert.deepStrictEqual(yield* idsOf(pool), [1])
      assert.strictEqual(state.closed, 0)
      yield* TestClock.adjust("1 millis") // the tick at 5:00
      yield* eventually(() => state.finalizerRuns.get(1) === 1)
      yield* eventually(() => Effect.map(idsOf(pool), (ids) => ids.length === 1 && ids[0] === 2))
      assert.strictEqual(state.open, 1)
    }))

  it.scoped("a connection used within staleAfter is not stale", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ staleAfter: "5 minutes" })
      yield* pool.use(() => Effect.void)
      yield* TestClock.adjust("4 minutes")
      yield* pool.use(() => Effect.void)
      yield* TestClock.adjust("1 minutes")
      yield* eventually(() => state.checks >= 10)
      assert.deepStrictEqual(yield* idsOf(pool), [1])
      yield* TestClock.adjust("4 minutes")
      yield* eventually(() => state.closed === 1)
      assert.deepStrictEqual(yield* idsOf(pool), [])
    }))

  it.scoped("cleanUpStale returns the number it removed", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      // a health interval longer than the test, so that only cleanUpStale retires
      const pool = yield* ConnectionPool.make(connector, { staleAfter: "5 minutes", healthCheckInterval: "1 hour" })
      yield* Effect.forEach([1, 2, 3], () => holdOne(pool)).pipe(
        Effect.flatMap((holders) => Effect.forEach(holders, (holder) => Fiber.interrupt(holder.fiber)))
      )
      assert.strictEqual(yield* pool.activeConnections, 3)
      yield* TestClock.adjust("4 minutes")
      yield* pool.use(() => Effect.void) // one of them is used again
      assert.strictEqual(yield* pool.cleanUpStale, 0)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* pool.cleanUpStale, 2)
      assert.strictEqual(yield* pool.activeConnections, 1)
      assert.strictEqual(state.closed, 2)
      assert.strictEqual(yield* pool.cleanUpStale, 0)
    }))

  it.scoped("cleanUpStale leaves lent connections alone", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ staleAfter: "1 minute", healthCheckInterval: "1 hour" })
      yield* holdOne(pool)
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(yield* pool.cleanUpStale, 0)
      assert.strictEqual(yield* pool.activeConnections, 1)
    }))
})
