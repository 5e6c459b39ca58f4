import type { PoolError } from "@connection-pool/core"
import { Connector, KeyedConnectionPool } from "@connection-pool/core"
import { Edge, eventually, it, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Scope } from "effect"

/** Connections that know their key, with counters per key. */
const makeKeyedConnector = () => {
  const opened = new Map<string, number>()
  const open = new Map<string, number>()
  const closed: Array<string> = []
  const connector = (key: string) =>
    Connector.make({
      open: Effect.acquireRelease(
        Effect.sync(() => {
          opened.set(key, (opened.get(key) ?? 0) + 1)
          open.set(key, (open.get(key) ?? 0) + 1)
          return { key, serial: opened.get(key)! }
        }),
        (connection) =>
          Effect.sync(() => {
            open.set(connection.key, open.get(connection.key)! - 1)
            closed.push(connection.key)
          })
      )
    })
  return { connector, opened, open, closed }
}

/** Holds a connection of `key` until the returned fiber is interrupted. */
const hold = <A>(pools: KeyedConnectionPool.KeyedConnectionPool<string, A>, key: string) =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<void>()
    return yield* Effect.forkScoped(
      pools.use(key, () => Effect.andThen(Deferred.succeed(lent, undefined), Effect.never))
    )
      .pipe(Effect.tap(() => Deferred.await(lent)))
  })

describe("KeyedConnectionPool", () => {
  it.scoped("each key has its own pool, made on first use, with maxConnections per key", () =>
    Effect.gen(function*() {
      const { connector, opened } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, { maxConnections: 2 })
      assert.deepStrictEqual(yield* pools.keys, [])
      assert.strictEqual(yield* pools.use("a", (c) => Effect.succeed(c.key)), "a")
      assert.strictEqual(yield* pools.use("b", (c) => Effect.succeed(c.key)), "b")
      assert.sameMembers([...(yield* pools.keys)], ["a", "b"])
      yield* hold(pools, "a")
      yield* hold(pools, "a")
      const third = yield* Edge.fork(pools.use("a", () => Effect.void))
      yield* eventually(() =>
        Effect.map(pools.stats, (all) => all.some(([key, stats]) => key === "a" && stats.waiting === 1))
      )
      assert.strictEqual(opened.get("a"), 2, "key a is bounded by maxConnections")
      assert.strictEqual(yield* pools.use("b", (c) => Effect.succeed(c.key)), "b", "key b is not held up by key a")
      yield* Fiber.interrupt(third)
      const names = (yield* pools.stats).map(([, stats]) => stats.name)
      assert.sameMembers(names, ["connection-pool:a", "connection-pool:b"])
    }))

  it.scoped("concurrency applies per key: each key's connections carry up to that many borrowers", () =>
    Effect.gen(function*() {
      const { connector, opened } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, { maxConnections: 2, concurrency: 3, maxTotal: 3 })
      // each key's pool made before the holders, so that the test's scope interrupts them before closing it
      yield* pools.use("a", () => Effect.void)
      yield* pools.use("b", () => Effect.void)
      yield* Effect.forEach([1, 2, 3, 4], () => hold(pools, "a"))
      yield* Effect.forEach([1, 2, 3], () => hold(pools, "b"))
      assert.strictEqual(opened.get("a"), 2, "4 borrowers of key a share 2 connections")
      assert.strictEqual(opened.get("b"), 1, "3 borrowers of key b share 1")
      const stats = new Map(yield* pools.stats)
      assert.strictEqual(stats.get("a")!.loans, 4)
      assert.strictEqual(stats.get("a")!.inUse, 2)
      assert.strictEqual(stats.get("b")!.loans, 3)
      assert.strictEqual(stats.get("b")!.concurrency, 3)
    }))

  it.scoped("maxTotal bounds the connections open across keys; with every one lent, an open beyond it waits", () =>
    Effect.gen(function*() {
      const { connector, opened } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, {
        maxConnections: 2,
        maxTotal: 2,
        openTimeout: "5 seconds",
        keyIdleTimeout: "1 minute"
      })
      const a1 = yield* hold(pools, "a")
      yield* hold(pools, "a")
      assert.strictEqual(yield* pools.totalConnections, 2)
      // key b cannot open while key a holds the total, lent (never taken): after openTimeout it hears so
      const b = yield* Edge.fork(Edge.outcome(pools.use("b", () => Effect.void)))
      yield* TestClock.adjust("5 seconds")
      const failed = yield* Fiber.join(b)
      const error = Edge.failureOf(failed)! as PoolError.ConnectionError
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "OpenTimedOut")
      assert.isFalse(opened.has("b"))
      // one of key a's connections comes back, idle: key b closes it to make room
      yield* Fiber.interrupt(a1)
      yield* TestClock.adjust("50 millis") // the pause after b's failed open
      const served = yield* pools.use("b", (c) => Effect.succeed(c.key))
      assert.strictEqual(served, "b")
      assert.strictEqual(yield* pools.totalConnections, 2)
    }))

  it.scoped("at maxTotal, a key that needs a connection closes the oldest idle one of another key, without waiting", () =>
    Effect.gen(function*() {
      const { closed, connector, open } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, {
        maxTotal: 3,
        openTimeout: "30 seconds",
        keyIdleTimeout: "1 hour"
      })
      // a: one lent, one idle (used at 0 s); c: one idle (used at 1 s)
      const holder = yield* hold(pools, "a")
      yield* pools.use("a", () => Effect.void)
      yield* TestClock.adjust("1 second")
      yield* pools.use("c", () => Effect.void)
      assert.strictEqual(yield* pools.totalConnections, 3)
      // the clock does not move: a wait for a connection to close would not end
      const b = yield* Edge.fork(pools.use("b", (connection) => Effect.succeed(connection.key)))
      yield* eventually(() => Effect.map(Edge.poll(b), Option.isSome), "key b to be served")
      assert.strictEqual(yield* Fiber.join(b), "b")
      // a's idle connection (the oldest idle) made room; a's lent one and c's younger one are untouched
      assert.deepStrictEqual(closed, ["a"])
      assert.deepStrictEqual([open.get("a"), open.get("b"), open.get("c")], [1, 1, 1])
      const stats = new Map(yield* pools.stats)
      assert.strictEqual(stats.get("a")!.closedByReason.evicted, 1)
      assert.strictEqual(stats.get("a")!.inUse, 1)
      assert.strictEqual(yield* pools.totalConnections, 3)
      // a's pool was made inside the holder's fiber: its scope closes before that fiber would be interrupted
      yield* Fiber.interrupt(holder)
    }))

  it.scoped("a key unused for keyIdleTimeout is closed and forgotten; the next borrow makes it anew", () =>
    Effect.gen(function*() {
      const { closed, connector, opened } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, { keyIdleTimeout: "1 minute" })
      yield* pools.use("a", () => Effect.void)
      yield* TestClock.adjust("30 seconds")
      yield* pools.use("b", () => Effect.void)
      yield* TestClock.adjust("30 seconds") // a: 60 s idle, b: 30 s
      yield* eventually(() => closed.includes("a"))
      assert.deepStrictEqual(yield* pools.keys, ["b"])
      assert.deepStrictEqual(closed, ["a"])
      yield* TestClock.adjust("30 seconds")
      yield* eventually(() => closed.includes("b"))
      assert.deepStrictEqual(yield* pools.keys, [])
      yield* pools.use("a", () => Effect.void)
      assert.strictEqual(opened.get("a"), 2)
    }))

  it.scoped("a key that holds a lent connection is not idle", () =>
    Effect.gen(function*() {
      const { closed, connector } = makeKeyedConnector()
      const pools = yield* KeyedConnectionPool.make(connector, { keyIdleTimeout: "1 minute" })
      const holder = yield* hold(pools, "a")
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(closed, [])
      // a's pool was made inside the holder's fiber: its scope closes before that fiber would be interrupted
      yield* Fiber.interrupt(holder)
      yield* TestClock.adjust("1 minute")
      yield* eventually(() => closed.length === 1)
    }))

  it.effect("bad options fail construction naming the field, keyed ones included", () =>
    Effect.gen(function*() {
      const { connector } = makeKeyedConnector()
      const error = yield* Effect.flip(Effect.scoped(
        KeyedConnectionPool.make(connector, {
          maxConnections: 0,
          maxTotal: -1,
          keyIdleTimeout: "never" as Edge.DurationInput
        })
      ))
      assert.strictEqual(error._tag, "InvalidPoolOptions")
      assert.sameMembers([...(error as PoolError.InvalidPoolOptions).fields], [
        "maxConnections",
        "maxTotal",
        "keyIdleTimeout"
      ])
    }))

  it.effect("a keyIdleTimeout above 2^31-1 ms is rejected (the sweep would never wake); infinity is accepted", () =>
    Effect.gen(function*() {
      const { connector } = makeKeyedConnector()
      for (const keyIdleTimeout of ["30 days", 2 ** 31, Duration.days(25)] as const) {
        const error = yield* Effect.flip(Effect.scoped(KeyedConnectionPool.make(connector, { keyIdleTimeout })))
        assert.strictEqual(error._tag, "InvalidPoolOptions")
        const invalid = error as PoolError.InvalidPoolOptions
        assert.deepStrictEqual(invalid.fields, ["keyIdleTimeout"])
        assert.deepStrictEqual(invalid.issues[0]!.value, keyIdleTimeout)
        assert.include(invalid.message, "at most 2^31-1 ms")
      }
      const longest = yield* Effect.scoped(KeyedConnectionPool.make(connector, { keyIdleTimeout: 2 ** 31 - 1 }))
      assert.deepStrictEqual(yield* longest.keys, [])
    }))

  it.scoped("with an infinite keyIdleTimeout a key is never closed for idleness", () =>
    Effect.gen(function*() {
      const { closed, connector, opened } = makeKeyedConnector()
      // a daily tick and no staleness, so that 24 days pass in a few steps and the connection stays
      const pools = yield* KeyedConnectionPool.make(connector, {
        keyIdleTimeout: Duration.infinity,
        healthCheckInterval: "1 day",
        staleAfter: Duration.infinity
      })
      yield* pools.use("a", () => Effect.void)
      yield* TestClock.adjust("24 days")
      assert.deepStrictEqual(yield* pools.keys, ["a"])
      assert.deepStrictEqual(closed, [])
      yield* pools.use("a", () => Effect.void)
      assert.strictEqual(opened.get("a"), 1)
    }))

  it.effect("closing the keyed pool closes every key's connections; later borrowers are refused", () =>
    Effect.gen(function*() {
      const { connector, open } = makeKeyedConnector()
      const scope = yield* Scope.make()
      const pools = yield* Edge.inScope(KeyedConnectionPool.make(connector), scope)
      yield* pools.use("a", () => Effect.void)
      yield* pools.use("b", () => Effect.void)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(open.get("a"), 0)
      assert.strictEqual(open.get("b"), 0)
      const refused = yield* Edge.outcome(pools.use("a", () => Effect.void))
      assert.strictEqual(
        Edge.failureOf(refused)?._tag,
        "PoolClosedError"
      )
    }))
})
