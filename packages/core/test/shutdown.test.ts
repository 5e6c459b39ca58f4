/**
 * Closing a pool: waiters fail, lent connections get shutdownTimeout to come back, every connection is closed once,
 * whether the pool was built in a scope or as a layer.
 */
import type { PoolError } from "@connection-pool/core"
import { ConnectionPool } from "@connection-pool/core"
import {
  Edge,
  eventually,
  holdOne,
  it,
  makeTestConnector,
  TestClock,
  type TestConnection
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"

describe("shutdown", () => {
  it.scoped("closing the pool's scope closes every connection exactly once and fails waiters with PoolClosedError", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(ConnectionPool.make(connector, { maxConnections: 3 }), scope)
      const holders = yield* Effect.forEach([1, 2, 3], () => holdOne(pool))
      const waiter = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      const result = yield* Fiber.join(waiter)
      assert.isTrue(Edge.isFailure(result))
      const error = Edge.failureOf(result)! as PoolError.PoolClosedError
      assert.strictEqual(error._tag, "PoolClosedError")
      assert.strictEqual(error.reason, "ClosedWhileWaiting")
      // a borrower that comes after the close is refused at once
      const late = yield* Edge.outcome(pool.use(() => Effect.void))
      assert.strictEqual(Edge.failureOf(late)!.reason, "PoolClosed")
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
      const pool = yield* Edge.inScope(ConnectionPool.make(connector, { shutdownTimeout: "5 seconds" }), scope)
      const lent = yield* Deferred.make<void>()
      // a borrower that never finishes on its own, in a fiber of its own
      const stuck = yield* Edge.forkDaemon(
        pool.use(() => Effect.andThen(Deferred.succeed(lent, undefined), Effect.never))
      )
      yield* Deferred.await(lent)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(closing)), "closed before shutdownTimeout")
      assert.isTrue(state.connections[0]!.open)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      assert.isTrue(Edge.isInterrupted(yield* Fiber.await(stuck)))
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual((yield* pool.stats).interruptedAtShutdown, 1)
    }))

  it.effect("a borrower that finishes within shutdownTimeout is not interrupted", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(ConnectionPool.make(connector, { shutdownTimeout: "5 seconds" }), scope)
      const lent = yield* Deferred.make<void>()
      const finishing = yield* Edge.forkDaemon(
        pool.use(() => Effect.andThen(Deferred.succeed(lent, undefined), Effect.as(Effect.sleep("2 seconds"), "done")))
      )
      yield* Deferred.await(lent)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual(yield* Fiber.join(finishing), "done")
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      assert.strictEqual((yield* pool.stats).interruptedAtShutdown, 0)
    }))

  it.effect("releasing a layer closes every connection exactly once", () =>
    Effect.gen(function*() {
      class TestPool extends Edge.Service<TestPool, ConnectionPool.ConnectionPool<TestConnection>>()("test/TestPool") {}
      const { connector, state } = makeTestConnector()
      yield* Effect.gen(function*() {
        const pool = yield* TestPool
        yield* eventually(() => Effect.map(pool.activeConnections, (n) => n === 4))
        yield* Effect.forEach([1, 2, 3, 4], () => pool.use(() => Edge.yieldNow), { concurrency: "unbounded" })
        assert.strictEqual(yield* pool.activeConnections, 4)
      }).pipe(Effect.provide(ConnectionPool.layer(TestPool, connector, { maxConnections: 4, minConnections: 4 })))
      assert.strictEqual(state.opened, 4)
      assert.deepStrictEqual([...state.finalizerRuns.values()], [1, 1, 1, 1])
      assert.strictEqual(state.open, 0)
    }))
})
