/**
 * Shared lending (issue 15): `concurrency` borrowers per connection at once, `targetUtilization`, and every
 * per-loan guarantee (release, invalidate, faults, leak reports, shutdownTimeout) with several borrowers on one
 * connection.
 */
import { ConnectionPool, type PoolError } from "@connection-pool/core"
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
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"

type Pool = ConnectionPool.ConnectionPool<TestConnection>

/** A borrower that holds its loan until told to end it; `serial` is the connection it was lent. */
const hold = (pool: Pool, api: "use" | "get" = "use") =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<
      { readonly serial: number; readonly handle: ConnectionPool.PooledConnection<TestConnection> }
    >()
    const end = yield* Deferred.make<"ok" | "fault" | "invalidate">()
    const body = (connection: TestConnection, handle: ConnectionPool.PooledConnection<TestConnection>) =>
      Effect.gen(function*() {
        yield* Deferred.succeed(lent, { serial: connection.serial, handle })
        const kind = yield* Deferred.await(end)
        if (kind === "invalidate") yield* handle.invalidate
        if (kind === "fault") return yield* Effect.fail(new QueryFailure({ retryable: false }))
      })
    // scoped: interrupted when the test's scope closes, before the pool's own finalizer waits for loans
    const fiber = yield* Effect.forkScoped(
      api === "use" ? pool.use(body) : Effect.scoped(Effect.flatMap(pool.get, (h) => body(h.connection, h)))
    )
    return { fiber, lent, end }
  })

const lentSerial = (borrower: Edge.Success<ReturnType<typeof hold>>) =>
  Effect.map(Deferred.await(borrower.lent), (l) => l.serial)

describe("shared lending: options", () => {
  const rejects = (options: ConnectionPool.Options, field: string) =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const error = yield* Effect.flip(Effect.scoped(ConnectionPool.make(connector, options)))
      assert.strictEqual(error._tag, "InvalidPoolOptions")
      assert.deepStrictEqual((error as PoolError.InvalidPoolOptions).fields, [field])
    })

  it.effect("concurrency must be a whole number of at least 1", () =>
    Effect.gen(function*() {
      for (const value of [0, -1, 2.5, NaN, Infinity]) yield* rejects({ concurrency: value }, "concurrency")
    }))

  it.effect("targetUtilization must be above 0 and at most 1", () =>
    Effect.gen(function*() {
      for (const value of [0, -0.5, 1.01, NaN, Infinity]) {
        yield* rejects({ targetUtilization: value }, "targetUtilization")
      }
    }))

  it.scoped("the defaults are 1 and 1: exclusive lending as before", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector)
      const stats = yield* pool.stats
      assert.strictEqual(stats.concurrency, 1)
      assert.notInclude(stats.summary, "loans")
    }))
})

describe("shared lending: lending", () => {
  it.scoped("borrowers spread over the least-loaded connections; each holds at most concurrency borrowers", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 3, concurrency: 4 })
      const borrowers = yield* Effect.forEach(Array.from({ length: 12 }), () => hold(pool))
      const serials = yield* Effect.forEach(borrowers, lentSerial)
      const perConnection = new Map<number, number>()
      for (const serial of serials) perConnection.set(serial, (perConnection.get(serial) ?? 0) + 1)
      assert.strictEqual(state.opened, 3)
      assert.deepStrictEqual([...perConnection.values()], [4, 4, 4])
      const stats = yield* pool.stats
      assert.strictEqual(stats.inUse, 3)
      assert.strictEqual(stats.loans, 12)
      assert.strictEqual(stats.utilization, 1)
      assert.strictEqual(yield* pool.availablePermits, 0)
      assert.deepStrictEqual((yield* pool.connections).map((c) => c.borrowers), [4, 4, 4])
      assert.include(stats.summary, "12 loans (up to 4 per connection)")
      // one returns on connection 2: the next borrower gets that room, the least-loaded
      const onTwo = borrowers.find((_, i) => serials[i] === 2)!
      yield* Deferred.succeed(onTwo.end, "ok")
      yield* Fiber.join(onTwo.fiber)
      const next = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(next), 2)
      yield* Effect.forEach([...borrowers, next], (b) => Deferred.succeed(b.end, "ok"))
      yield* Effect.forEach([...borrowers, next], (b) => Fiber.join(b.fiber))
      assert.strictEqual((yield* pool.stats).loans, 0)
    }))

  it.scoped("one connection open with room is shared before another is opened (targetUtilization 1)", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 5, concurrency: 3 })
      const borrowers = yield* Effect.forEach([1, 2, 3], () => hold(pool))
      assert.deepStrictEqual(yield* Effect.forEach(borrowers, lentSerial), [1, 1, 1])
      assert.strictEqual(state.opened, 1)
      const fourth = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(fourth), 2)
      assert.strictEqual(state.opened, 2)
    }))

  it.scoped("targetUtilization 0.5 opens another connection once half the capacity open is held", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 4, concurrency: 4, targetUtilization: 0.5 })
      const first = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(first), 1)
      const second = yield* hold(pool)
      yield* lentSerial(second)
      // 2 loans of 4 places on 1 connection: half held, another opens
      yield* eventually(() => state.opened === 2)
      const third = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(third), 2, "the new, idle connection is the least loaded")
      yield* Effect.forEach([first, second, third], (b) => Deferred.succeed(b.end, "ok"))
    }))

  it.scoped("at capacity, waiters are served first come, first served; maxWaiting still bounds them", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, concurrency: 2, maxWaiting: 2 })
      const holders = yield* Effect.forEach([1, 2], () => hold(pool))
      yield* Effect.forEach(holders, lentSerial)
      const waiters = yield* Effect.forEach([1, 2], () => hold(pool))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 2))
      const refused = yield* Effect.flip(pool.use(() => Effect.void))
      assert.strictEqual(refused._tag, "PoolExhaustedError")
      yield* Deferred.succeed(holders[1]!.end, "ok")
      yield* lentSerial(waiters[0]!)
      assert.isTrue(Option.isNone(yield* Deferred.poll(waiters[1]!.lent)), "the second waiter jumped the queue")
      yield* Deferred.succeed(holders[0]!.end, "ok")
      yield* lentSerial(waiters[1]!)
    }))

  it.scoped("each borrower has its own handle: one release does not end the others' loans", () =>
    Effect.gen(function*() {
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, concurrency: 2 })
      const a = yield* hold(pool, "get")
      const b = yield* hold(pool, "get")
      const handleA = (yield* Deferred.await(a.lent)).handle
      const handleB = (yield* Deferred.await(b.lent)).handle
      yield* handleA.release
      yield* handleA.release // twice: nothing more
      assert.strictEqual((yield* pool.stats).loans, 1)
      assert.throws(() => handleA.connection)
      assert.strictEqual(handleB.connection.serial, 1)
      yield* Effect.forEach([a, b], (x) => Deferred.succeed(x.end, "ok"))
      yield* Effect.forEach([a, b], (x) => Fiber.join(x.fiber))
      assert.strictEqual((yield* pool.stats).loans, 0)
    }))

  it.scoped("an invalidated shared connection takes no new borrower and closes when its last borrower returns", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 2, concurrency: 3 })
      const a = yield* hold(pool)
      const b = yield* hold(pool)
      assert.deepStrictEqual([yield* lentSerial(a), yield* lentSerial(b)], [1, 1])
      yield* Deferred.succeed(a.end, "invalidate")
      yield* Fiber.join(a.fiber)
      // b still holds connection 1: it stays open but lends no more
      assert.isTrue(state.connections[0]!.open)
      const c = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(c), 2)
      yield* Deferred.succeed(b.end, "ok")
      yield* Fiber.join(b.fiber)
      yield* eventually(() => state.finalizerRuns.get(1) === 1)
      assert.strictEqual((yield* pool.stats).closedByReason.invalidated, 1)
      yield* Deferred.succeed(c.end, "ok")
    }))

  it.scoped("a connection that breaks under several borrowers fails each, counts one fault, and is retired once", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, concurrency: 5, maxErrors: 2 })
      const borrowers = yield* Effect.forEach([1, 2, 3, 4, 5], () => hold(pool))
      yield* Effect.forEach(borrowers, lentSerial)
      assert.strictEqual((yield* pool.connections)[0]!.borrowers, 5)
      state.connections[0]!.open = false // the peer hung up
      yield* Effect.forEach(borrowers, (b) => Deferred.succeed(b.end, "fault"))
      const exits = yield* Effect.forEach(borrowers, (b) => Fiber.await(b.fiber))
      assert.isTrue(exits.every((exit) => Exit.isFailure(exit)))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.closed === 1))
      const stats = yield* pool.stats
      assert.strictEqual(stats.closedByReason.disconnected, 1)
      assert.strictEqual(state.finalizerRuns.get(1), 1)
      // and a new borrower gets a new connection
      const next = yield* hold(pool)
      assert.strictEqual(yield* lentSerial(next), 2)
      yield* Deferred.succeed(next.end, "ok")
    }))

  it.scoped("faults of borrowers that shared a connection count once against it", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, concurrency: 4, maxErrors: 2 })
      const together = yield* Effect.forEach([1, 2, 3, 4], () => hold(pool))
      yield* Effect.forEach(together, lentSerial)
      yield* Effect.forEach(together, (b) => Deferred.succeed(b.end, "fault"))
      yield* Effect.forEach(together, (b) => Fiber.await(b.fiber))
      const [info] = yield* pool.connections
      assert.strictEqual(info!.errorCount, 1)
      assert.strictEqual(info!.healthScore, 90)
      // a later, separate fault counts again: with maxErrors 2 the connection is retired
      const later = yield* hold(pool)
      yield* lentSerial(later)
      yield* Deferred.succeed(later.end, "fault")
      yield* Fiber.await(later.fiber)
      yield* eventually(() => state.finalizerRuns.get(1) === 1)
      assert.strictEqual((yield* pool.stats).closedByReason.unhealthy, 1)
    }))
})

describe("shared lending: health, leaks and shutdown", () => {
  it.effect("the health tick checks only connections nobody holds; a busy connection is not stale", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, {
        maxConnections: 2,
        concurrency: 2,
        healthCheckInterval: "1 second",
        staleAfter: "3 seconds"
      })
      const borrowers = yield* Effect.forEach([1, 2, 3], () => hold(pool))
      const serials = yield* Effect.forEach(borrowers, lentSerial)
      assert.deepStrictEqual([...serials].sort(), [1, 1, 2])
      // the borrower alone on connection 2 ends: connection 2 is idle, connection 1 busy
      const alone = borrowers[serials.indexOf(2)]!
      yield* Deferred.succeed(alone.end, "ok")
      yield* Fiber.join(alone.fiber)
      const checksBefore = state.checks
      yield* TestClock.adjust("1 second")
      yield* eventually(() => state.checks === checksBefore + 1)
      // past staleAfter: the idle one is stale, the busy one (still used, so never idle) is not
      yield* TestClock.adjust("4 seconds")
      yield* eventually(() => state.finalizerRuns.get(2) === 1)
      assert.isFalse(state.finalizerRuns.has(1))
      // connection 2 was checked at the ticks of 1 s and 2 s and retired as stale at 3 s; connection 1, held
      // throughout, at none of the five
      assert.strictEqual(state.checks, checksBefore + 2, "only the idle connection was checked")
    }).pipe(Effect.scoped))

  it.effect("leak detection reports each loan held too long, once, naming its own borrower", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Edge.makeLogger(({ message }) => {
        logs.push(message)
      })
      const { connector } = makeTestConnector()
      yield* Effect.gen(function*() {
        const pool = yield* ConnectionPool.make(connector, {
          maxConnections: 1,
          concurrency: 3,
          leakDetectionThreshold: "10 seconds"
        })
        const a = yield* hold(pool)
        yield* lentSerial(a)
        yield* TestClock.adjust("5 seconds")
        const b = yield* hold(pool)
        yield* lentSerial(b)
        yield* TestClock.adjust("6 seconds")
        yield* eventually(() => logs.filter((l) => l.includes("possible leak")).length === 1)
        yield* TestClock.adjust("5 seconds")
        yield* eventually(() => logs.filter((l) => l.includes("possible leak")).length === 2)
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(logs.filter((l) => l.includes("possible leak")).length, 2)
        yield* Effect.forEach([a, b], (x) => Deferred.succeed(x.end, "ok"))
      }).pipe(Effect.scoped, Edge.withLogger(logger))
    }))

  it.effect("shutdownTimeout is honoured per loan: every borrower still holding is interrupted", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      const scope = yield* Scope.make()
      const pool = yield* Edge.inScope(
        ConnectionPool.make(connector, { maxConnections: 2, concurrency: 3, shutdownTimeout: "5 seconds" }),
        scope
      )
      const stuck = yield* Effect.forEach([1, 2, 3, 4], () => hold(pool))
      yield* Effect.forEach(stuck, lentSerial)
      const finishing = yield* hold(pool)
      yield* lentSerial(finishing)
      const closing = yield* Edge.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("2 seconds")
      yield* Deferred.succeed(finishing.end, "ok")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(finishing.fiber)), "a borrower that returned in time")
      yield* TestClock.adjust("2999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(closing)))
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      for (const borrower of stuck) assert.isTrue(Edge.isInterrupted(yield* Fiber.await(borrower.fiber)))
      assert.strictEqual((yield* pool.stats).interruptedAtShutdown, 4)
      assert.deepStrictEqual([...state.finalizerRuns.values()], [1, 1])
      assert.strictEqual(state.open, 0)
    }).pipe(Effect.scoped))
})
