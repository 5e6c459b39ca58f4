/**
 * Borrowing and giving back: what a borrower gets, waiting for a connection (connectionTimeout, maxWaiting),
 * borrowers interrupted at any point, resizing a live pool, and pools provided as layers.
 */
import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, Connector } from "@connection-pool/core"
import {
  Edge,
  eventually,
  holdOne,
  idsOf,
  it,
  makeTestConnector,
  makeTestPool,
  TestClock
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"

describe("borrowing", () => {
  it.scoped("use lends a connection, runs the effect and returns the connection", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool()
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
      const { pool } = yield* makeTestPool({ maxConnections: 2 })
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
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
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
      const { pool, state } = yield* makeTestPool()
      yield* pool.use((_, handle) => handle.invalidate)
      assert.strictEqual(state.closed, 1)
      assert.deepStrictEqual(yield* idsOf(pool), [])
      const serial = yield* pool.use((connection) => Effect.succeed(connection.serial))
      assert.strictEqual(serial, 2)
    }))

  it.scoped("a connection found closed when returned is retired", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool()
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
      const { pool } = yield* makeTestPool()
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
          const borrowers = yield* Edge.fork(Effect.forEach(
            Array.from({ length: 1000 }, (_, i) => i),
            (i) =>
              pool.use((connection) =>
                Effect.gen(function*() {
                  lent++
                  peakLent = Math.max(peakLent, lent)
                  if (lentSerials.has(connection.serial)) crossings++
                  lentSerials.add(connection.serial)
                  yield* Deferred.await(saturated)
                  yield* Edge.yieldNow
                  lentSerials.delete(connection.serial)
                  lent--
                  return i
                })
              ),
            { concurrency: "unbounded" }
          ))
          yield* eventually(() => Effect.map(pool.stats, (s) => s.inUse === 10 && s.waiting === 990))
          for (let i = 0; i < 100; i++) yield* Edge.yieldNow
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

describe("waiting: connectionTimeout and maxWaiting", () => {
  it.scoped("a waiter times out after exactly connectionTimeout", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1, connectionTimeout: "30 seconds" })
      yield* holdOne(pool)
      const waiter = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      yield* TestClock.adjust(Duration.millis(29_999))
      assert.isTrue(Option.isNone(yield* Edge.poll(waiter)), "gave up before connectionTimeout")
      yield* TestClock.adjust(Duration.millis(1))
      const result = yield* Fiber.join(waiter)
      assert.isTrue(Edge.isFailure(result))
      const error = Edge.failureOf(result)!
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
      const { pool } = yield* makeTestPool()
      assert.strictEqual(pool.maxConnections, 10)
      assert.isTrue(Duration.equals(pool.connectionTimeout, Duration.seconds(30)))
      for (let i = 0; i < 10; i++) yield* holdOne(pool)
      const waiter = yield* Edge.fork(Effect.exit(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      yield* TestClock.adjust("29999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(waiter)))
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.join(waiter)
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.scoped("with maxWaiting borrowers waiting, the next one is refused at once with PoolExhaustedError", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1, maxWaiting: 2 })
      yield* holdOne(pool)
      const waiters = yield* Effect.forEach([1, 2], () => Edge.fork(Edge.outcome(pool.use(() => Effect.void))))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 2))
      // the clock never moves: refused at once, not at its timeout
      const refused = yield* Edge.outcome(pool.use(() => Effect.void))
      assert.isTrue(Edge.isFailure(refused))
      const error = Edge.failureOf(refused)! as PoolError.PoolExhaustedError
      assert.strictEqual(error._tag, "PoolExhaustedError")
      assert.strictEqual(error.reason, "TooManyWaiting")
      assert.strictEqual(error.maxWaiting, 2)
      assert.strictEqual((yield* pool.stats).waiting, 2)
      yield* Effect.forEach(waiters, Fiber.interrupt, { discard: true })
      assert.strictEqual((yield* pool.stats).waiting, 0)
    }))
})

describe("interruption", () => {
  it.scoped("a borrower interrupted while waiting leaves the pool as it was", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
      const holder = yield* holdOne(pool)
      const permitsBefore = yield* pool.availablePermits
      const activeBefore = yield* pool.activeConnections
      const waiter = yield* Edge.fork(pool.use(() => Effect.void))
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
      const { pool } = yield* makeTestPool({ maxConnections: 3 })
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
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
      const holder = yield* holdOne(pool)
      const waiter = yield* Edge.fork(pool.use(() => Effect.void).pipe(Effect.timeout("1 second"), Edge.outcome))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 1))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(waiter)
      assert.isTrue(Edge.isFailure(result))
      // Effect's own timeout error (Effect 3: TimeoutException; Effect 4: TimeoutError)
      assert.isTrue(Edge.isTimeoutError(Edge.failureOf(result)), String(Edge.failureOf(result)))
      const stats = yield* pool.stats
      assert.strictEqual(stats.waiting, 0)
      assert.strictEqual(stats.timeouts, 0)
      yield* Fiber.interrupt(holder.fiber)
      assert.strictEqual(yield* pool.availablePermits, 1)
      assert.strictEqual(yield* pool.use((_, h) => Effect.succeed(h.id)), holder.id)
    }))

  it.scoped("get in a scope that is interrupted returns the connection", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ maxConnections: 1 })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Edge.fork(
        Effect.scoped(Effect.andThen(pool.get, Effect.andThen(Deferred.succeed(started, undefined), Effect.never)))
      )
      yield* Deferred.await(started)
      assert.strictEqual(yield* pool.availablePermits, 0)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* pool.availablePermits, 1)
      assert.strictEqual((yield* pool.connections)[0]!.errorCount, 0)
    }))
})

describe("resizing a live pool", () => {
  it.scoped("growing a live pool serves its waiters with new connections at once", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ maxConnections: 1 })
      yield* holdOne(pool)
      const waiters = yield* Effect.forEach([1, 2], () =>
        Edge.fork(pool.use((connection) => Effect.succeed(connection.serial))))
      yield* eventually(() =>
        Effect.map(pool.stats, (s) => s.waiting === 2)
      )
      yield* pool.resize({ maxConnections: 3 })
      assert.strictEqual(pool.maxConnections, 3)
      const served = yield* Effect.forEach(waiters, Fiber.join)
      assert.isTrue(served.every((serial) => serial > 1))
      // one open per waiter; the second may still be in flight once both are served (Effect 4 starts forked fibers
      // later than Effect 3, and the first new connection can serve both short loans in turn)
      yield* eventually(() => state.opened === 3, "an open for each waiter")
      assert.strictEqual(state.opened, 3)
      assert.strictEqual((yield* pool.stats).maxConnections, 3)
    }))

  it.scoped("shrinking closes idle connections now and lent ones when they come back, never taken from a borrower", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ maxConnections: 5, minConnections: 5 })
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
      const { pool } = yield* makeTestPool({ maxConnections: 4 })
      const zero = yield* Effect.flip(pool.resize({ maxConnections: 0 }))
      assert.deepStrictEqual(zero.fields, ["maxConnections"])
      const inverted = yield* Effect.flip(pool.resize({ minConnections: 5 }))
      assert.deepStrictEqual(inverted.fields, ["minConnections"])
      assert.strictEqual(pool.maxConnections, 4)
    }))
})

describe("layers", () => {
  it.effect("a program can hold several pools of different connection types, each with its own tag", () =>
    Effect.gen(function*() {
      class Numbers extends Edge.Service<Numbers, ConnectionPool.ConnectionPool<number>>()("test/Numbers") {}
      class Words extends Edge.Service<Words, ConnectionPool.ConnectionPool<string>>()("test/Words") {}
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
