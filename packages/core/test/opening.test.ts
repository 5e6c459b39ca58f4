/**
 * Opening connections: warm-up and minConnections, and opening while the connector fails (backoff, the circuit
 * breaker, recovery).
 */
import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { Edge, eventually, it, makeTestConnector, makeTestPool, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Schedule } from "effect"

describe("warm-up and minConnections", () => {
  it.scoped("a large minConnections is filled completely (opens do not recurse)", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ maxConnections: 2000, minConnections: 2000 })
      yield* eventually(
        () => Effect.map(pool.activeConnections, (n) => n === 2000),
        "2,000 connections open",
        "30 seconds"
      )
      assert.strictEqual(state.opened, 2000)
      assert.strictEqual(state.peakOpen, 2000)
    }))

  it.scoped("with warmUp, the pool is built once minConnections are open", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 3, warmUp: true })
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
      const building = yield* Edge.fork(Effect.flip(Effect.scoped(ConnectionPool.make(connector, {
        minConnections: 1,
        warmUp: true,
        connectionTimeout: "10 seconds",
        openTimeout: "1 minute"
      }))))
      yield* eventually(() => state.openAttempts === 1)
      yield* TestClock.adjust("9999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(building)))
      yield* TestClock.adjust("1 millis")
      // the failed build closes the pool, which waits for the hung open up to openTimeout
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(building)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual((error as PoolError.ConnectionError).reason, "OpenTimedOut")
    }))

  it.scoped("without warmUp, the pool is built at once and minConnections open in the background", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      // Opens that take a second of the TestClock: building the pool must not wait for them.
      let started = 0
      const slowOpening = Connector.make({
        open: Effect.sync(() => started++).pipe(
          Effect.andThen(Effect.sleep("1 second")),
          Effect.andThen(connector.open)
        ),
        check: connector.check,
        isOpen: connector.isOpen
      })
      const pool = yield* ConnectionPool.make(slowOpening, { minConnections: 2 })
      assert.strictEqual(yield* pool.activeConnections, 0)
      assert.strictEqual(state.opened, 0)
      // With no borrower asking, both open in the background once their second has passed (counted from when
      // they started: Effect 4's TestClock.adjust, unlike Effect 3's, does not wait for every fiber to get there).
      yield* eventually(() => started === 2, "both opens under way")
      yield* TestClock.adjust("1 second")
      yield* eventually(
        () => Effect.map(pool.stats, (stats) => stats.total === 2),
        "minConnections open in the background"
      )
      assert.strictEqual(state.opened, 2)
      const stats = yield* pool.stats
      assert.strictEqual(stats.idle, 2)
      assert.strictEqual(stats.inUse, 0)
      assert.strictEqual(stats.waiting, 0)
    }))
})

describe("opening under failure: failing connector, backoff and circuit breaker", () => {
  it.scoped("a connector whose open fails gives every waiter a ConnectionError promptly", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failOpen = true
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 3 })
      // the clock never moves: a waiter that waited for connectionTimeout would hang this test
      const results = yield* Effect.forEach(
        [1, 2, 3, 4, 5, 6],
        () => Edge.outcome(pool.use(() => Effect.void)),
        { concurrency: "unbounded" }
      )
      for (const result of results) {
        assert.isTrue(Edge.isFailure(result))
        const error = Edge.failureOf(result)! as PoolError.ConnectionError
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
      // the server comes back: the pool serves again once the pause after the failed opens has passed
      state.failOpen = false
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.open)), true)
    }))

  it.scoped("with minConnections and the server down, opens are retried after a pause, not in a loop", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failOpen = true
      const pool = yield* ConnectionPool.make(connector, { minConnections: 2 })
      yield* eventually(() => state.openAttempts === 2)
      // a server that refuses at once is not asked again in a loop: the next try is after the pacing pause
      for (let i = 0; i < 1000; i++) yield* Edge.yieldNow
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
      // once the pause after the last failure has passed, the old failure is dropped and the open succeeds
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
    }))

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
      const waiter = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      // Attempts at 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s: the waiter waits through them...
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(waiter)))
      assert.strictEqual(state.openAttempts, 6)
      // ...and at connectionTimeout gets the last ConnectionError, not a bare timeout.
      yield* TestClock.adjust("1 millis")
      const failed = yield* Fiber.join(waiter)
      assert.isTrue(Edge.isFailure(failed))
      const error = Edge.failureOf(failed)! as PoolError.ConnectionError
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "OpenFailed")
      // The backoff goes on for minConnections: 6.3, 12.7, 25.5 and 51.1 s; the 10th failure opens the breaker.
      yield* TestClock.adjust("46099 millis") // t = 51.099 s
      assert.strictEqual(state.openAttempts, 9)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => state.openAttempts === 10)
      const refused = yield* Edge.outcome(pool.use(() => Effect.void))
      const unavailable = Edge.failureOf(refused)! as PoolError.PoolUnavailableError
      assert.strictEqual(unavailable._tag, "PoolUnavailableError")
      assert.strictEqual(unavailable.reason, "CircuitOpen")
      assert.strictEqual(unavailable.lastError?._tag, "ConnectionError")
      assert.strictEqual(state.openAttempts, 10, "the breaker lets no attempt through while open")
      // One probe per breakerResetAfter, let through by a borrower, until the server is back (attempt 21).
      let served: Edge.Outcome<number, PoolError.PoolError> = Edge.failed(unavailable)
      let probes = 0
      while (Edge.isFailure(served)) {
        assert.strictEqual(Edge.failureOf(served)!._tag, "PoolUnavailableError")
        yield* TestClock.adjust("10 seconds")
        const before = state.openAttempts
        served = yield* Edge.outcome(pool.use((connection) => Effect.succeed(connection.serial)))
        assert.strictEqual(state.openAttempts, before + 1, "exactly one probe per interval")
        probes++
      }
      assert.strictEqual(probes, 11)
      assert.strictEqual(state.openAttempts, 21)
      assert.strictEqual(Edge.successOf(served), 1)
      assert.strictEqual((yield* pool.stats).openFailures, 20)
    }))

  it.scoped("without openRetry or a breaker, a failed open with nothing open fails waiters at once (the default)", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failFirst = 1
      const pool = yield* ConnectionPool.make(connector)
      const first = yield* Edge.outcome(pool.use(() => Effect.void))
      assert.strictEqual(Edge.failureOf(first)!._tag, "ConnectionError")
      // the next open comes after the pause that follows a failed open (reconnect pacing, 50 ms after one failure)
      yield* TestClock.adjust("50 millis")
      assert.isTrue(Edge.isSuccess(yield* Edge.outcome(pool.use(() => Effect.void))))
    }))
})
