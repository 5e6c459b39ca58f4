import { ConnectionPool, PoolEvent, PoolMetrics } from "@connection-pool/core"
import {
  Edge,
  eventually,
  holdOne,
  it,
  makeTestConnector,
  makeTestPool,
  QueryFailure,
  TestClock,
  type TestConnection
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope, Stream, Tracer } from "effect"

// Effect's metric registry is global: every test uses a pool name of its own.
const gauge = (metric: PoolMetrics.Gauge, pool: string) => Edge.gaugeValue(metric, { [PoolMetrics.poolLabel]: pool })

const count = (metric: PoolMetrics.Counter, pool: string) =>
  Edge.counterValue(metric, { [PoolMetrics.poolLabel]: pool })

const histogram = (metric: PoolMetrics.Histogram, pool: string) =>
  Edge.histogramState(metric, { [PoolMetrics.poolLabel]: pool })

const closedFor = (pool: string, reason: PoolEvent.CloseReason) =>
  Edge.counterValue(PoolMetrics.closed, { [PoolMetrics.poolLabel]: pool, [PoolMetrics.reasonLabel]: reason })

/** Borrows a connection in a fiber and holds it until that fiber is interrupted. */
const holdInFiber = (pool: ConnectionPool.ConnectionPool<TestConnection>) =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<TestConnection>()
    const fiber = yield* Edge.fork(
      pool.use((connection) => Deferred.succeed(lent, connection).pipe(Effect.andThen(Effect.never)))
    )
    return { fiber, connection: yield* Deferred.await(lent) }
  })

/**
 * Collects the pool's events in a fiber; `events` is filled as they arrive. Subscribes before returning,
 * so nothing the test does afterwards is missed.
 */
const recordEvents = (pool: ConnectionPool.ConnectionPool<TestConnection>) =>
  Effect.gen(function*() {
    const events: Array<PoolEvent.PoolEvent> = []
    const fiber = yield* Edge.fork(Stream.runForEach(pool.events, (event) => Effect.sync(() => events.push(event))))
    // the stream subscribes when its fiber first runs
    yield* Edge.yieldNow
    yield* Edge.yieldNow
    return { events, fiber }
  })

describe("metrics", () => {
  it.effect("gauges follow open, lent and waiting connections; histograms record wait, hold and open times", () =>
    Effect.gen(function*() {
      const name = "metrics-gauges"
      const scope = yield* Scope.make()
      const { pool } = yield* makeTestPool({ name, maxConnections: 2, metrics: true }).pipe(
        Edge.inScope(scope)
      )
      const first = yield* holdInFiber(pool)
      const second = yield* holdInFiber(pool)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsOpen, name), 2)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsInUse, name), 2)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsIdle, name), 0)

      const waiter = yield* Edge.fork(pool.use(() => Effect.void))
      yield* eventually(() => Effect.map(gauge(PoolMetrics.waiting, name), (waiting) => waiting === 1))
      // the waiter gets the first connection back after 2 seconds, uses it and returns it at once
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.interrupt(first.fiber)
      yield* Fiber.join(waiter)

      assert.strictEqual(yield* gauge(PoolMetrics.waiting, name), 0)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsInUse, name), 1)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsIdle, name), 1)
      assert.strictEqual(yield* count(PoolMetrics.opened, name), 2)

      const waits = yield* histogram(PoolMetrics.waitTime, name)
      // two borrowers got a fresh connection at once (the clock stood still), the third waited 2 s
      assert.strictEqual(waits.count, 3)
      assert.strictEqual(waits.sum, 2)
      assert.strictEqual(waits.max, 2)
      const holds = yield* histogram(PoolMetrics.holdTime, name)
      // the first borrower held its connection 2 s, the waiter no time; the second still holds its own
      assert.strictEqual(holds.count, 2)
      assert.strictEqual(holds.sum, 2)
      const opens = yield* histogram(PoolMetrics.openTime, name)
      assert.strictEqual(opens.count, 2)

      yield* Fiber.interrupt(second.fiber)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* gauge(PoolMetrics.connectionsOpen, name), 0)
      assert.strictEqual(yield* closedFor(name, "shutdown"), 2)
    }))

  it.effect("counters count timeouts, health checks and their failures", () =>
    Effect.gen(function*() {
      const name = "metrics-counters"
      const { pool } = yield* makeTestPool({
        name,
        maxConnections: 1,
        connectionTimeout: "1 second",
        metrics: true
      })
      const held = yield* holdInFiber(pool)
      const late = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(gauge(PoolMetrics.waiting, name), (waiting) => waiting === 1))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Edge.isFailure(yield* Fiber.join(late)))
      assert.strictEqual(yield* count(PoolMetrics.timeouts, name), 1)

      held.connection.healthy = false
      yield* Fiber.interrupt(held.fiber)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(yield* count(PoolMetrics.healthChecks, name), 1)
      assert.strictEqual(yield* count(PoolMetrics.healthCheckFailures, name), 1)
    }).pipe(Effect.scoped))

  it.effect("a connection that fails validation adds no wait or hold sample: one loan, one sample each", () =>
    Effect.gen(function*() {
      const name = "metrics-validation"
      const { pool, state } = yield* makeTestPool({ name, metrics: true, validateOnBorrow: true })
      yield* pool.use(() => Effect.void)
      state.connections[0]!.healthy = false
      yield* TestClock.adjust("1 second") // past the validation window
      // the first connection fails its check and is retired; the borrower gets a new one
      const serial = yield* pool.use((connection) => Effect.succeed(connection.serial))
      assert.strictEqual(serial, 2)
      assert.strictEqual((yield* histogram(PoolMetrics.waitTime, name)).count, 2)
      assert.strictEqual((yield* histogram(PoolMetrics.holdTime, name)).count, 2)
      assert.strictEqual(yield* closedFor(name, "validation-failed"), 1)
    }).pipe(Effect.scoped))

  it.effect("records nothing unless asked to", () =>
    Effect.gen(function*() {
      const name = "metrics-off"
      const { pool } = yield* makeTestPool({ name })
      yield* pool.use(() => Effect.void)
      assert.strictEqual(yield* count(PoolMetrics.opened, name), 0)
      assert.strictEqual((yield* histogram(PoolMetrics.waitTime, name)).count, 0)
      assert.strictEqual((yield* pool.stats).created, 1)
    }).pipe(Effect.scoped))
})

describe("events", () => {
  it.effect("a subscriber sees opens, health changes, timeouts and closes, and its stream ends with the pool", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { pool } = yield* makeTestPool({
        name: "events",
        maxConnections: 1,
        connectionTimeout: "1 second"
      }).pipe(Edge.inScope(scope))
      const { events, fiber } = yield* recordEvents(pool)

      // a fault: the score falls from 100 to 90
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))))
      const held = yield* holdInFiber(pool)
      const late = yield* Edge.fork(Edge.outcome(pool.use(() => Effect.void)))
      yield* eventually(() => Effect.map(pool.stats, (stats) => stats.waiting === 1))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(late)
      yield* Fiber.interrupt(held.fiber)
      yield* Scope.close(scope, Exit.void)
      // the stream ends by itself once the pool has closed
      yield* Fiber.join(fiber)

      assert.deepStrictEqual(events, [
        PoolEvent.Opened({ pool: "events", connectionId: 1, openMillis: 0 }),
        PoolEvent.HealthChanged({
          pool: "events",
          connectionId: 1,
          previousScore: 100,
          healthScore: 90,
          errorCount: 1
        }),
        PoolEvent.Timeout({ pool: "events", waitedMillis: 1000 }),
        PoolEvent.Closed({ pool: "events", connectionId: 1, reason: "shutdown" })
      ])
      // run after the pool closed, the stream is empty rather than waiting forever
      assert.strictEqual(Array.from(yield* Stream.runCollect(pool.events)).length, 0)
    }))

  it.effect("a subscriber that stalls misses events itself without holding back the others", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { pool } = yield* makeTestPool({ name: "events-stalled" }).pipe(Edge.inScope(scope))
      // reads one event, then never again
      const stalled = yield* Edge.fork(Stream.runForEach(pool.events, () => Effect.never))
      const { events, fiber } = yield* recordEvents(pool)
      // each loan invalidates its connection: an Opened and a Closed event per loan, past the stalled one's buffer
      const loans = PoolEvent.bufferSize
      yield* Effect.repeat(pool.use((_, handle) => handle.invalidate), { times: loans - 1 })
      yield* eventually(() => events.length === 2 * loans)
      yield* Scope.close(scope, Exit.void)
      // the fast subscriber got every event and its stream ended with the pool
      yield* Fiber.join(fiber)
      assert.strictEqual(events.length, 2 * loans)
      assert.strictEqual(events.filter(PoolEvent.$is("Closed")).length, loans)
      yield* Fiber.interrupt(stalled)
    }))

  it.effect("a failed open is an event carrying the ConnectionError", () =>
    Effect.gen(function*() {
      const { connector, state } = makeTestConnector()
      state.failOpen = true
      const pool = yield* ConnectionPool.make(connector, { name: "events-open-failed" })
      const { events } = yield* recordEvents(pool)
      const result = yield* Edge.outcome(pool.use(() => Effect.void))
      assert.isTrue(Edge.isFailure(result))
      yield* eventually(() => events.length === 1)
      const [event] = events
      assert.strictEqual(event!._tag, "OpenFailed")
      if (event!._tag === "OpenFailed") assert.strictEqual(event!.error.reason, "OpenFailed")
    }).pipe(Effect.scoped))
})

/**
 * Each close reason, produced the way it happens in use; checked against both the `Closed` event and
 * the `connection_pool_closed` counter for that reason.
 */
const closeCases: ReadonlyArray<{
  readonly reason: PoolEvent.CloseReason
  readonly options: ConnectionPool.Options
  readonly provoke: (
    pool: ConnectionPool.ConnectionPool<TestConnection>,
    connections: Array<TestConnection>
  ) => Effect.Effect<unknown, unknown>
}> = [
  {
    reason: "stale",
    options: { staleAfter: "1 minute" },
    provoke: (pool) => Effect.andThen(pool.use(() => Effect.void), TestClock.adjust("90 seconds"))
  },
  {
    reason: "unhealthy",
    options: { maxErrors: 1 },
    provoke: (pool) => Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: false }))))
  },
  {
    reason: "validation-failed",
    options: { validateOnBorrow: true },
    provoke: (pool, connections) =>
      pool.use(() => Effect.void).pipe(
        Effect.andThen(Effect.sync(() => connections[0]!.healthy = false)),
        Effect.andThen(TestClock.adjust("1 second")),
        Effect.andThen(pool.use(() => Effect.void))
      )
  },
  {
    reason: "invalidated",
    options: {},
    provoke: (pool) => pool.use((_, handle) => handle.invalidate)
  },
  {
    reason: "disconnected",
    options: {},
    provoke: (pool, connections) =>
      pool.use(() => Effect.void).pipe(
        Effect.andThen(Effect.sync(() => connections[0]!.open = false)),
        Effect.andThen(pool.use(() => Effect.void))
      )
  },
  {
    reason: "expired",
    options: { maxLifetime: "1 minute" },
    provoke: (pool) => Effect.andThen(pool.use(() => Effect.void), TestClock.adjust("1 minute"))
  },
  {
    reason: "idle-timeout",
    options: { idleTimeout: "1 minute" },
    provoke: (pool) => Effect.andThen(pool.use(() => Effect.void), TestClock.adjust("1 minute"))
  },
  {
    reason: "resized",
    options: {},
    provoke: (pool) =>
      Effect.all([pool.use(() => Edge.yieldNow), pool.use(() => Edge.yieldNow)], { concurrency: 2 }).pipe(
        Effect.andThen(pool.resize({ maxConnections: 1 }))
      )
  }
]

describe("close reasons", () => {
  it.effect("a new pool counts every close reason from zero, in its stats and in the closed metric", () =>
    Effect.gen(function*() {
      const name = "close-reasons-from-zero"
      const { connector } = makeTestConnector()
      const pool = yield* ConnectionPool.make(connector, { name, metrics: true })
      const stats = yield* pool.stats
      assert.deepStrictEqual(Object.keys(stats.closedByReason), [...PoolEvent.closeReasons])
      assert.deepStrictEqual(Object.values(stats.closedByReason), PoolEvent.closeReasons.map(() => 0))
      const registered = (yield* Edge.seriesOf("connection_pool_closed")).flatMap((labels) =>
        labels[PoolMetrics.poolLabel] === name ? [labels[PoolMetrics.reasonLabel]] : []
      )
      assert.sameMembers(registered, [...PoolEvent.closeReasons])
    }).pipe(Effect.scoped))

  for (const { options, provoke, reason } of closeCases) {
    it.effect(`a connection closed as ${reason} says so in its event, the closed counter and the stats`, () =>
      Effect.gen(function*() {
        const name = `close-reason-${reason}`
        const { pool, state } = yield* makeTestPool({ ...options, name, metrics: true })
        const { events } = yield* recordEvents(pool)
        yield* provoke(pool, state.connections)
        yield* eventually(() => state.closed >= 1)
        yield* eventually(() => events.some(PoolEvent.$is("Closed")))
        const reasons = events.filter(PoolEvent.$is("Closed")).map((event) => event.reason)
        assert.deepStrictEqual(reasons, [reason])
        assert.strictEqual(yield* closedFor(name, reason), 1)
        const stats = yield* pool.stats
        assert.strictEqual(stats.closedByReason[reason], 1)
        assert.include(stats.summary, `closed 1 (1 ${reason})`)
      }).pipe(Effect.scoped))
  }
})

/** A tracer that records every span it starts, over Effect's own. */
const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { spans, tracer }
})

const spansNamed = (spans: ReadonlyArray<Tracer.Span>, name: string) => spans.filter((span) => span.name === name)

describe("spans", () => {
  it.effect("opens and health checks are traced; borrows only with traceBorrows", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      yield* Effect.gen(function*() {
        const { pool } = yield* makeTestPool({ name: "spans" })
        yield* pool.use(() => Effect.void)
        yield* TestClock.adjust("30 seconds")
      }).pipe(Effect.scoped, Effect.withTracer(tracer))

      const [open] = spansNamed(spans, "connection-pool.open")
      assert.strictEqual(open?.attributes.get("pool.name"), "spans")
      assert.strictEqual(spansNamed(spans, "connection-pool.health-tick").length, 1)
      const [check] = spansNamed(spans, "connection-pool.check")
      assert.strictEqual(check?.attributes.get("connection.id"), 1)
      assert.strictEqual(spansNamed(spans, "connection-pool.borrow").length, 0)
    }))

  it.effect("with traceBorrows, each borrow's wait runs in a span naming the connection lent", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      yield* Effect.gen(function*() {
        const { pool } = yield* makeTestPool({ name: "spans-borrow", traceBorrows: true })
        yield* pool.use(() => Effect.void)
        yield* Effect.scoped(pool.get)
      }).pipe(Effect.scoped, Effect.withTracer(tracer))

      const borrows = spansNamed(spans, "connection-pool.borrow")
      assert.strictEqual(borrows.length, 2)
      for (const span of borrows) {
        assert.strictEqual(span.attributes.get("pool.name"), "spans-borrow")
        assert.strictEqual(span.attributes.get("connection.id"), 1)
        assert.strictEqual(span.status._tag, "Ended")
      }
    }))
})

describe("stats", () => {
  it.scoped("stats count connections, borrowers and events, with a one-line summary", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ name: "stats-test", maxConnections: 4 })
      const holder = yield* holdOne(pool)
      yield* pool.use(() => Effect.void)
      yield* Edge.outcome(pool.use(() => Effect.fail(new QueryFailure({ retryable: true }))))
      const stats = yield* pool.stats
      assert.strictEqual(stats.name, "stats-test")
      assert.strictEqual(stats.total, 2)
      assert.strictEqual(stats.inUse, 1)
      assert.strictEqual(stats.idle, 1)
      assert.strictEqual(stats.healthy, 2)
      assert.strictEqual(stats.unhealthy, 0)
      assert.strictEqual(stats.utilization, 0.25)
      assert.strictEqual(stats.created, 2)
      assert.strictEqual(stats.averageScore, 95)
      assert.strictEqual(
        stats.summary,
        "pool \"stats-test\": 2/4 open (1 in use, 1 idle), 0 waiting, 2 healthy, 0 unhealthy, " +
          "utilization 25.0%, avg score 95.0, created 2, closed 0, open failures 0, timeouts 0, " +
          "health checks 0 (0 failed)"
      )
      assert.strictEqual(ConnectionPool.summary(stats), stats.summary)
      yield* Fiber.interrupt(holder.fiber)
      assert.strictEqual((yield* pool.stats).utilization, 0)
    }))
})

describe("leak detection", () => {
  const messages: Array<{ message: string; annotations: Record<string, unknown> }> = []
  const collectLogger = Edge.makeLogger(({ annotations, message }) => {
    messages.push({ message, annotations })
  })

  it.scoped("a connection held longer than leakDetectionThreshold is logged once, with its borrower and span", () =>
    Effect.gen(function*() {
      const { pool } = yield* makeTestPool({ leakDetectionThreshold: "10 seconds" })
      const lent = yield* Deferred.make<void>()
      const holder = yield* Effect.forkScoped(
        pool.use(() => Effect.andThen(Deferred.succeed(lent, undefined), Effect.never)).pipe(
          Effect.withSpan("handle-request")
        )
      )
      yield* Deferred.await(lent)
      const leaks = () => messages.filter((m) => m.message.includes("possible leak"))
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(leaks().length, 0)
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => leaks().length === 1)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(leaks().length, 1, "logged once per loan")
      const [leak] = leaks()
      assert.strictEqual(leak!.annotations.borrowedInSpan, "handle-request")
      assert.strictEqual(leak!.annotations.borrower, Edge.fiberName(holder))
      assert.strictEqual(leak!.annotations.connectionId, 1)
      // the pool's fibers log through the logger they were started with: this one collects
    }).pipe(Edge.withLogger(collectLogger)))

  it.scoped("with traceBorrows, the span named is still the borrower's, not the pool's own borrow span", () =>
    Effect.gen(function*() {
      messages.length = 0
      const { pool } = yield* makeTestPool({ leakDetectionThreshold: "10 seconds", traceBorrows: true })
      const lent = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        pool.use(() => Effect.andThen(Deferred.succeed(lent, undefined), Effect.never)).pipe(
          Effect.withSpan("handle-request")
        )
      )
      yield* Deferred.await(lent)
      yield* TestClock.adjust("10 seconds")
      yield* eventually(() => messages.some((m) => m.message.includes("possible leak")))
      const leak = messages.find((m) => m.message.includes("possible leak"))
      assert.strictEqual(leak!.annotations.borrowedInSpan, "handle-request")
    }).pipe(Edge.withLogger(collectLogger)))
})
