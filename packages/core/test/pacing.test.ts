/**
 * Opens under load and failure (issue 16, items 3 and 6): `maxConnecting` bounds the opens in flight, and
 * reconnect pacing spaces out opens while they fail, so borrowers that retry do not make a storm of opens
 * against a server that is down.
 */
import { ConnectionPool, type Connector, type PoolError } from "@connection-pool/core"
import {
  Edge,
  eventually,
  it,
  makeTestConnector,
  makeTestPool,
  TestClock,
  type TestConnection
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"

/** The pause after `failures` failed opens in a row, before its jitter (which takes off up to half). */
const pause = (failures: number) => Math.min(500, 50 * 2 ** (failures - 1))

const borrow = (pool: ConnectionPool.ConnectionPool<TestConnection>) =>
  Edge.outcome(pool.use((connection) => Effect.succeed(connection.serial)))

describe("maxConnecting", () => {
  /** Opens that take 300 ms of the clock. */
  const slow = (): { connector: Connector.Connector<TestConnection, unknown>; started: () => number } => {
    const { connector } = makeTestConnector()
    let started = 0
    const open = Effect.sync(() => started++).pipe(
      Effect.andThen(Effect.sleep("300 millis")),
      Effect.andThen(connector.open)
    )
    return { connector: { ...connector, open }, started: () => started }
  }

  for (const maxConnecting of [undefined, 1, 5] as const) {
    it.scoped(`bounds the opens in flight at once (${maxConnecting ?? "default 2"})`, () =>
      Effect.gen(function*() {
        const { connector, started } = slow()
        const pool = yield* ConnectionPool.make(connector, { maxConnections: 20, maxConnecting })
        const borrowers = yield* Edge.fork(Effect.forEach(Array.from({ length: 10 }), () => borrow(pool), {
          concurrency: "unbounded"
        }))
        yield* eventually(() => Effect.map(pool.stats, (stats) => stats.waiting === 10))
        // the opens have started (each sleeps 300 ms inside the connector's open), none has ended
        yield* Effect.repeat(Edge.yieldNow, { times: 100 })
        assert.strictEqual(started(), maxConnecting ?? 2)
        yield* TestClock.adjust("10 seconds")
        const results = yield* Fiber.join(borrowers)
        assert.isTrue(results.every(Edge.isSuccess))
      }))
  }
})

describe("reconnect pacing", () => {
  it.scoped("while opens fail, each waits a growing, jittered, capped pause; a borrower in it fails at once", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ name: "p" }, (state) => {
        state.failOpen = true
      })
      let result = yield* borrow(pool)
      assert.strictEqual(Edge.failureOf(result)!._tag, "ConnectionError")
      for (let failures = 1; failures <= 8; failures++) {
        assert.strictEqual(state.openAttempts, failures)
        // within the pause (less than half of it has passed): borrowers fail at once, with no new attempt
        yield* TestClock.adjust(pause(failures) / 2 - 1)
        for (let i = 0; i < 3; i++) {
          result = yield* borrow(pool)
          const error = Edge.failureOf(result)! as PoolError.ConnectionError
          assert.strictEqual(error._tag, "ConnectionError")
          assert.strictEqual(error.reason, "OpenFailed")
        }
        assert.strictEqual(state.openAttempts, failures, `an open during pause ${failures}`)
        // once the whole pause has passed, the next borrower's arrival makes one attempt
        yield* TestClock.adjust(pause(failures) / 2 + 1)
        result = yield* borrow(pool)
        assert.isTrue(Edge.isFailure(result))
        assert.strictEqual(state.openAttempts, failures + 1)
      }
      // capped: 8 failures in about 2.5 s of failing, not one per borrower (27 borrowers came)
      assert.strictEqual((yield* pool.stats).openFailures, 9)
      assert.strictEqual((yield* pool.stats).timeouts, 0)
      // the server returns: served after at most the capped pause
      state.failOpen = false
      yield* TestClock.adjust(500)
      assert.deepStrictEqual(yield* borrow(pool), Edge.succeeded(1))
      // a success resets the pause: after the next failure, the first pause is short again
      yield* pool.use((_, handle) => handle.invalidate)
      state.failOpen = true
      yield* eventually(() => Effect.map(pool.stats, (stats) => stats.total === 0))
      assert.isTrue(Edge.isFailure(yield* borrow(pool)))
      const attempts = state.openAttempts
      state.failOpen = false
      yield* TestClock.adjust(pause(1))
      assert.deepStrictEqual(yield* borrow(pool), Edge.succeeded(2))
      assert.strictEqual(state.openAttempts, attempts + 1)
    }))

  it.scoped("with minConnections and the server down, opens are paced by the pause alone (no borrower needed)", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({ minConnections: 1, healthCheckInterval: "1 hour" }, (state) => {
        state.failOpen = true
      })
      yield* eventually(() => state.openAttempts === 1)
      // 10 seconds down: pauses of at most 500 ms after the first few, so about 20 to 40 attempts, not a loop
      for (let i = 0; i < 100; i++) yield* TestClock.adjust("100 millis")
      assert.isAtLeast(state.openAttempts, 20)
      assert.isAtMost(state.openAttempts, 45)
      state.failOpen = false
      yield* TestClock.adjust("500 millis")
      yield* eventually(() => Effect.map(pool.stats, (stats) => stats.total === 1))
    }))

  it.scoped("openRetry still schedules retries for waiting borrowers on top of the pause", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
        openRetry: Schedule.spaced("1 second"),
        connectionTimeout: "10 seconds"
      }, (state) => {
        state.failFirst = 3
      })
      const waiter = yield* Edge.fork(borrow(pool))
      yield* eventually(() => state.openAttempts === 1)
      // retries one second apart (longer than the pause): the waiter waits through them
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(state.openAttempts, 1)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => state.openAttempts === 2)
      yield* TestClock.adjust("1 second")
      yield* eventually(() => state.openAttempts === 3)
      yield* TestClock.adjust("1 second")
      const served = yield* Fiber.join(waiter)
      assert.deepStrictEqual(served, Edge.succeeded(1))
    }))
})
