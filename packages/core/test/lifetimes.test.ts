/**
 * When a connection's time is up: maxLifetime (with jitter), timeToLive, and idleTimeout above minConnections.
 */
import { eventually, holdOne, idsOf, it, makeTestPool, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"

describe("lifetimes: maxLifetime with jitter, timeToLive, idleTimeout", () => {
  it.scoped("100 connections opened at once with maxLifetime 30 min expire spread over the jitter window", () =>
    Effect.gen(function*() {
      const { state } = yield* makeTestPool({
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
      const { pool, state } = yield* makeTestPool({ maxLifetime: "1 minute", healthCheckInterval: "1 day" })
      const holder = yield* holdOne(pool)
      yield* TestClock.adjust("2 minutes")
      assert.isTrue(state.connections[0]!.open, "taken from its borrower")
      yield* Fiber.interrupt(holder.fiber)
      assert.strictEqual(state.finalizerRuns.get(holder.id), 1)
      assert.strictEqual(yield* pool.activeConnections, 0)
    }))

  it.scoped("with timeToLiveStrategy creation, a connection is closed timeToLive after it opened", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
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

  it.scoped("idle connections above minConnections unused for idleTimeout are closed", () =>
    Effect.gen(function*() {
      const { pool, state } = yield* makeTestPool({
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
