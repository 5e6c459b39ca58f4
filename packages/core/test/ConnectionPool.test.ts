import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { eventually, makeTestConnector, QueryFailure, type TestConnection } from "@connection-pool/test-kit"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  Option,
  Schedule,
  Scope,
  TestClock
} from "effect"

const idsOf = (pool: ConnectionPool.ConnectionPool<TestConnection>) =>
  Effect.map(pool.connections, (connections) => connections.map((connection) => connection.id))

/**
 * Borrows a connection in a fiber of the test's scope and keeps it until that fiber is interrupted (at
 * the latest when the test's scope closes, before the pool's own finalizer waits for lent connections).
 */
const holdOne = (pool: ConnectionPool.ConnectionPool<TestConnection>) =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<number>()
    const fiber = yield* Effect.forkScoped(
      pool.use((_, handle) => Deferred.succeed(lent, handle.id).pipe(Effect.zipRight(Effect.never)))
    )
    const id = yield* Deferred.await(lent)
    return { fiber, id }
  })

describe("ConnectionPool", () => {
  describe("borrowing", () => {
    it.scoped("use lends a connection, runs the effect and returns the connection", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector)
        const serial = yield* pool.use((connection) => Effect.succeed(connection.serial))
        assert.strictEqual(serial, 1)
        const stats = yield* pool.stats
        assert.strictEqual(stats.total, 1)
        assert.strictEqual(stats.idle, 1)
        assert.strictEqual(stats.inUse, 0)
        assert.strictEqual(yield* pool.availablePermits, 10)
        // the same connection is lent again, not a new one
        yield* pool.use(() => Effect.void)
        assert.strictEqual(state.opened, 1)
        const [info] = yield* pool.connections
        assert.strictEqual(info!.useCount, 2)
        assert.strictEqual(info!.state, "idle")
      }))

    it.scoped("get lends for the scope and returns the connection when the scope closes", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 2 })
        const id = yield* Effect.scoped(
          Effect.gen(function*() {
            const handle = yield* pool.get
            assert.isTrue(handle.connection.open)
            assert.strictEqual(yield* pool.availablePermits, 1)
            const [info] = yield* pool.connections
            assert.strictEqual(info!.state, "in-use")
            return handle.id
          })
        )
        assert.strictEqual(id, 1)
        assert.strictEqual(yield* pool.availablePermits, 2)
        assert.deepStrictEqual((yield* pool.connections).map((c) => c.state), ["idle"])
      }))

    it.scoped("an early release returns the connection before the scope closes, and twice is harmless", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        yield* Effect.scoped(
          Effect.gen(function*() {
            const handle = yield* pool.get
            yield* pool.release(handle)
            assert.strictEqual(yield* pool.availablePermits, 1)
            yield* handle.release
            assert.strictEqual(yield* pool.availablePermits, 1)
            // the pool of one can lend again inside the same scope
            const again = yield* pool.get
            assert.strictEqual(again.id, handle.id)
          })
        )
        assert.strictEqual(yield* pool.availablePermits, 1)
      }))

    it.scoped("an invalidated connection is closed when returned and never lent again", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector)
        yield* pool.use((_, handle) => handle.invalidate)
        assert.strictEqual(state.closed, 1)
        assert.deepStrictEqual(yield* idsOf(pool), [])
        const serial = yield* pool.use((connection) => Effect.succeed(connection.serial))
        assert.strictEqual(serial, 2)
      }))

    it.scoped("a connection found closed when returned is retired", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector)
        yield* pool.use((connection) =>
          Effect.sync(() => {
            connection.open = false // the peer hung up while lent
          })
        )
        assert.deepStrictEqual(yield* idsOf(pool), [])
        assert.strictEqual(state.finalizerRuns.get(1), 1)
      }))

    it.scoped("the handle shows the connection's health record", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector)
        yield* TestClock.adjust("1 second")
        yield* pool.use(() => Effect.void)
        yield* TestClock.adjust("1 second")
        const handle = yield* pool.use((_, handle) => Effect.succeed(handle))
        assert.strictEqual(handle.id, 1)
        assert.strictEqual(handle.createdAt, 1000)
        assert.strictEqual(handle.useCount, 2)
        assert.strictEqual(handle.healthScore, 100)
        assert.strictEqual(handle.errorCount, 0)
        assert.strictEqual(handle.lastUsedAt, 2000)
      }))

    it.effect("maxConnections is never exceeded under 1,000 concurrent borrowers", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        let lent = 0
        let peakLent = 0
        const lentSerials = new Set<number>()
        let crossings = 0
        const results = yield* Effect.scoped(
          Effect.gen(function*() {
            const pool = yield* ConnectionPool.make(connector, { maxConnections: 10 })
            // Every borrower holds its connection until the pool is saturated: 10 lent, 990 waiting.
            const saturated = yield* Deferred.make<void>()
            const borrowers = yield* Effect.fork(Effect.forEach(
              Array.from({ length: 1000 }, (_, i) => i),
              (i) =>
                pool.use((connection) =>
                  Effect.gen(function*() {
                    lent++
                    peakLent = Math.max(peakLent, lent)
                    if (lentSerials.has(connection.serial)) crossings++
                    lentSerials.add(connection.serial)
                    yield* Deferred.await(saturated)
                    yield* Effect.yieldNow()
                    lentSerials.delete(connection.serial)
                    lent--
                    return i
                  })
                ),
              { concurrency: "unbounded" }
            ))
            yield* eventually(() => Effect.map(pool.stats, (s) => s.inUse === 10 && s.waiting === 990))
            for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
            const stats = yield* pool.stats
            assert.strictEqual(stats.total, 10)
            assert.strictEqual(stats.inUse, 10)
            assert.strictEqual(yield* pool.availablePermits, 0)
            yield* Deferred.succeed(saturated, undefined)
            const results = yield* Fiber.join(borrowers)
            assert.strictEqual(yield* pool.availablePermits, 10)
            const after = yield* pool.stats
            assert.strictEqual(after.waiting, 0)
            assert.strictEqual(after.inUse, 0)
            return results
          })
        )
        assert.deepStrictEqual(results, Array.from({ length: 1000 }, (_, i) => i))
        assert.strictEqual(peakLent, 10)
        assert.strictEqual(state.peakOpen, 10)
        assert.strictEqual(crossings, 0, "a connection was lent to two borrowers at once")
        assert.strictEqual(state.open, 0)
      }))
  })

  describe("timeouts", () => {
    it.scoped("a waiter times out after exactly connectionTimeout", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, connectionTimeout: "30 seconds" })
        yield* holdOne(pool)
        const waiter = yield* Effect.fork(Effect.either(pool.use(() => Effect.void)))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        yield* TestClock.adjust(Duration.millis(29_999))
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)), "gave up before connectionTimeout")
        yield* TestClock.adjust(Duration.millis(1))
        const result = yield* Fiber.join(waiter)
        assert.isTrue(Either.isLeft(result))
        const error = (result as Either.Left<PoolError.PoolError, void>).left
        assert.strictEqual(error._tag, "PoolTimeoutError")
        assert.strictEqual((error as PoolError.PoolTimeoutError).reason, "AcquireTimeout")
        assert.include(error.message, "30s")
        const stats = yield* pool.stats
        assert.strictEqual(stats.timeouts, 1)
        assert.strictEqual(stats.waiting, 0)
        assert.strictEqual(stats.total, 1)
        assert.strictEqual(yield* pool.availablePermits, 0)
      }))

    it.scoped("the default connectionTimeout is 30 seconds and maxConnections 10", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector)
        assert.strictEqual(pool.maxConnections, 10)
        assert.isTrue(Duration.equals(pool.connectionTimeout, Duration.seconds(30)))
        for (let i = 0; i < 10; i++) yield* holdOne(pool)
        const waiter = yield* Effect.fork(Effect.exit(pool.use(() => Effect.void)))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        yield* TestClock.adjust("29999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
        yield* TestClock.adjust("1 millis")
        const exit = yield* Fiber.join(waiter)
        assert.isTrue(Exit.isFailure(exit))
      }))
  })

  describe("interruption", () => {
    it.scoped("a borrower interrupted while waiting leaves the pool as it was", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        const holder = yield* holdOne(pool)
        const permitsBefore = yield* pool.availablePermits
        const activeBefore = yield* pool.activeConnections
        const waiter = yield* Effect.fork(pool.use(() => Effect.void))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        yield* Fiber.interrupt(waiter)
        assert.strictEqual(yield* pool.availablePermits, permitsBefore)
        assert.strictEqual(yield* pool.activeConnections, activeBefore)
        assert.strictEqual((yield* pool.stats).waiting, 0)
        yield* Fiber.interrupt(holder.fiber)
        assert.strictEqual(yield* pool.availablePermits, 1)
        // the next borrower is served at once, by the same connection
        const id = yield* pool.use((_, handle) => Effect.succeed(handle.id))
        assert.strictEqual(id, holder.id)
      }))

    it.scoped("a borrower interrupted while holding leaves the pool as it was, with no error counted", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 3 })
        yield* pool.use(() => Effect.void)
        const permitsBefore = yield* pool.availablePermits
        const activeBefore = yield* pool.activeConnections
        const holder = yield* holdOne(pool)
        assert.strictEqual(yield* pool.availablePermits, permitsBefore - 1)
        yield* Fiber.interrupt(holder.fiber)
        assert.strictEqual(yield* pool.availablePermits, permitsBefore)
        assert.strictEqual(yield* pool.activeConnections, activeBefore)
        const [info] = yield* pool.connections
        assert.strictEqual(info!.errorCount, 0)
        assert.strictEqual(info!.state, "idle")
      }))

    it.scoped("a borrower whose own Effect.timeout fires while waiting leaves the pool as it was", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        const holder = yield* holdOne(pool)
        const waiter = yield* Effect.fork(pool.use(() => Effect.void).pipe(Effect.timeout("1 second"), Effect.either))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        yield* TestClock.adjust("1 second")
        const result = yield* Fiber.join(waiter)
        assert.isTrue(Either.isLeft(result))
        assert.strictEqual((result as Either.Left<{ _tag: string }, void>).left._tag, "TimeoutException")
        const stats = yield* pool.stats
        assert.strictEqual(stats.waiting, 0)
        assert.strictEqual(stats.timeouts, 0)
        yield* Fiber.interrupt(holder.fiber)
        assert.strictEqual(yield* pool.availablePermits, 1)
        assert.strictEqual(yield* pool.use((_, h) => Effect.succeed(h.id)), holder.id)
      }))

    it.scoped("get in a scope that is interrupted returns the connection", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          Effect.scoped(Effect.zipRight(pool.get, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
        )
        yield* Deferred.await(started)
        assert.strictEqual(yield* pool.availablePermits, 0)
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* pool.availablePermits, 1)
        assert.strictEqual((yield* pool.connections)[0]!.errorCount, 0)
      }))
  })

  describe("errors while lent", () => {
    it.scoped("a failure of the borrowing effect counts as the connection's error and lowers its score", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        const result = yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
        assert.isTrue(Either.isLeft(result))
        assert.strictEqual((result as Either.Left<{ _tag: string }, void>).left._tag, "QueryFailure")
        const [info] = yield* pool.connections
        assert.strictEqual(info!.errorCount, 1)
        assert.strictEqual(info!.healthScore, 90)
      }))

    it.scoped("a connection with maxErrors errors is retired when returned, and replaced", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        // unhealthyScore 0 so that only the error count can retire it
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, maxErrors: 5, unhealthyScore: 0 })
        const fail = pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))).pipe(Effect.either)
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
            Cause.failureOption(cause).pipe(
              Option.match({ onNone: () => true, onSome: (e) => !(e instanceof QueryFailure) || e.retryable })
            )
        })
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))))
        assert.strictEqual((yield* pool.connections)[0]!.errorCount, 0)
        yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
        assert.strictEqual((yield* pool.connections)[0]!.errorCount, 1)
        yield* Effect.exit(pool.use(() => Effect.die("defect")))
        assert.strictEqual((yield* pool.connections)[0]!.errorCount, 2)
      }))
  })

  describe("health", () => {
    it.scoped("a health tick happens every healthCheckInterval and no sooner", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 2, healthCheckInterval: "30 seconds" })
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
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 2 })
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
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 1, maxConnections: 1 })
        yield* eventually(() => state.connections.length === 1)
        const gate = yield* Deferred.make<void>()
        state.connections[0]!.checkGate = gate
        yield* TestClock.adjust("30 seconds")
        yield* eventually(() => state.checks === 1)
        assert.deepStrictEqual((yield* pool.connections).map((c) => c.state), ["checking"])
        const borrower = yield* Effect.fork(pool.use((connection) => Effect.succeed(connection.serial)))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
        assert.isTrue(Option.isNone(yield* Fiber.poll(borrower)), "lent while the check was running")
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(borrower), 1)
      }))

    it.scoped("a borrower waiting for a connection whose check then fails is given a new one", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, {
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
        const borrower = yield* Effect.fork(pool.use((connection) => Effect.succeed(connection.serial)))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(borrower), 2)
        assert.strictEqual(state.finalizerRuns.get(1), 1)
      }))

    it.scoped("a connection whose check fails enough times drops to unhealthyScore and is retired", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 1, unhealthyScore: 50 })
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
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
        yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
        yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
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
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 1, healthCheckTimeout: "2 seconds" })
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

    it.scoped("a connection idle for staleAfter is retired at the next tick and replaced up to minConnections", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { minConnections: 1, staleAfter: "5 minutes" })
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
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { staleAfter: "5 minutes" })
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
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { staleAfter: "1 minute", healthCheckInterval: "1 hour" })
        yield* holdOne(pool)
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(yield* pool.cleanUpStale, 0)
        assert.strictEqual(yield* pool.activeConnections, 1)
      }))
  })

  describe("warm-up", () => {
    it.scoped("a large minConnections is filled completely (opens do not recurse)", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 2000, minConnections: 2000 })
        yield* eventually(
          () => Effect.map(pool.activeConnections, (n) => n === 2000),
          "2,000 connections open",
          "30 seconds"
        )
        assert.strictEqual(state.opened, 2000)
        assert.strictEqual(state.peakOpen, 2000)
      }))
  })

  describe("lifetimes", () => {
    it.scoped("with timeToLiveStrategy creation, a connection is closed timeToLive after it opened", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, {
          minConnections: 1,
          timeToLive: "1 minute",
          timeToLiveStrategy: "creation",
          healthCheckInterval: "1 hour"
        })
        yield* eventually(() => state.connections.length === 1)
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual(state.closed, 0)
        yield* TestClock.adjust("1 second")
        yield* eventually(() => state.finalizerRuns.get(1) === 1)
        yield* eventually(() => Effect.map(idsOf(pool), (ids) => ids.length === 1 && ids[0] === 2))
      }))
  })

  describe("failing connector", () => {
    it.scoped("a connector whose open fails gives every waiter a ConnectionError promptly", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        state.failOpen = true
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 3 })
        // the clock never moves: a waiter that waited for connectionTimeout would hang this test
        const results = yield* Effect.forEach(
          [1, 2, 3, 4, 5, 6],
          () => Effect.either(pool.use(() => Effect.void)),
          { concurrency: "unbounded" }
        )
        for (const result of results) {
          assert.isTrue(Either.isLeft(result))
          const error = (result as Either.Left<PoolError.PoolError, void>).left as PoolError.ConnectionError
          assert.strictEqual(error._tag, "ConnectionError")
          assert.strictEqual(error.reason, "OpenFailed")
          assert.strictEqual((error.cause as { _tag: string })._tag, "OpenFailure")
        }
        const stats = yield* pool.stats
        assert.strictEqual(stats.waiting, 0)
        assert.strictEqual(stats.timeouts, 0)
        // with no connection open, one failed open answers every waiter: no attempt per waiter needed
        assert.isAtLeast(stats.openFailures, 1)
        assert.isAtMost(stats.openFailures, 6)
        assert.strictEqual(yield* pool.availablePermits, 3)
        // the server comes back: the pool serves again
        state.failOpen = false
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.open)), true)
      }))

    it.scoped("with minConnections and the server down, opens are retried at the next tick, not in a loop", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        state.failOpen = true
        const pool = yield* ConnectionPool.make(connector, { minConnections: 2 })
        yield* eventually(() => state.openAttempts === 2)
        // a server that refuses at once is not asked again in a loop: the next try is at the tick
        for (let i = 0; i < 1000; i++) yield* Effect.yieldNow()
        assert.strictEqual(state.openAttempts, 2)
        assert.strictEqual(yield* pool.activeConnections, 0)
        state.failOpen = false
        yield* TestClock.adjust("30 seconds")
        yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 2))
      }))

    it.scoped("a failure recorded before a borrower came is not handed to it", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        state.failOpen = true
        const pool = yield* ConnectionPool.make(connector, { minConnections: 1, maxConnections: 1 })
        yield* eventually(() => state.openAttempts === 1)
        yield* TestClock.adjust("1 second")
        state.failOpen = false
        // the old failure is dropped and a fresh open is made for this borrower
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
      }))
  })

  describe("shutdown", () => {
    it.scoped("closing the pool's scope closes every connection exactly once and fails waiters with PoolClosedError", () =>
      Effect.gen(function*() {
        const { connector, state } = makeTestConnector()
        const scope = yield* Scope.make()
        const pool = yield* Scope.extend(ConnectionPool.make(connector, { maxConnections: 3 }), scope)
        const holders = yield* Effect.forEach([1, 2, 3], () => holdOne(pool))
        const waiter = yield* Effect.fork(Effect.either(pool.use(() => Effect.void)))
        yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        const result = yield* Fiber.join(waiter)
        assert.isTrue(Either.isLeft(result))
        const error = (result as Either.Left<PoolError.PoolError, void>).left as PoolError.PoolClosedError
        assert.strictEqual(error._tag, "PoolClosedError")
        assert.strictEqual(error.reason, "ClosedWhileWaiting")
        // a borrower that comes after the close is refused at once
        const late = yield* Effect.either(pool.use(() => Effect.void))
        assert.strictEqual((late as Either.Left<PoolError.PoolClosedError, void>).left.reason, "PoolClosed")
        // lent connections are closed when their borrowers return them
        yield* Effect.forEach(holders, (holder) => Fiber.interrupt(holder.fiber))
        yield* Fiber.join(closing)
        assert.strictEqual(state.opened, 3)
        assert.deepStrictEqual([...state.finalizerRuns.entries()].sort(), [[1, 1], [2, 1], [3, 1]])
        assert.strictEqual(state.open, 0)
      }))

    it.effect("releasing a layer closes every connection exactly once", () =>
      Effect.gen(function*() {
        class TestPool
          extends Context.Tag("test/TestPool")<TestPool, ConnectionPool.ConnectionPool<TestConnection>>()
        {}
        const { connector, state } = makeTestConnector()
        yield* Effect.gen(function*() {
          const pool = yield* TestPool
          yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 4))
          yield* Effect.forEach([1, 2, 3, 4], () => pool.use(() => Effect.yieldNow()), { concurrency: "unbounded" })
          assert.strictEqual(yield* pool.activeConnections, 4)
        }).pipe(Effect.provide(ConnectionPool.layer(TestPool, connector, { maxConnections: 4, minConnections: 4 })))
        assert.strictEqual(state.opened, 4)
        assert.deepStrictEqual([...state.finalizerRuns.values()], [1, 1, 1, 1])
        assert.strictEqual(state.open, 0)
      }))
  })

  describe("layers", () => {
    it.effect("a program can hold several pools of different connection types, each with its own tag", () =>
      Effect.gen(function*() {
        class Numbers extends Context.Tag("test/Numbers")<Numbers, ConnectionPool.ConnectionPool<number>>() {}
        class Words extends Context.Tag("test/Words")<Words, ConnectionPool.ConnectionPool<string>>() {}
        const layer = Layer.merge(
          ConnectionPool.layer(Numbers, Connector.make({ open: Effect.succeed(42) }), { name: "numbers" }),
          ConnectionPool.layer(Words, Connector.make({ open: Effect.succeed("hello") }), { name: "words" })
        )
        const result = yield* Effect.gen(function*() {
          const numbers = yield* Numbers
          const words = yield* Words
          const n = yield* ConnectionPool.use(numbers, (n) => Effect.succeed(n))
          const w = yield* words.pipe(ConnectionPool.use((w) => Effect.succeed(w)))
          const scoped = yield* Effect.scoped(Effect.map(ConnectionPool.get(numbers), (h) => h.connection))
          return [n, w, scoped, numbers.name, words.name] as const
        }).pipe(Effect.provide(layer))
        assert.deepStrictEqual(result, [42, "hello", 42, "numbers", "words"])
      }))
  })

  describe("stats", () => {
    it.scoped("stats count connections, borrowers and events, with a one-line summary", () =>
      Effect.gen(function*() {
        const { connector } = makeTestConnector()
        const pool = yield* ConnectionPool.make(connector, { name: "stats-test", maxConnections: 4 })
        const holder = yield* holdOne(pool)
        yield* pool.use(() => Effect.void)
        yield* Effect.either(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
        const stats = yield* pool.stats
        assert.strictEqual(stats.name, "stats-test")
        assert.strictEqual(stats.total, 2)
        assert.strictEqual(stats.inUse, 1)
        assert.strictEqual(stats.idle, 1)
        assert.strictEqual(stats.healthy, 2)
        assert.strictEqual(stats.unhealthy, 0)
        assert.strictEqual(stats.utilization, 0.25)
        assert.strictEqual(stats.created, 2)
        assert.strictEqual(stats.averageScore, 95)
        assert.strictEqual(
          stats.summary,
          "pool \"stats-test\": 2/4 open (1 in use, 1 idle), 0 waiting, 2 healthy, 0 unhealthy, " +
            "utilization 25.0%, avg score 95.0, created 2, closed 0, open failures 0, timeouts 0, " +
            "health checks 0 (0 failed)"
        )
        assert.strictEqual(ConnectionPool.summary(stats), stats.summary)
        yield* Fiber.interrupt(holder.fiber)
        assert.strictEqual((yield* pool.stats).utilization, 0)
      }))
  })
})

describe("bounded waiting and resizing", () => {
  it.scoped("with maxWaiting borrowers waiting, the next one is refused at once with PoolExhaustedError", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, maxWaiting: 2 })
      yield* holdOne(pool)
      const waiters = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.either(pool.use(() => Effect.void))))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 2))
      // the clock never moves: refused at once, not at its timeout
      const refused = yield* Effect.either(pool.use(() => Effect.void))
      assert.isTrue(Either.isLeft(refused))
      const error = (refused as Either.Left<PoolError.PoolError, void>).left as PoolError.PoolExhaustedError
      assert.strictEqual(error._tag, "PoolExhaustedError")
      assert.strictEqual(error.reason, "TooManyWaiting")
      assert.strictEqual(error.maxWaiting, 2)
      assert.strictEqual((yield* pool.stats).waiting, 2)
      yield* Effect.forEach(waiters, Fiber.interrupt, { discard: true })
      assert.strictEqual((yield* pool.stats).waiting, 0)
    }))

  it.scoped("growing a live pool serves its waiters with new connections at once", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      yield* holdOne(pool)
      const waiters = yield* Effect.forEach([1, 2], () =>
        Effect.fork(pool.use((connection) => Effect.succeed(connection.serial))))
      yield* eventually(() =>
        Effect.map(pool.stats, (s) => s.waiting === 2)
      )
      yield* pool.resize({ maxConnections: 3 })
      assert.strictEqual(pool.maxConnections, 3)
      const served = yield* Effect.forEach(waiters, Fiber.join)
      assert.isTrue(served.every((serial) => serial > 1))
      assert.strictEqual(state.opened, 3)
      assert.strictEqual((yield* pool.stats).maxConnections, 3)
    }))

  it.scoped("shrinking closes idle connections now and lent ones when they come back, never taken from a borrower", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 5, minConnections: 5 })
      yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 5))
      const holders = yield* Effect.forEach([1, 2, 3], () => holdOne(pool))
      yield* pool.resize({ maxConnections: 1, minConnections: 0 })
      // the two idle ones are closed at once; the three lent ones stay with their borrowers
      assert.strictEqual(state.closed, 2)
      assert.strictEqual(yield* pool.activeConnections, 3)
      assert.isTrue(holders.every((holder) => state.connections.find((c) => c.serial === holder.id)!.open))
      yield* Effect.forEach(holders, (holder) => Fiber.interrupt(holder.fiber), { discard: true })
      // as they come back, those above the new maximum are closed
      assert.strictEqual(yield* pool.activeConnections, 1)
      assert.strictEqual(state.closed, 4)
      assert.strictEqual(yield* pool.availablePermits, 1)
    }))

  it.scoped("a resize is checked like the options it changes", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 4 })
      const zero = yield* Effect.flip(pool.resize({ maxConnections: 0 }))
      assert.deepStrictEqual(zero.fields, ["maxConnections"])
      const inverted = yield* Effect.flip(pool.resize({ minConnections: 5 }))
      assert.deepStrictEqual(inverted.fields, ["minConnections"])
      assert.strictEqual(pool.maxConnections, 4)
    }))
})

describe("warm-up", () => {
  it.scoped("with warmUp, the pool is built once minConnections are open", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { minConnections: 3, warmUp: true })
      // no waiting needed: they are open when make returns
      assert.strictEqual(yield* pool.activeConnections, 3)
      assert.strictEqual(state.opened, 3)
    }))

  it.scoped("with warmUp and a connector that fails, building the pool fails with ConnectionError", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failOpen = true
      const error = yield* Effect.flip(ConnectionPool.make(connector, { minConnections: 2, warmUp: true }))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual((error as PoolError.ConnectionError).reason, "OpenFailed")
    }))

  it.scoped("with warmUp and opens that hang, building the pool fails after connectionTimeout", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.openGate = yield* Deferred.make<void>()
      const building = yield* Effect.fork(Effect.flip(Effect.scoped(ConnectionPool.make(connector, {
        minConnections: 1,
        warmUp: true,
        connectionTimeout: "10 seconds",
        openTimeout: "1 minute"
      }))))
      yield* eventually(() => state.openAttempts === 1)
      yield* TestClock.adjust("9999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(building)))
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(building)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual((error as PoolError.ConnectionError).reason, "OpenTimedOut")
    }))

  it.scoped("without warmUp, the pool is built at once and minConnections open in the background", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failOpen = true
      const pool = yield* ConnectionPool.make(connector, { minConnections: 2 })
      assert.strictEqual(yield* pool.activeConnections, 0)
    }))
})

describe("validation on borrow", () => {
  it.scoped("an idle connection unused for validationWindow is checked before it is lent; a failing one is replaced", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, {
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
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { healthCheckInterval: "1 hour" })
      yield* pool.use(() => Effect.void)
      yield* TestClock.adjust("10 seconds")
      yield* pool.use(() => Effect.void)
      assert.strictEqual(state.checks, 0)
    }))
})

describe("leak detection", () => {
  const messages: Array<{ message: string; annotations: Record<string, unknown> }> = []
  const collectLogger = Logger.make(({ annotations, message }) => {
    messages.push({
      message: String(Array.isArray(message) ? message.join(" ") : message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })

  it.scoped("a connection held longer than leakDetectionThreshold is logged once, with its borrower and span", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { leakDetectionThreshold: "10 seconds" })
      const lent = yield* Deferred.make<void>()
      const holder = yield* Effect.forkScoped(
        pool.use(() => Effect.zipRight(Deferred.succeed(lent, undefined), Effect.never)).pipe(
          Effect.withSpan("handle-request")
        )
      )
      yield* Deferred.await(lent)
      const leaks = () => messages.filter((m) => m.message.includes("possible leak"))
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(leaks().length, 0)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => leaks().length === 1)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(leaks().length, 1, "logged once per loan")
      const [leak] = leaks()
      assert.strictEqual(leak!.annotations.borrowedInSpan, "handle-request")
      assert.strictEqual(leak!.annotations.borrower, `#${holder.id().id}`)
      assert.strictEqual(leak!.annotations.connectionId, 1)
      // the pool's fibers log through the logger they were started with: this one collects
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collectLogger))))

  it.scoped("with traceBorrows, the span named is still the borrower's, not the pool's own borrow span", () =>
    Effect.gen(function*() {
      messages.length = 0
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { leakDetectionThreshold: "10 seconds", traceBorrows: true })
      const lent = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        pool.use(() => Effect.zipRight(Deferred.succeed(lent, undefined), Effect.never)).pipe(
          Effect.withSpan("handle-request")
        )
      )
      yield* Deferred.await(lent)
      yield* TestClock.adjust("10 seconds")
      yield* eventually(() => messages.some((m) => m.message.includes("possible leak")))
      const leak = messages.find((m) => m.message.includes("possible leak"))
      assert.strictEqual(leak!.annotations.borrowedInSpan, "handle-request")
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collectLogger))))
})

describe("lifetimes with jitter", () => {
  it.scoped("100 connections opened at once with maxLifetime 30 min expire spread over the jitter window", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      yield* ConnectionPool.make(connector, {
        maxConnections: 100,
        minConnections: 100,
        maxLifetime: "30 minutes",
        healthCheckInterval: "1 day"
      })
      yield* eventually(() => state.opened === 100, "100 connections open", "30 seconds")
      const windowStart = 30 * 60_000 - 45_000 // jitter: up to 2.5% of 30 minutes
      yield* TestClock.adjust(Duration.millis(windowStart - 1))
      assert.strictEqual(state.closed, 0, "none expires before the jitter window")
      for (let second = 0; second <= 45; second++) {
        yield* TestClock.adjust("1 second")
        yield* eventually(() => true)
      }
      yield* eventually(() => [...state.closedAt.keys()].filter((serial) => serial <= 100).length === 100)
      const instants = new Set([...state.closedAt.entries()].filter(([serial]) => serial <= 100).map(([, at]) => at))
      assert.isAtLeast(instants.size, 10, `expiries at ${instants.size} instants: not spread`)
      for (const at of instants) {
        assert.isAtLeast(at, windowStart)
        assert.isAtMost(at, 30 * 60_000)
      }
      // replaced up to minConnections
      yield* eventually(() => state.open === 100, "100 connections open again", "30 seconds")
    }))

  it.scoped("a connection lent when its lifetime ends is retired when it comes back, not taken from its borrower", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxLifetime: "1 minute", healthCheckInterval: "1 day" })
      const holder = yield* holdOne(pool)
      yield* TestClock.adjust("2 minutes")
      assert.isTrue(state.connections[0]!.open, "taken from its borrower")
      yield* Fiber.interrupt(holder.fiber)
      assert.strictEqual(state.finalizerRuns.get(holder.id), 1)
      assert.strictEqual(yield* pool.activeConnections, 0)
    }))

  it.scoped("idle connections above minConnections unused for idleTimeout are closed", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, {
        minConnections: 1,
        idleTimeout: "1 minute",
        healthCheckInterval: "1 day"
      })
      yield* eventually(() => state.opened === 1)
      const holders = yield* Effect.forEach([1, 2, 3], () => holdOne(pool))
      yield* Effect.forEach(holders, (holder) => Fiber.interrupt(holder.fiber), { discard: true })
      assert.strictEqual(yield* pool.activeConnections, 3)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* pool.activeConnections, 3)
      yield* TestClock.adjust("2 seconds")
      yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 1))
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* pool.activeConnections, 1, "minConnections are kept")
    }))
})

describe("graceful shutdown", () => {
  it.effect("lent connections get shutdownTimeout to come back; then their borrowers are interrupted", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(ConnectionPool.make(connector, { shutdownTimeout: "5 seconds" }), scope)
      const lent = yield* Deferred.make<void>()
      // a borrower that never finishes on its own, in a fiber of its own
      const stuck = yield* Effect.forkDaemon(
        pool.use(() => Effect.zipRight(Deferred.succeed(lent, undefined), Effect.never))
      )
      yield* Deferred.await(lent)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "closed before shutdownTimeout")
      assert.isTrue(state.connections[0]!.open)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(stuck)))
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual((yield* pool.stats).interruptedAtShutdown, 1)
    }))

  it.effect("a borrower that finishes within shutdownTimeout is not interrupted", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(ConnectionPool.make(connector, { shutdownTimeout: "5 seconds" }), scope)
      const lent = yield* Deferred.make<void>()
      const finishing = yield* Effect.forkDaemon(
        pool.use(() => Effect.zipRight(Deferred.succeed(lent, undefined), Effect.as(Effect.sleep("2 seconds"), "done")))
      )
      yield* Deferred.await(lent)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual(yield* Fiber.join(finishing), "done")
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual((yield* pool.stats).interruptedAtShutdown, 0)
    }))
})

describe("opening under failure: backoff and circuit breaker", () => {
  it.scoped("a connector that fails 20 times then succeeds: errors within connectionTimeout, the breaker, recovery", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failFirst = 20
      const pool = yield* ConnectionPool.make(connector, {
        minConnections: 1,
        openRetry: Schedule.exponential("100 millis"), // 100 ms, 200 ms, 400 ms, ... between attempts
        breakerThreshold: 10,
        breakerResetAfter: "10 seconds",
        connectionTimeout: "5 seconds",
        healthCheckInterval: "1 hour"
      })
      yield* eventually(() => state.openAttempts === 1)
      const waiter = yield* Effect.fork(Effect.either(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      // Attempts at 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s: the waiter waits through them...
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
      assert.strictEqual(state.openAttempts, 6)
      // ...and at connectionTimeout gets the last ConnectionError, not a bare timeout.
      yield* TestClock.adjust("1 millis")
      const failed = yield* Fiber.join(waiter)
      assert.isTrue(Either.isLeft(failed))
      const error = (failed as Either.Left<PoolError.PoolError, void>).left as PoolError.ConnectionError
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "OpenFailed")
      // The backoff goes on for minConnections: 6.3, 12.7, 25.5 and 51.1 s; the 10th failure opens the breaker.
      yield* TestClock.adjust("46099 millis") // t = 51.099 s
      assert.strictEqual(state.openAttempts, 9)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => state.openAttempts === 10)
      const refused = yield* Effect.either(pool.use(() => Effect.void))
      const unavailable = (refused as Either.Left<PoolError.PoolError, void>).left as PoolError.PoolUnavailableError
      assert.strictEqual(unavailable._tag, "PoolUnavailableError")
      assert.strictEqual(unavailable.reason, "CircuitOpen")
      assert.strictEqual(unavailable.lastError?._tag, "ConnectionError")
      assert.strictEqual(state.openAttempts, 10, "the breaker lets no attempt through while open")
      // One probe per breakerResetAfter, let through by a borrower, until the server is back (attempt 21).
      let served: Either.Either<number, PoolError.PoolError> = Either.left(unavailable)
      let probes = 0
      while (Either.isLeft(served)) {
        assert.strictEqual(served.left._tag, "PoolUnavailableError")
        yield* TestClock.adjust("10 seconds")
        const before = state.openAttempts
        served = yield* Effect.either(pool.use((connection) => Effect.succeed(connection.serial)))
        assert.strictEqual(state.openAttempts, before + 1, "exactly one probe per interval")
        probes++
      }
      assert.strictEqual(probes, 11)
      assert.strictEqual(state.openAttempts, 21)
      assert.strictEqual(Either.getOrUndefined(served), 1)
      assert.strictEqual((yield* pool.stats).openFailures, 20)
    }))

  it.scoped("without openRetry or a breaker, a failed open with nothing open fails waiters at once (the default)", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failFirst = 1
      const pool = yield* ConnectionPool.make(connector)
      const first = yield* Effect.either(pool.use(() => Effect.void))
      assert.strictEqual((first as Either.Left<PoolError.PoolError, void>).left._tag, "ConnectionError")
      assert.isTrue(Either.isRight(yield* Effect.either(pool.use(() => Effect.void))))
    }))
})
