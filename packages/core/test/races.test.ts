/**
 * Interleavings found in review: work that takes time (a finalizer, an open) overlapping borrowers,
 * sweeps and shutdown.
 */
import { ConnectionPool } from "@connection-pool/core"
import { Edge, eventually, it, makeTestConnector, makeTestPool, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"

describe("races", () => {
  it.scoped("a sweep never closes a connection that was lent while an earlier one was closing", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
        minConnections: 2,
        staleAfter: "1 minute",
        healthCheckInterval: "1 hour"
      })
      yield* eventually(() => state.connections.length === 2)
      yield* TestClock.adjust("1 minute") // both are stale now
      state.closeGate = yield* Deferred.make<void>()
      const sweep = yield* Edge.fork(pool.cleanUpStale) // blocks closing the first one
      yield* eventually(() => Effect.map(pool.connections, (cs) => cs.some((c) => c.state === "closing")))
      const lent = yield* Deferred.make<number>()
      const release = yield* Deferred.make<void>()
      const borrower = yield* Edge.fork(
        pool.use((connection) =>
          Deferred.succeed(lent, connection.serial).pipe(
            Effect.andThen(Deferred.await(release)),
            Effect.as(connection)
          )
        )
      )
      const serial = yield* Deferred.await(lent)
      yield* Deferred.succeed(state.closeGate, undefined)
      assert.strictEqual(yield* Fiber.join(sweep), 1, "only the connection still idle was retired")
      const borrowed = state.connections.find((c) => c.serial === serial)!
      assert.isTrue(borrowed.open, "the sweep closed a connection its borrower still holds")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(borrower)
      assert.strictEqual(state.finalizerRuns.get(serial), undefined)
    }))

  it.scoped("a callback that throws while building its effect is a defect, and its connection goes back", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
      const exit = yield* Effect.exit(pool.use((): Effect.Effect<void> => {
        throw new Error("boom")
      }))
      assert.isTrue(Exit.isFailure(exit) && Option.isSome(Edge.causeOf(exit)))
      assert.strictEqual(yield* pool.availablePermits, 1)
      assert.strictEqual((yield* pool.stats).inUse, 0)
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection.serial)), 1)
    }))

  it.scoped("an open that hangs fails after openTimeout, and later opens are not blocked by it", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.openGate = yield* Deferred.make<void>() // never completed: opens hang, uninterruptibly
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(
        ConnectionPool.make(connector, { openTimeout: "5 seconds", connectionTimeout: "1 minute" }),
        scope
      )
      const waiter = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => state.openAttempts >= 1)
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(waiter)))
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(waiter)
      assert.isTrue(Edge.isFailure(result))
      const error = Edge.failureOf(result)!
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "OpenTimedOut")
      // the server answers again: the next borrower is served, though the hung opens never returned
      state.openGate = undefined
      yield* TestClock.adjust("50 millis") // the pause after a failed open
      assert.isTrue(yield* pool.use((connection) => Effect.succeed(connection.open)))
      // closing waits for the hung open at most openTimeout (the default shutdownTimeout is infinite)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(closing)
    }))

  it.effect("closing a pool whose opens hang uninterruptibly finishes once openTimeout has passed", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.openGate = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      yield* Edge.inScope(ConnectionPool.make(connector, { minConnections: 2 }), scope)
      yield* eventually(() => state.openAttempts === 2)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      // the default shutdownTimeout is infinite: the close waits for such opens up to openTimeout (30 s)
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(closing)))
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => Effect.map(Edge.poll(closing), Option.isSome))
    }))

  it.scoped("a waiter is not stranded when the last connection closes after a failed open", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ maxConnections: 2, connectionTimeout: "30 seconds" })
      const lent = yield* Deferred.make<void>()
      const giveBack = yield* Deferred.make<void>()
      const holder = yield* Edge.fork(pool.use((_, handle) =>
        Deferred.succeed(lent, undefined).pipe(
          Effect.andThen(Deferred.await(giveBack)),
          Effect.andThen(handle.invalidate) // it comes back broken
        )
      ))
      yield* Deferred.await(lent)
      state.failOpen = true
      const waiter = yield* Edge.fork(Edge.outcome(pool.use((connection) => Effect.succeed(connection.serial))))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.openFailures === 1 && s.waiting === 1))
      state.failOpen = false // the server is back
      yield* Deferred.succeed(giveBack, undefined)
      yield* Fiber.join(holder)
      // served by a fresh connection at once, not at its timeout (the clock does not move)
      const result = yield* Fiber.join(waiter)
      assert.deepStrictEqual(result, Edge.succeeded(2))
    }))

  it.effect("closing the pool ends only when every connection's finalizer has run", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(ConnectionPool.make(connector, { minConnections: 2 }), scope)
      yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 2))
      state.closeGate = yield* Deferred.make<void>()
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      for (let i = 0; i < 200; i++) yield* Edge.yieldNow
      assert.isTrue(Option.isNone(yield* Edge.poll(closing)), "closed before the finalizers finished")
      assert.strictEqual(state.closed, 0)
      yield* Deferred.succeed(state.closeGate, undefined)
      yield* Fiber.join(closing)
      assert.strictEqual(state.closed, 2)
    }))
})
