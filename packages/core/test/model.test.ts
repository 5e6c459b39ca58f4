/**
 * Model-based property tests (issue 6, item 1). Random sequences of borrows, returns, faults while in use,
 * interruptions while waiting or holding, health ticks, server kills, clock advances, resizes and connector
 * callbacks that throw or die at a random later call (issue 16, item 5: `isOpen`, `isFault`, `check`) run against
 * the real pool and against a small reference model of who holds a connection, who waits, and which connections
 * the pool must have retired. After every step the borrowers' observed states, the pool's stats and the
 * connector's counters must agree with the model and with the invariants below; once the pool's scope closes,
 * every connection ever opened has been closed exactly once.
 *
 * The model is deliberately smaller than the pool: it knows the bounds, first-come first-served waiting, the
 * timeout, and the few retirement rules that are certain (a connection returned invalidated, closed by the
 * server, or with `maxErrors` faults; one closed by the server and idle at a tick; one whose checks fail, idle at
 * two ticks). Everything else (which idle connection is lent, health scores) the pool decides, and the
 * invariants only bound it.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import {
  bySize,
  Edge,
  eventually,
  it,
  makeTestConnector,
  propertySeed,
  QueryFailure,
  recordReliability,
  TestClock,
  type TestConnection
} from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Scope } from "effect"

const healthCheckInterval = 1_000
const connectionTimeout = 2_500
const staleAfter = 4_000
/** Scheduler turns between two looks at the pool while waiting for it to settle. */
const turnsPerSample = 3

/** How a holder ends its loan: normally, with a fault, after invalidating, or after an early `release`. */
type ReturnKind = "ok" | "fault" | "invalidate" | "release"

type Command =
  | { readonly _tag: "Borrow"; readonly api: "use" | "get" }
  | { readonly _tag: "Return"; readonly pick: number; readonly kind: ReturnKind }
  | { readonly _tag: "InterruptWaiting"; readonly pick: number }
  | { readonly _tag: "InterruptHolding"; readonly pick: number }
  | { readonly _tag: "HealthTick" }
  | { readonly _tag: "AdvanceClock"; readonly millis: number }
  | { readonly _tag: "ServerKill"; readonly pick: number; readonly all: boolean }
  | { readonly _tag: "BreakChecks"; readonly pick: number }
  | { readonly _tag: "Resize"; readonly maxConnections: number; readonly minConnections: number }
  | { readonly _tag: "CallbackDefect"; readonly callback: Callback; readonly dies: boolean }

/**
 * A connector callback armed to throw (or, for `check`, to die) at its next call, wherever that falls. Their effects
 * are within what the model already allows: `isOpen` that throws retires a connection ("closed"), `isFault` that
 * throws counts a fault (as the test connector's default does anyway), `check` that throws or dies is a failed check.
 * `open` is left out: a failed open changes who is served, which this model does not predict (misuse-connector.test.ts
 * covers it).
 */
type Callback = "isOpen" | "isFault" | "check"

// Picks are resolved modulo what exists at that step, so every generated sequence is runnable and shrinks well.
const { gen } = Edge

const commandArbitrary: Edge.Gen<Command> = gen.oneof(
  {
    weight: 10,
    arbitrary: gen.record({ _tag: gen.constant("Borrow" as const), api: gen.constantFrom<"use" | "get">("use", "get") })
  },
  {
    weight: 5,
    arbitrary: gen.record({
      _tag: gen.constant("Return" as const),
      pick: gen.nat(7),
      kind: gen.constantFrom<ReturnKind>("ok", "ok", "fault", "invalidate", "release")
    })
  },
  { weight: 2, arbitrary: gen.record({ _tag: gen.constant("InterruptWaiting" as const), pick: gen.nat(7) }) },
  { weight: 2, arbitrary: gen.record({ _tag: gen.constant("InterruptHolding" as const), pick: gen.nat(7) }) },
  { weight: 2, arbitrary: gen.record({ _tag: gen.constant("HealthTick" as const) }) },
  {
    weight: 2,
    arbitrary: gen.record({ _tag: gen.constant("AdvanceClock" as const), millis: gen.integer(1, 3_000) })
  },
  {
    weight: 2,
    arbitrary: gen.record({
      _tag: gen.constant("ServerKill" as const),
      pick: gen.nat(7),
      // one kill in four is a server restart: every open connection is closed at once
      all: gen.map(gen.nat(3), (n) => n === 0)
    })
  },
  { weight: 1, arbitrary: gen.record({ _tag: gen.constant("BreakChecks" as const), pick: gen.nat(7) }) },
  {
    weight: 1,
    arbitrary: gen.map(
      gen.record({
        _tag: gen.constant("Resize" as const),
        maxConnections: gen.integer(1, 5),
        minConnections: gen.integer(0, 5)
      }),
      (bounds) => ({ ...bounds, minConnections: Math.min(bounds.minConnections, bounds.maxConnections) })
    )
  },
  {
    weight: 2,
    arbitrary: gen.record({
      _tag: gen.constant("CallbackDefect" as const),
      callback: gen.constantFrom<Callback>("isOpen", "isFault", "check"),
      dies: gen.boolean()
    })
  }
)

const optionsArbitrary = gen.map(
  gen.record({
    maxConnections: gen.integer(1, 3),
    minConnections: gen.integer(0, 3),
    maxErrors: gen.integer(1, 3)
  }),
  (options) => ({ ...options, minConnections: Math.min(options.minConnections, options.maxConnections) })
)

type Outcome = ReturnKind | "timeout" | "interrupted" | "closed"

/** One borrower as the test sees it from outside the pool. */
interface Borrower {
  readonly index: number
  readonly api: "use" | "get"
  /** Completed by the test to end the loan, with how to end it. */
  readonly release: Deferred.Deferred<ReturnKind>
  status: "waiting" | "holding" | "done"
  /** Set once the test has told it to end its loan: from then on the pool may lend its connection again. */
  returning: boolean
  handleId: number | undefined
  serial: number | undefined
  exit: Exit.Exit<void, unknown> | undefined
  fiber: Edge.RunningFiber<void, unknown> | undefined
}

/** The reference model: bounds, a first-come first-served queue with deadlines, and certain retirements. */
class Model {
  now = 0
  /** Once the pool's scope is closing, nobody is served any more. */
  closed = false
  highestMax: number
  readonly queue: Array<{ readonly index: number; readonly deadline: number }> = []
  readonly holders = new Set<number>()
  readonly outcomes = new Map<number, Outcome>()
  timeouts = 0
  /** Loans per connection id: the pool's `useCount` must equal it. */
  readonly loans = new Map<number, number>()
  /** Faults and failed checks per connection serial: a lower bound of the pool's `errorCount`. */
  readonly faults = new Map<number, number>()
  readonly failedChecks = new Map<number, number>()
  /** Connections the server closed, with the number of health ticks that had passed then. */
  readonly killedAtTick = new Map<number, number>()
  /** Connections that stay open but whose health checks fail. */
  readonly brokenChecks = new Set<number>()
  /** Connections the pool must have closed by now. */
  readonly mustBeClosed = new Set<number>()
  /** Loans ended with `invalidate`: each closes its connection for that reason and no other. */
  invalidations = 0
  /** Whether `maxConnections` was ever lowered: only then may a connection be closed as "resized". */
  shrunk = false
  /** Shared lending: connections invalidated or closed by the server, to be closed once nobody holds them. */
  readonly pendingClose = new Set<number>()
  /** Shared lending: the connections some loan invalidated. */
  readonly invalidatedSerials = new Set<number>()

  constructor(
    public maxConnections: number,
    public minConnections: number,
    readonly maxErrors: number,
    /** Above 1 (shared lending) the pool decides who is served; the test reads it off and checks it (`sync`). */
    readonly concurrency = 1
  ) {
    this.highestMax = maxConnections
  }

  get ticks(): number {
    return Math.floor(this.now / healthCheckInterval)
  }

  get waiting(): ReadonlyArray<number> {
    return this.queue.map((waiter) => waiter.index)
  }

  /** Lends to the oldest waiters while fewer than `maxConnections` are lent; returns who was served. */
  serve(): Array<number> {
    const served: Array<number> = []
    if (this.concurrency > 1) return served
    while (!this.closed && this.queue.length > 0 && this.holders.size < this.maxConnections) {
      const { index } = this.queue.shift()!
      this.holders.add(index)
      served.push(index)
    }
    return served
  }

  borrow(index: number): Array<number> {
    this.queue.push({ index, deadline: this.now + connectionTimeout })
    return this.serve()
  }

  end(index: number, outcome: Outcome): Array<number> {
    this.holders.delete(index)
    const queued = this.queue.findIndex((waiter) => waiter.index === index)
    if (queued >= 0) this.queue.splice(queued, 1)
    this.outcomes.set(index, outcome)
    return this.serve()
  }

  /** Every waiter has the same timeout, so deadlines fall in queue order. */
  advance(millis: number): void {
    this.now += millis
    while (this.queue.length > 0 && this.queue[0]!.deadline <= this.now) {
      const { index } = this.queue.shift()!
      this.outcomes.set(index, "timeout")
      this.timeouts++
    }
  }

  resize(maxConnections: number, minConnections: number): Array<number> {
    if (maxConnections < this.maxConnections) this.shrunk = true
    this.maxConnections = maxConnections
    this.minConnections = minConnections
    this.highestMax = Math.max(this.highestMax, maxConnections)
    return this.serve()
  }

  /** A loan ended on connection `serial`: the certain reasons to retire it now. */
  returned(serial: number, kind: ReturnKind | "interrupted"): void {
    if (this.concurrency > 1) {
      // shared: closed once its last borrower returns; faults of borrowers that shared it count once, so
      // maxErrors is not a certain retirement here
      if (kind === "invalidate") {
        this.invalidations++
        this.invalidatedSerials.add(serial)
      }
      if (kind === "invalidate" || this.killedAtTick.has(serial)) this.pendingClose.add(serial)
      return
    }
    if (kind === "fault") this.faults.set(serial, (this.faults.get(serial) ?? 0) + 1)
    if (kind === "invalidate") this.invalidations++
    if (kind === "invalidate" || this.killedAtTick.has(serial) || this.errorsOf(serial) >= this.maxErrors) {
      this.mustBeClosed.add(serial)
    }
  }

  errorsOf(serial: number): number {
    return (this.faults.get(serial) ?? 0) + (this.failedChecks.get(serial) ?? 0)
  }
}

const pickFrom = <A>(items: ReadonlyArray<A>, pick: number): A | undefined =>
  items.length === 0 ? undefined : items[pick % items.length]

/** Totals over every sequence run, for RELIABILITY.md. */
const totals = {
  sequences: 0,
  steps: 0,
  borrows: 0,
  returns: 0,
  faults: 0,
  invalidations: 0,
  earlyReleases: 0,
  interruptsWhileWaiting: 0,
  interruptsWhileHolding: 0,
  healthTicks: 0,
  clockAdvances: 0,
  serverKills: 0,
  connectionsKilled: 0,
  brokenChecks: 0,
  resizes: 0,
  callbackDefects: 0,
  timeouts: 0,
  connectionsOpened: 0,
  invariantChecks: 0,
  /** Sequences in which a check failed: the pool disagreed with the model or broke an invariant (a run stops there). */
  invariantViolations: 0,
  connectionsLeaked: 0,
  closedMoreThanOnce: 0,
  neverClosed: 0,
  doubleLends: 0,
  closedConnectionsLent: 0
}

const runSequence = (
  options: {
    readonly maxConnections: number
    readonly minConnections: number
    readonly maxErrors: number
    readonly concurrency?: number
  },
  commands: ReadonlyArray<Command>
) =>
  Effect.gen(function*() {
    const concurrency = options.concurrency ?? 1
    const shared = concurrency > 1
    const { connector: testConnector, state } = makeTestConnector()
    /** Callbacks armed to throw (or die) at their next call. */
    const armed = new Map<Callback, "throw" | "die">()
    const defect = (callback: Callback) => {
      const how = armed.get(callback)
      armed.delete(callback)
      return how
    }
    // Built without `Connector.make`: nothing but the pool guards these calls.
    const connector: typeof testConnector = {
      ...testConnector,
      isOpen: (connection) => {
        if (defect("isOpen") !== undefined) throw new Error("isOpen threw")
        return testConnector.isOpen(connection)
      },
      isFault: (cause) => {
        if (defect("isFault") !== undefined) throw new Error("isFault threw")
        return testConnector.isFault(cause)
      },
      check: (connection) => {
        const how = defect("check")
        if (how === "die") return Effect.die(new Error("check died"))
        if (how === "throw") throw new Error("check threw")
        return testConnector.check(connection)
      }
    }
    const poolScope = yield* Scope.make()
    const pool = yield* Edge.inScope(
      ConnectionPool.make(connector, {
        ...options,
        connectionTimeout,
        healthCheckInterval,
        staleAfter
      }),
      poolScope
    )
    const model = new Model(options.maxConnections, options.minConnections, options.maxErrors, concurrency)
    const borrowers: Array<Borrower> = []
    /** Which connection each pool id is, as seen through handles: it must never change. */
    const serialOfId = new Map<number, number>()
    /** Violations seen inside borrower fibers, reported at the next check. */
    const violations: Array<string> = []
    let step = "start"

    const isClosed = (serial: number) => state.finalizerRuns.has(serial)
    const heldSerials = () => new Set(borrowers.filter((b) => b.status === "holding").map((b) => b.serial!))

    const startBorrower = (api: "use" | "get") =>
      Effect.gen(function*() {
        const borrower: Borrower = {
          index: borrowers.length,
          api,
          release: yield* Deferred.make<ReturnKind>(),
          status: "waiting",
          returning: false,
          handleId: undefined,
          serial: undefined,
          exit: undefined,
          fiber: undefined
        }
        borrowers.push(borrower)
        const hold = (connection: TestConnection, handle: ConnectionPool.PooledConnection<TestConnection>) =>
          Effect.gen(function*() {
            if (!connection.open) {
              totals.closedConnectionsLent++
              violations.push(`borrower ${borrower.index} was lent closed connection ${connection.serial}`)
            }
            const holding = borrowers.filter((b) =>
              b.status === "holding" && !b.returning && b.serial === connection.serial
            )
            const holder = holding.length >= concurrency ? holding[0] : undefined
            if (holder !== undefined) {
              totals.doubleLends++
              violations.push(
                `connection ${connection.serial} lent to ${borrower.index} while ${holder.index} holds it`
              )
            }
            const known = serialOfId.get(handle.id)
            if (known !== undefined && known !== connection.serial) {
              violations.push(`pool id ${handle.id} was connection ${known}, now ${connection.serial}`)
            }
            serialOfId.set(handle.id, connection.serial)
            borrower.status = "holding"
            borrower.handleId = handle.id
            borrower.serial = connection.serial
            model.loans.set(handle.id, (model.loans.get(handle.id) ?? 0) + 1)
            const kind = yield* Deferred.await(borrower.release)
            borrower.returning = true
            if (kind === "fault") return yield* Effect.fail(new QueryFailure({ retryable: false }))
            if (kind === "invalidate") yield* handle.invalidate
            if (kind === "release") yield* handle.release
          })
        const borrow: Effect.Effect<void, unknown> = api === "use"
          ? pool.use(hold)
          : Effect.scoped(Effect.flatMap(pool.get, (handle) => hold(handle.connection, handle)))
        // `onExit`: it also runs when the borrower is interrupted
        borrower.fiber = yield* Edge.fork(
          Effect.onExit(borrow, (exit) =>
            Effect.sync(() => {
              borrower.status = "done"
              borrower.exit = exit
            }))
        )
        return borrower
      })

    /**
     * Lets every fiber run until nothing observable changes for a while (the clock never moves here, so
     * only work already due can happen). Fails instead of hanging if the pool never settles.
     */
    const settle = Effect.gen(function*() {
      let previous = ""
      let quietTurns = 0
      for (let turn = 0; turn < 20_000; turn += turnsPerSample) {
        const stats = yield* pool.stats
        const connections = yield* pool.connections
        const fingerprint = JSON.stringify([
          stats.total,
          stats.inUse,
          stats.waiting,
          stats.created,
          stats.closed,
          stats.timeouts,
          stats.healthChecks,
          state.openAttempts,
          state.closed,
          state.checks,
          connections.map((c) => c.state),
          borrowers.map((b) => b.status)
        ])
        quietTurns = fingerprint === previous ? quietTurns + turnsPerSample : 0
        // measured: the longest chain of hand-offs after a step ends within about 25 turns
        if (quietTurns >= 30) return
        previous = fingerprint
        for (let i = 0; i < turnsPerSample; i++) yield* Edge.yieldNow
      }
      return yield* Effect.die(new Error(`the pool never settled after ${step}`))
    })

    /**
     * Shared lending: who was served is read off the borrowers, and must be the oldest waiters (first come,
     * first served); connections invalidated or closed by the server must close once nobody holds them.
     */
    const sync = () => {
      const stillWaiting: Array<{ readonly index: number; readonly deadline: number }> = []
      for (const waiter of model.queue) {
        if (borrowers[waiter.index]!.status !== "holding") {
          stillWaiting.push(waiter)
          continue
        }
        if (stillWaiting.length > 0) {
          violations.push(
            `${step}: borrower ${waiter.index} served before ${stillWaiting[0]!.index}, who waited longer`
          )
        }
        model.holders.add(waiter.index)
      }
      model.queue.splice(0, model.queue.length, ...stillWaiting)
      const held = heldSerials()
      for (const serial of model.pendingClose) {
        if (held.has(serial)) continue
        model.pendingClose.delete(serial)
        model.mustBeClosed.add(serial)
      }
    }
    const settled = shared ? Effect.andThen(settle, Effect.sync(sync)) : settle

    const expectExit = (borrower: Borrower, outcome: Outcome) => {
      const exit = borrower.exit!
      const where = `${step}: borrower ${borrower.index} (${borrower.api}) should end ${outcome}`
      switch (outcome) {
        case "ok":
        case "invalidate":
        case "release":
          return assert.isTrue(Exit.isSuccess(exit), `${where}, got ${String(exit)}`)
        case "interrupted":
          return assert.isTrue(Exit.isFailure(exit) && Edge.isInterruptedOnly(exit.cause), `${where}, got ${exit}`)
        case "fault":
        case "timeout":
        case "closed": {
          assert.isTrue(Exit.isFailure(exit), `${where}, got ${exit}`)
          const error = Cause.squash((exit as Exit.Failure<void, unknown>).cause) as {
            readonly _tag?: string
            readonly reason?: string
          }
          if (outcome === "fault") return assert.strictEqual(error._tag, "QueryFailure", where)
          if (outcome === "timeout") {
            assert.strictEqual(error._tag, "PoolTimeoutError", where)
            return assert.strictEqual(error.reason, "AcquireTimeout", where)
          }
          assert.strictEqual(error._tag, "PoolClosedError", where)
          return assert.strictEqual(error.reason, "ClosedWhileWaiting", where)
        }
      }
    }

    /** Everything that must hold once the pool has settled after a step. */
    const checkInvariants = Effect.gen(function*() {
      totals.invariantChecks++
      assert.deepStrictEqual(violations, [], step)
      // borrowers: exactly who the model says holds, waits, or ended, and how
      for (const borrower of borrowers) {
        const expected = model.holders.has(borrower.index)
          ? "holding"
          : model.outcomes.has(borrower.index)
          ? "done"
          : "waiting"
        assert.strictEqual(borrower.status, expected, `${step}: borrower ${borrower.index} (${borrower.api})`)
        if (expected === "done") expectExit(borrower, model.outcomes.get(borrower.index)!)
      }
      const holders = borrowers.filter((b) => b.status === "holding")
      const allHeldIds = holders.map((b) => b.handleId!)
      const heldIds = [...new Set(allHeldIds)]
      if (!shared) {
        assert.strictEqual(heldIds.length, allHeldIds.length, `${step}: a connection id is lent twice`)
        assert.strictEqual(heldSerials().size, holders.length, `${step}: a connection is lent twice`)
      }
      /** Borrowers holding each connection id, as the borrowers see it. */
      const holdersOf = new Map<number, number>()
      for (const id of allHeldIds) holdersOf.set(id, (holdersOf.get(id) ?? 0) + 1)
      for (const [id, count] of holdersOf) {
        assert.isAtMost(count, concurrency, `${step}: connection ${id} lent to more than concurrency borrowers`)
      }

      const stats = yield* pool.stats
      const connections = yield* pool.connections
      const where = `${step}: ${stats.summary}`
      // the pool's view, the connector's view (the "server") and the model agree
      assert.strictEqual(stats.inUse, heldIds.length, where)
      assert.strictEqual(stats.loans, model.holders.size, where)
      assert.strictEqual(stats.waiting, model.queue.length, where)
      assert.strictEqual(stats.timeouts, model.timeouts, where)
      assert.strictEqual(stats.maxConnections, model.maxConnections, where)
      assert.strictEqual(pool.maxConnections, model.maxConnections, where)
      assert.strictEqual(stats.total, state.open, `${where}: open according to the connector`)
      assert.strictEqual(yield* pool.activeConnections, stats.total, where)
      assert.strictEqual(connections.length, stats.total, where)
      assert.strictEqual(stats.idle + stats.inUse, stats.total, where)
      assert.strictEqual(stats.healthy + stats.unhealthy, stats.total, where)
      assert.strictEqual(stats.created, state.opened, where)
      assert.strictEqual(stats.closed, state.closed, where)
      assert.strictEqual(stats.created - stats.closed, stats.total, where)
      // every close has one reason, and the reasons the model can be sure of are counted exactly
      const reasons = stats.closedByReason
      assert.strictEqual(Object.values(reasons).reduce((sum, n) => sum + n, 0), stats.closed, where)
      if (shared) assert.isAtMost(reasons.invalidated, model.invalidatedSerials.size, where)
      else assert.strictEqual(reasons.invalidated, model.invalidations, where)
      assert.strictEqual(reasons.shutdown, 0, where)
      if (!model.shrunk) assert.strictEqual(reasons.resized, 0, where)
      if (model.now < staleAfter) assert.strictEqual(reasons.stale, 0, where)
      // options this test leaves off: nothing may be closed for them
      assert.strictEqual(reasons.expired + reasons["idle-timeout"] + reasons["validation-failed"], 0, where)
      const capacity = model.maxConnections * concurrency
      assert.strictEqual(yield* pool.availablePermits, Math.max(0, capacity - model.holders.size), where)
      assert.strictEqual(stats.utilization, model.holders.size / capacity, where)
      // bounds: never more open than the bound in force, except lent ones kept through a shrink
      // (shared: a connection retired under its borrowers no longer counts against the bound, so the ones nobody
      // holds stay within it)
      if (shared) assert.isAtMost(state.open - heldIds.length, model.maxConnections, where)
      else assert.isAtMost(state.open, Math.max(model.maxConnections, heldIds.length), where)
      assert.isAtMost(state.peakOpen, model.highestMax, where)
      // settled: nothing is being checked or closed, the lent ones are exactly the holders'
      assert.deepStrictEqual(connections.filter((c) => c.state === "checking" || c.state === "closing"), [], where)
      assert.deepStrictEqual(
        connections.filter((c) => c.state === "in-use").map((c) => c.id).sort(),
        [...heldIds].sort(),
        where
      )
      for (const info of connections) {
        assert.strictEqual(info.borrowers, holdersOf.get(info.id) ?? 0, `${where}: borrowers of ${info.id}`)
      }
      // liveness: nobody waits while a connection could be lent or opened; minConnections are kept open
      if (stats.waiting > 0) {
        assert.strictEqual(stats.idle, 0, `${where}: a borrower waits while a connection is idle`)
        // shared: connections draining (retired under their borrowers) still count against maxConnections
        if (shared) {
          assert.isAtLeast(stats.total, model.maxConnections, `${where}: a borrower waits below maxConnections`)
        } else assert.isAtLeast(stats.inUse, model.maxConnections, `${where}: a borrower waits below maxConnections`)
      }
      assert.isAtLeast(stats.total, model.minConnections, `${where}: fewer than minConnections open`)
      // health records agree with what the model saw
      for (const info of connections) {
        assert.strictEqual(info.useCount, model.loans.get(info.id) ?? 0, `${where}: useCount of ${info.id}`)
        const serial = serialOfId.get(info.id)
        if (serial !== undefined && !shared) {
          assert.isAtLeast(info.errorCount, model.errorsOf(serial), `${where}: errorCount of ${info.id}`)
        }
        assert.isTrue(info.healthScore >= 0 && info.healthScore <= 100, where)
        // a health tick retires idle connections unused for staleAfter
        if (info.state === "idle" && model.ticks > 0) {
          assert.isAbove(info.lastUsedAt, model.ticks * healthCheckInterval - staleAfter, `${where}: stale ${info.id}`)
        }
      }
      // certain retirements
      for (const serial of model.mustBeClosed) {
        assert.strictEqual(state.finalizerRuns.get(serial), 1, `${where}: connection ${serial} should be closed`)
      }
      // a connection the server closed is retired by the next tick at the latest, unless it is lent
      const held = heldSerials()
      for (const [serial, tick] of model.killedAtTick) {
        if (!isClosed(serial) && !held.has(serial)) {
          assert.strictEqual(tick, model.ticks, `${where}: connection ${serial}, closed by the server, still idle`)
        }
      }
      for (const runs of state.finalizerRuns.values()) assert.strictEqual(runs, 1, `${where}: closed twice`)
    })

    const endBorrower = (borrower: Borrower, kind: ReturnKind | "interrupted") =>
      Effect.gen(function*() {
        const serial = borrower.serial!
        borrower.returning = true
        if (kind === "interrupted") yield* Fiber.interrupt(borrower.fiber!)
        else yield* Deferred.succeed(borrower.release, kind)
        model.returned(serial, kind)
        const served = model.end(borrower.index, kind)
        yield* settled
        // a returned connection the pool kept goes straight to the oldest waiter (shared: checked by `sync`)
        if (!shared && !isClosed(serial) && served.length > 0) {
          const first = borrowers[served[0]!]!
          assert.strictEqual(first.serial, serial, `${step}: the returned connection should go to the oldest waiter`)
        }
      })

    for (const [position, command] of commands.entries()) {
      step = `step ${position} ${JSON.stringify(command)}`
      totals.steps++
      switch (command._tag) {
        case "Borrow": {
          totals.borrows++
          const borrower = yield* startBorrower(command.api)
          model.borrow(borrower.index)
          yield* settled
          break
        }
        case "Return": {
          const borrower = pickFrom(borrowers.filter((b) => model.holders.has(b.index)), command.pick)
          if (borrower === undefined) continue
          totals.returns++
          if (command.kind === "fault") totals.faults++
          if (command.kind === "invalidate") totals.invalidations++
          if (command.kind === "release") totals.earlyReleases++
          yield* endBorrower(borrower, command.kind)
          break
        }
        case "InterruptHolding": {
          const borrower = pickFrom(borrowers.filter((b) => model.holders.has(b.index)), command.pick)
          if (borrower === undefined) continue
          totals.interruptsWhileHolding++
          yield* endBorrower(borrower, "interrupted")
          break
        }
        case "InterruptWaiting": {
          const index = pickFrom(model.waiting, command.pick)
          if (index === undefined) continue
          totals.interruptsWhileWaiting++
          yield* Fiber.interrupt(borrowers[index]!.fiber!)
          model.end(index, "interrupted")
          yield* settled
          break
        }
        case "HealthTick":
        case "AdvanceClock": {
          const millis = command._tag === "HealthTick" ? healthCheckInterval : command.millis
          if (command._tag === "HealthTick") totals.healthTicks++
          else totals.clockAdvances++
          const ticksBefore = model.ticks
          const held = heldSerials()
          // idle (open, not lent) connections whose checks fail: each tick they stay idle through checks them
          const brokenIdle = [...model.brokenChecks].filter((serial) => !isClosed(serial) && !held.has(serial))
          const timeoutsBefore = model.timeouts
          model.advance(millis)
          totals.timeouts += model.timeouts - timeoutsBefore
          yield* TestClock.adjust(millis)
          yield* settled
          const ticks = model.ticks - ticksBefore
          for (const serial of brokenIdle) {
            if (isClosed(serial) || ticks === 0) continue
            model.failedChecks.set(serial, (model.failedChecks.get(serial) ?? 0) + ticks)
            // two failed checks take the score from at most 100 to at most 50 (unhealthyScore): retired
            assert.isBelow(model.failedChecks.get(serial)!, 2, `${step}: connection ${serial} failed two checks`)
            assert.isBelow(model.errorsOf(serial), options.maxErrors, `${step}: connection ${serial} at maxErrors`)
          }
          break
        }
        case "ServerKill": {
          const open = state.connections.filter((c) => c.open)
          const victims = command.all ? open : [pickFrom(open, command.pick)].filter((c) => c !== undefined)
          if (victims.length === 0) continue
          totals.serverKills++
          for (const connection of victims) {
            totals.connectionsKilled++
            // the peer hung up: the socket reports closed and a check would fail too
            connection.open = false
            connection.healthy = false
            model.killedAtTick.set(connection.serial, model.ticks)
          }
          yield* settled
          break
        }
        case "BreakChecks": {
          const connection = pickFrom(state.connections.filter((c) => c.open && c.healthy), command.pick)
          if (connection === undefined) continue
          totals.brokenChecks++
          connection.healthy = false
          model.brokenChecks.add(connection.serial)
          yield* settled
          break
        }
        case "CallbackDefect": {
          totals.callbackDefects++
          armed.set(command.callback, command.dies && command.callback === "check" ? "die" : "throw")
          yield* settle
          break
        }
        case "Resize": {
          totals.resizes++
          yield* pool.resize({ maxConnections: command.maxConnections, minConnections: command.minConnections })
          model.resize(command.maxConnections, command.minConnections)
          yield* settled
          break
        }
      }
      yield* checkInvariants
    }

    // Closing the pool: waiters fail with PoolClosedError, later borrowers are refused, lent connections are
    // closed as they come back, and closing ends once every connection has been closed exactly once.
    step = "closing the pool"
    const closing = yield* Edge.fork(Scope.close(poolScope, Exit.void))
    model.closed = true
    for (const index of model.waiting) model.end(index, "closed")
    yield* settled
    for (const borrower of borrowers) {
      if (model.outcomes.get(borrower.index) === "closed") {
        assert.strictEqual(borrower.status, "done", step)
        expectExit(borrower, "closed")
      }
    }
    const late = yield* Effect.flip(pool.use(() => Effect.void))
    assert.strictEqual(late._tag, "PoolClosedError")
    assert.strictEqual(late.reason, "PoolClosed")
    for (const borrower of borrowers.filter((b) => model.holders.has(b.index))) {
      yield* Deferred.succeed(borrower.release, "ok")
      model.end(borrower.index, "ok")
    }
    yield* Fiber.join(closing)
    yield* Effect.forEach(borrowers, (b) => Fiber.await(b.fiber!), { discard: true })
    step = "after the pool closed"
    for (const borrower of borrowers) expectExit(borrower, model.outcomes.get(borrower.index)!)

    const closedMoreThanOnce = [...state.finalizerRuns.values()].filter((runs) => runs > 1).length
    const neverClosed = state.connections.filter((c) => !state.finalizerRuns.has(c.serial)).length
    totals.sequences++
    totals.connectionsOpened += state.opened
    totals.connectionsLeaked += state.open
    totals.closedMoreThanOnce += closedMoreThanOnce
    totals.neverClosed += neverClosed
    assert.strictEqual(state.open, 0, "connections left open")
    assert.strictEqual(neverClosed, 0, "connections never closed")
    assert.strictEqual(closedMoreThanOnce, 0, "connections closed more than once")
    assert.strictEqual(state.finalizerRuns.size, state.opened)
    assert.strictEqual((yield* pool.stats).total, 0)
  })

describe("model-based: the pool against a reference model", () => {
  Edge.property(
    "random sequences of borrows, returns, faults, interruptions, ticks, kills, clock advances, resizes, callback defects",
    { options: optionsArbitrary, commands: gen.array(commandArbitrary, { minLength: 1, maxLength: 50 }) },
    ({ commands, options }, ctx) =>
      runSequence(options, commands).pipe(
        // the connector defects of CallbackDefect are logged at error level: not wanted in the test output
        Edge.withMinimumLogLevel("None"),
        // A failed check is an assertion thrown inside the sequence: count it before the test fails with it.
        Effect.tapDefect(() => Effect.sync(() => totals.invariantViolations++)),
        // Recorded whether the sequence passed or not, so the figures are what was measured.
        Effect.ensuring(Effect.sync(() => {
          const {
            closedConnectionsLent,
            closedMoreThanOnce,
            connectionsLeaked,
            doubleLends,
            invariantViolations,
            neverClosed,
            ...did
          } = totals
          recordReliability(ctx, {
            family: "Model-based property tests",
            did,
            held: {
              invariantViolations,
              connectionsLeaked,
              closedMoreThanOnce,
              neverClosed,
              doubleLends,
              closedConnectionsLent
            }
          })
        }))
      ),
    // size: four times the longest sequence, so that Effect 4's growing size reaches it a quarter of the way through
    // the runs (then sequences are about as long as fast-check's under Effect 3)
    { timeout: bySize(60_000, 540_000), seed: propertySeed, runs: bySize(40, 1_000), size: 200 }
  )
})

describe("model-based: shared lending (concurrency above 1) against the reference model", () => {
  Edge.property(
    "random sequences with 2 to 4 borrowers per connection: FIFO waiting, per-connection bounds, closes once",
    {
      options: gen.chain(
        optionsArbitrary,
        (options) => gen.map(gen.integer(2, 4), (concurrency) => ({ ...options, concurrency }))
      ),
      commands: gen.array(commandArbitrary, { minLength: 1, maxLength: 60 })
    },
    ({ commands, options }, ctx) =>
      runSequence(options, commands).pipe(
        Effect.tapDefect(() => Effect.sync(() => totals.invariantViolations++)),
        Effect.ensuring(Effect.sync(() => {
          const {
            closedConnectionsLent,
            closedMoreThanOnce,
            connectionsLeaked,
            doubleLends,
            invariantViolations,
            neverClosed,
            ...did
          } = totals
          recordReliability(ctx, {
            family: "Model-based property tests",
            did,
            held: {
              invariantViolations,
              connectionsLeaked,
              closedMoreThanOnce,
              neverClosed,
              doubleLends,
              closedConnectionsLent
            }
          })
        }))
      ),
    { timeout: bySize(60_000, 540_000), seed: propertySeed, runs: bySize(40, 500), size: 240 }
  )
})

/**
 * Regression tests for a bug the model found, reduced to its smallest cases (fixed in the engine since): opens that
 * were in flight when `resize` lowered `maxConnections` delivered their connections afterwards, lending or keeping
 * connections above the new maximum, because `resize` counted only open connections and a finished open handed its
 * connection on without looking at the bound in force.
 */
describe("found by the model: a shrink while opens are in flight", () => {
  /** The test connector with opens that take 100 ms of the `TestClock`, so they can be caught in flight. */
  const slowOpening = () => {
    const { connector, state } = makeTestConnector()
    return {
      state,
      connector: Connector.make({
        open: Effect.andThen(Effect.sleep("100 millis"), connector.open),
        check: connector.check,
        isOpen: connector.isOpen
      })
    }
  }

  it.scoped("connections opened for minConnections are not left idle above the new maximum", () =>
    Effect.gen(function*() {
      const { connector, state } = slowOpening()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 2, minConnections: 2 })
      yield* pool.resize({ maxConnections: 1, minConnections: 0 }) // both opens are in flight
      yield* TestClock.adjust("100 millis")
      // whatever a fixed pool does with the second open (not start it, drop it, close it), it is over by now
      yield* Effect.repeat(Edge.yieldNow, { times: 500 })
      const stats = yield* pool.stats
      assert.isAtMost(state.open, 1, `open above maxConnections 1: ${stats.summary}`)
      assert.isAtMost(stats.total, 1, stats.summary)
    }))

  it.scoped("waiters are not lent connections above the new maximum", () =>
    Effect.gen(function*() {
      const { connector, state } = slowOpening()
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 2 })
      const release = yield* Deferred.make<void>()
      const borrowers = yield* Effect.forEach([1, 2], () => Effect.forkScoped(pool.use(() => Deferred.await(release))))
      yield* eventually(() => Effect.map(pool.stats, (s) => s.waiting === 2))
      yield* pool.resize({ maxConnections: 1 }) // the two opens for them are in flight
      yield* TestClock.adjust("100 millis")
      yield* eventually(() => state.openAttempts === 2 && state.opened === 2)
      yield* eventually(() => Effect.map(pool.stats, (s) => s.inUse + s.waiting === 2))
      const stats = yield* pool.stats
      assert.isAtMost(stats.inUse, 1, `lent above maxConnections 1: ${stats.summary}`)
      assert.isAtMost(yield* pool.activeConnections, 1, stats.summary)
      // and nobody is stranded: the second borrower is served once the first returns
      yield* Deferred.succeed(release, undefined)
      yield* Effect.forEach(borrowers, Fiber.join, { discard: true })
      assert.strictEqual((yield* pool.stats).inUse, 0)
    }))
})
