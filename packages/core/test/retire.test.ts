/**
 * The retire decision at each occasion (health.ts `retireReason`): regression tests for three paths that
 * asked it with the wrong rules while the core was being split into parts (found in review).
 */
import { ConnectionPool } from "@connection-pool/core"
import { Edge, eventually, it, makeTestConnector, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"

describe("the retire decision", () => {
  it.scoped("a new connection is judged only by the pool's state: with unhealthyScore 100 each borrower is served", () =>
    Effect.gen(function*() {
      // A score of 100 is at unhealthyScore 100: every connection is unhealthy by the options. It is still
      // lent once (opened for the waiter), then retired when it comes back, and no open is wasted.
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, unhealthyScore: 100 })
      for (let borrow = 1; borrow <= 3; borrow++) {
        assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), borrow)
      }
      yield* eventually(() => state.closed === 3)
      const stats = yield* pool.stats
      assert.strictEqual(stats.created, 3)
      assert.strictEqual(stats.closedByReason.unhealthy, 3)
      assert.strictEqual(state.openAttempts, 3, "one open per borrower, none spun")
    }))

  it.effect("a check cut short by the pool's close retires its connection; a waiter hears the pool closed", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(
        ConnectionPool.make(connector, { maxConnections: 1, minConnections: 1, healthCheckInterval: "1 second" }),
        scope
      )
      yield* eventually(() => state.opened === 1)
      state.connections[0]!.checkGate = yield* Deferred.make<void>() // the check hangs
      yield* TestClock.adjust("1 second")
      yield* eventually(() => Effect.map(pool.connections, (cs) => cs[0]?.state === "checking"))
      const waiter = yield* Edge.fork(pool.use(() => Effect.void))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiter)
      assert.isTrue(Exit.isFailure(exit), "the waiter was lent the half-checked connection")
      assert.deepStrictEqual(
        Exit.isFailure(exit) ? Edge.soleFailure(exit.cause)?._tag : undefined,
        "PoolClosedError"
      )
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual((yield* pool.stats).closedByReason.shutdown, 1)
    }))

  it.scoped("the lifetime sweep wakes for a connection kept by minConnections when its lifetime ends", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, {
        maxConnections: 2,
        minConnections: 1,
        idleTimeout: "10 minutes",
        maxLifetime: "15 minutes",
        healthCheckInterval: "1 hour"
      })
      // two connections, both idle from now on
      const hold = yield* Deferred.make<void>()
      const holders = yield* Edge.fork(
        Effect.all([pool.use(() => Deferred.await(hold)), pool.use(() => Deferred.await(hold))], { concurrency: 2 })
      )
      yield* eventually(() => state.opened === 2)
      yield* Deferred.succeed(hold, undefined)
      yield* Fiber.join(holders)
      assert.strictEqual(state.opened, 2)
      yield* TestClock.adjust("10 minutes")
      yield* eventually(() => state.closed === 1) // idle too long, above minConnections
      assert.strictEqual((yield* pool.stats).closedByReason["idle-timeout"], 1)
      // The other is kept by minConnections; its lifetime ends before 15 minutes (less up to 2.5% jitter).
      yield* TestClock.adjust("5 minutes")
      // (the clock is not moved further: the sweep must have woken for this lifetime by itself)
      yield* eventually(() => Effect.map(pool.stats, (s) => s.closedByReason.expired === 1))
      assert.strictEqual(state.closed, 2)
    }))
})
