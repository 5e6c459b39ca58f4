/**
 * Closing a pool: waiters fail, lent connections get shutdownTimeout to come back, every connection is closed once,
 * whether the pool was built in a scope or as a layer.
 */
import type { PoolError } from "@connection-pool/core"
import { ConnectionPool } from "@connection-pool/core"
import { eventually, holdOne, makeTestConnector, type TestConnection } from "@connection-pool/test-kit"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Exit, Fiber, Option, Scope, TestClock } from "effect"

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

  it.effect("releasing a layer closes every connection exactly once", () =>
    Effect.gen(function*() {
      class TestPool extends Context.Tag("test/TestPool")<TestPool, ConnectionPool.ConnectionPool<TestConnection>>() {}
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
