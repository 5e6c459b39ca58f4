/**
 * The pool: its public face, and the composition of its parts. Each part owns its state; calls go one
 * way, from the pool down to the parts and from them to the lending structure (`Engine`), which tells
 * the parts around it what happened through one listener:
 *
 *   pool -> loans, maintenance, lifetimes, leak watch, shutdown -> opener -> open gate, engine -> waiters
 *
 * The module map, file by file, is in the package's ARCHITECTURE.md.
 */
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { pipeArguments } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  BorrowError,
  ConnectionInfo,
  ConnectionPool,
  Options,
  PooledConnection,
  PoolStats,
  TypeId as ConnectionPoolTypeId
} from "../ConnectionPool.js"
import type { Connector } from "../Connector.js"
import { ConnectionError, InvalidPoolOptions, type OptionIssue, PoolTimeoutError } from "../PoolError.js"
import type * as PoolEvent from "../PoolEvent.js"
import { Checks } from "./checks.js"
import { ConnectorCalls } from "./connectorCalls.js"
import * as edge from "./edge/effect.js"
import { Engine } from "./engine.js"
import { leakWatch } from "./leakWatch.js"
import { Lifetimes } from "./lifetimes.js"
import { Loans } from "./loans.js"
import { Maintenance } from "./maintenance.js"
import { endOfEvents, Observer } from "./observer.js"
import { Opener } from "./opener.js"
import { OpenGate } from "./openGate.js"
import { fromConfig, resolve, type ResolvedOptions } from "./options.js"
import * as Retire from "./retire.js"
import { SharedEngine } from "./sharedEngine.js"
import { SharedLoans } from "./sharedLoans.js"
import { Shutdown } from "./shutdown.js"
import { connectionInfo, Counters, snapshot } from "./stats.js"

/** @internal */
export const TypeId: ConnectionPoolTypeId = Symbol.for("@connection-pool/core/ConnectionPool") as ConnectionPoolTypeId

/** What the pool takes from the runtime it is built in. */
interface Runtime {
  readonly now: () => number
  readonly monotonicNow: () => number
  readonly run: (effect: Effect.Effect<unknown>) => edge.RunningFiber
  readonly retryStepper: edge.ScheduleStepper | undefined
}

class PoolImpl<A, R> implements ConnectionPool<A> {
  readonly [TypeId]: ConnectionPoolTypeId = TypeId
  readonly observer: Observer
  readonly counters = new Counters()
  readonly engine: Engine<A>
  readonly gate: OpenGate
  readonly lifetimes: Lifetimes<A>
  readonly opener: Opener<A>
  readonly loans: Loans<A>
  readonly maintenance: Maintenance<A>
  readonly shutdown: Shutdown<A>

  constructor(
    connector: Connector<A, unknown, R>,
    readonly options: ResolvedOptions,
    context: Context.Context<R>,
    runtime: Runtime
  ) {
    this.observer = new Observer(options.name, options.metrics, context as Context.Context<never>)
    // Every call into the connector goes through here: none of them throws into the pool's bookkeeping.
    const calls = new ConnectorCalls(options.name, connector, context, runtime.run, (connection) => {
      for (const record of this.engine.records.values()) if (record.connection === connection) return record.id
      return undefined
    })
    const engine = new (options.concurrency > 1 ? SharedEngine : Engine)<A>(
      options,
      {
        isOpen: calls.isOpen,
        now: runtime.now,
        monotonicNow: runtime.monotonicNow,
        run: runtime.run
      },
      this.observer,
      this.counters
    )
    const gate = new OpenGate(options, runtime.monotonicNow, runtime.retryStepper, runtime.run)
    const checks = new Checks(options, calls, this.counters, this.observer)
    const shutdown = new Shutdown(options, engine, gate, this.counters)
    this.lifetimes = new Lifetimes(options, engine)
    this.opener = new Opener(
      options,
      engine,
      gate,
      this.lifetimes,
      this.counters,
      this.observer,
      (scope) => calls.open(scope),
      () => shutdown.checkDrained()
    )
    engine.listener = {
      // An open breaker, or the pause after a failed open with nothing open: the borrower hears of it now.
      refuseWaiter: () => gate.blocks() ? gate.unavailable() : gate.refusal(engine.openCount),
      waiterArrived: () => {
        gate.borrowerArrived()
        this.opener.openIfNeeded()
      },
      connectionClosed: () => {
        this.opener.afterClose()
        shutdown.checkDrained()
      },
      // With nothing open and opens failing, the failure is the news, not the wait.
      timedOut: () =>
        (engine.openCount === 0 ? gate.lastError : undefined) ?? new PoolTimeoutError({
          reason: "AcquireTimeout",
          pool: options.name,
          timeout: options.connectionTimeout,
          lastOpenError: gate.lastError
        }),
      loadRose: () => this.opener.openIfNeeded()
    }
    this.engine = engine
    this.gate = gate
    this.shutdown = shutdown
    this.loans = new (options.concurrency > 1 ? SharedLoans : Loans)(options, engine, checks, calls.isFault)
    this.maintenance = new Maintenance(options, engine, checks, this.opener)
  }

  get name() {
    return this.options.name
  }
  get maxConnections() {
    return this.engine.maxConnections
  }
  get connectionTimeout() {
    return this.options.connectionTimeout
  }

  pipe() {
    return pipeArguments(this, arguments)
  }

  use<B, E2, R2>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E2 | BorrowError, R2> {
    return this.loans.use(f)
  }

  get get(): Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> {
    return this.loans.get
  }

  release(handle: PooledConnection<A>): Effect.Effect<void> {
    return handle.release
  }

  get cleanUpStale(): Effect.Effect<number> {
    return this.maintenance.cleanUpStale
  }

  /**
   * Changes the bounds. Growing opens connections for waiters at once; shrinking closes idle connections
   * above the new maximum now and lent ones when they come back (never taken from their borrowers).
   */
  resize(bounds: {
    readonly maxConnections?: number | undefined
    readonly minConnections?: number | undefined
  }): Effect.Effect<void, InvalidPoolOptions> {
    return Effect.suspend(() => {
      const misfit = resizeBoundsIssues(bounds)
      if (misfit.length > 0) return Effect.fail(new InvalidPoolOptions({ reason: "InvalidValue", issues: misfit }))
      const maxConnections = bounds.maxConnections ?? this.engine.maxConnections
      const minConnections = bounds.minConnections ?? this.engine.minConnections
      return Effect.flatMap(edge.fromOutcome(resolve({ maxConnections, minConnections })), (checked) => {
        const closes = Retire.resize(this.engine, checked.maxConnections, checked.minConnections)
        this.opener.openIfNeeded()
        return Effect.all(closes, { discard: true })
      })
    })
  }

  // ---- observing -----------------------------------------------------------------------------------

  readonly availablePermits: Effect.Effect<number> = Effect.sync(() =>
    Math.max(0, this.engine.maxConnections * this.options.concurrency - this.engine.lent)
  )

  readonly activeConnections: Effect.Effect<number> = Effect.sync(() => this.engine.openCount)

  readonly events: Stream.Stream<PoolEvent.PoolEvent> = edge.scopedStream(
    Effect.map(Effect.suspend(() => this.observer.subscribe), (queue) =>
      edge.queueStream(queue).pipe(
        Stream.takeWhile((event): event is PoolEvent.PoolEvent => event !== endOfEvents)
      ))
  )

  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>> = Effect.sync(() =>
    Array.from(this.engine.records.values(), connectionInfo)
  )

  readonly stats: Effect.Effect<PoolStats> = Effect.sync(() =>
    snapshot(this.options.name, this.engine, this.counters, this.engine.limits)
  )
}

/** What `resize` accepts: an object of `maxConnections` and `minConnections`, nothing else (a misspelt bound). */
const resizeBoundsIssues = (bounds: unknown): Array<OptionIssue> => {
  if (typeof bounds !== "object" || bounds === null) {
    return [{ field: "bounds", value: bounds, message: "must be an object of maxConnections and minConnections" }]
  }
  return Object.keys(bounds).filter((field) => field !== "maxConnections" && field !== "minConnections").map((
    field
  ) => ({
    field,
    value: (bounds as Record<string, unknown>)[field],
    message: "is not a bound resize can change (maxConnections, minConnections)"
  }))
}

const makeResolved = <A, E, R>(
  connector: Connector<A, E, R>,
  options: ResolvedOptions
): Effect.Effect<ConnectionPool<A>, ConnectionError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const { monotonicNow, now } = yield* edge.clockReaders
    // Background fibers (opens, closes, the timeout reaper) run here; interrupted last, after the
    // shutdown below. They start on the scheduler, never inside the caller's stack: an open that
    // completes at once would otherwise start the next one recursively, a thousand frames deep for a
    // pool of a thousand.
    const run = yield* edge.makeRunner
    const retryStepper = options.openRetry === undefined ? undefined : yield* edge.makeStepper(options.openRetry)
    const pool = new PoolImpl<A, R>(connector, options, context, { now, monotonicNow, run, retryStepper })
    // Finalizers run last-added first: subscribers' streams end after the shutdown's events.
    yield* Effect.addFinalizer(() => pool.observer.end())
    yield* Effect.addFinalizer(() => pool.shutdown.run(pool.opener))
    // Finalizers run last-added first: the maintenance fibers stop before the shutdown.
    yield* Effect.forkScoped(pool.maintenance.fiber)
    if (pool.lifetimes.anyFinite) yield* Effect.forkScoped(pool.lifetimes.sweep)
    if (Duration.isFinite(options.leakDetectionThreshold)) yield* Effect.forkScoped(leakWatch(options, pool.engine))
    pool.opener.openIfNeeded() // towards minConnections
    if (options.warmUp && options.minConnections > 0) {
      yield* edge.timeoutFail(Deferred.await(pool.opener.warmed), options.connectionTimeout, () =>
        new ConnectionError({
          reason: "OpenTimedOut",
          pool: options.name,
          cause: `${options.minConnections} connection(s) not open within ${Duration.format(options.connectionTimeout)}`
        }))
    }
    return pool
  })

/** @internal */
export const make = <A, E, R>(
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Effect.Effect<ConnectionPool<A>, InvalidPoolOptions | ConnectionError, Scope.Scope | R> =>
  Effect.flatMap(edge.fromOutcome(resolve(options)), (resolved) => makeResolved(connector, resolved))

/** @internal */
export const layer = <I, A, E, R>(
  tag: edge.ServiceKey<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> =>
  edge.scopedLayer(tag, make(connector, options))

/** @internal */
export const layerConfig = <I, A, E, R>(
  tag: edge.ServiceKey<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  config: edge.ConfigOf<Options>
): Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> =>
  edge.scopedLayer(tag, Effect.flatMap(fromConfig(config), (resolved) => makeResolved(connector, resolved)))
