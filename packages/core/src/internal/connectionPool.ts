import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type {
  BorrowError,
  ConnectionInfo,
  ConnectionPool,
  ConnectionState,
  Options,
  PooledConnection,
  PoolStats,
  TypeId as ConnectionPoolTypeId
} from "../ConnectionPool.js"
import type { Connector } from "../Connector.js"
import { ConnectionError, type InvalidPoolOptions, PoolClosedError, PoolTimeoutError } from "../PoolError.js"
import * as Engine from "./engine.js"
import * as Health from "./health.js"
import { fromConfig, resolve, type ResolvedOptions } from "./options.js"

/** @internal */
export const TypeId: ConnectionPoolTypeId = Symbol.for("@connection-pool/core/ConnectionPool") as ConnectionPoolTypeId

type RecordState = "idle" | "in-use" | "checking" | "retired"

/** The pool's health record of one open connection. Mutated only by the pool, never across a yield. */
class ConnectionRecord<A> {
  state: RecordState = "idle"
  /**
   * True while a borrower holds this connection's slot, from taking it out of the engine until giving it
   * back, including the moment it waits for a health check in progress. The maintenance fiber leaves a
   * reserved connection alone.
   */
  reserved = false
  invalidated = false
  healthScore = Health.initialScore
  errorCount = 0
  useCount = 0
  lastUsedAt: number
  /** Held by the health check; a borrower that receives a connection mid-check waits for it. */
  readonly checkLock = Effect.unsafeMakeSemaphore(1)
  readonly slot: OpenSlot<A>

  constructor(readonly id: number, readonly connection: A, readonly createdAt: number) {
    this.lastUsedAt = createdAt
    this.slot = { _tag: "Open", record: this }
  }
}

interface OpenSlot<A> {
  readonly _tag: "Open"
  readonly record: ConnectionRecord<A>
}

/** A failed open, kept as a slot so that the borrower it reaches can retire it and have the engine retry. */
interface FailedSlot {
  readonly _tag: "Failed"
  readonly error: ConnectionError
  readonly failedAt: number
}

type Slot<A> = OpenSlot<A> | FailedSlot

class Handle<A> implements PooledConnection<A> {
  constructor(private readonly record: ConnectionRecord<A>, private readonly scope: Scope.CloseableScope) {}
  get id() {
    return this.record.id
  }
  get connection() {
    return this.record.connection
  }
  get createdAt() {
    return this.record.createdAt
  }
  get lastUsedAt() {
    return this.record.lastUsedAt
  }
  get healthScore() {
    return this.record.healthScore
  }
  get errorCount() {
    return this.record.errorCount
  }
  get useCount() {
    return this.record.useCount
  }
  get release(): Effect.Effect<void> {
    return Scope.close(this.scope, Exit.void)
  }
  get invalidate(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.record.invalidated = true
    })
  }
}

class PoolImpl<A, E, R> implements ConnectionPool<A> {
  readonly [TypeId]: ConnectionPoolTypeId = TypeId
  readonly records = new Map<number, ConnectionRecord<A>>()
  readonly failedSlots = new Set<FailedSlot>()
  engine!: Engine.Engine<Slot<A>>
  isClosed = false
  waiting = 0
  lent = 0
  nextId = 1
  created = 0
  closed = 0
  openFailures = 0
  timeouts = 0
  healthChecks = 0
  healthCheckFailures = 0

  constructor(
    readonly connector: Connector<A, E, R>,
    readonly options: ResolvedOptions,
    readonly context: Context.Context<R>,
    readonly clock: Clock.Clock
  ) {}

  get name() {
    return this.options.name
  }
  get maxConnections() {
    return this.options.maxConnections
  }
  get connectionTimeout() {
    return this.options.connectionTimeout
  }

  pipe() {
    return pipeArguments(this, arguments)
  }

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  isUnhealthy(record: ConnectionRecord<A>): boolean {
    return record.healthScore <= this.options.unhealthyScore || record.errorCount >= this.options.maxErrors
  }

  // ---- opening and closing -------------------------------------------------------------------------

  /** Opens one connection into the engine's slot scope; never fails (a failed open is a `FailedSlot`). */
  readonly openSlot: Effect.Effect<Slot<A>, never, R | Scope.Scope> = Effect.matchCauseEffect(
    Effect.suspend(() => this.connector.open),
    {
      onFailure: (cause) =>
        Effect.suspend(() => {
          this.openFailures++
          const slot: FailedSlot = {
            _tag: "Failed",
            error: new ConnectionError({ reason: "OpenFailed", pool: this.name, cause: Cause.squash(cause) }),
            failedAt: this.now()
          }
          this.failedSlots.add(slot)
          return Effect.as(Effect.addFinalizer(() => Effect.sync(() => this.failedSlots.delete(slot))), slot)
        }),
      onSuccess: (connection) =>
        Effect.suspend(() => {
          const record = new ConnectionRecord(this.nextId++, connection, this.now())
          this.records.set(record.id, record)
          this.created++
          return Effect.as(
            Effect.addFinalizer(() =>
              Effect.sync(() => {
                record.state = "retired"
                this.records.delete(record.id)
                this.closed++
              })
            ),
            record.slot
          )
        })
    }
  )

  /** Closes a connection as soon as nobody holds it; the engine then opens a replacement if needed. */
  retire(record: ConnectionRecord<A>): Effect.Effect<void> {
    return Effect.suspend(() => {
      record.state = "retired"
      return this.engine.retire(record.slot)
    })
  }

  // ---- borrowing -----------------------------------------------------------------------------------

  readonly get: Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> = Effect.flatMap(
    Effect.scope,
    (outer) =>
      Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (scope) =>
        this.borrowInto(scope).pipe(
          Effect.onExit((exit): Effect.Effect<void> => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void),
          Effect.map((record): PooledConnection<A> => new Handle(record, scope))
        ))
  )

  use<B, E2, R2>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E2 | BorrowError, R2> {
    return Effect.acquireUseRelease(
      Scope.make(),
      (scope) => Effect.flatMap(this.borrowInto(scope), (record) => f(record.connection, new Handle(record, scope))),
      (scope, exit) => Scope.close(scope, exit)
    )
  }

  release(handle: PooledConnection<A>): Effect.Effect<void> {
    return handle.release
  }

  /**
   * Lends a connection whose every resource (the engine's slot, the reservation, the loan) is tied to
   * `scope`: the caller closes `scope` to give it back, or when borrowing fails. That is what makes a
   * borrower interrupted or timed out at any point leave the pool as it found it.
   */
  borrowInto(scope: Scope.Scope): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    return Effect.suspend((): Effect.Effect<ConnectionRecord<A>, BorrowError> => {
      if (this.isClosed) {
        return Effect.fail(new PoolClosedError({ reason: "PoolClosed", pool: this.name }))
      }
      this.waiting++
      const startedAt = this.now()
      return this.lendLoop(scope, startedAt).pipe(
        Effect.timeoutFail({
          duration: this.options.connectionTimeout,
          onTimeout: () => {
            this.timeouts++
            return new PoolTimeoutError({
              reason: "AcquireTimeout",
              pool: this.name,
              timeout: this.options.connectionTimeout
            })
          }
        }),
        // The engine interrupts its waiters when it shuts down; say why instead.
        Effect.catchAllCause((cause): Effect.Effect<never, BorrowError> =>
          this.isClosed && Cause.isInterruptedOnly(cause)
            ? Effect.fail(new PoolClosedError({ reason: "ClosedWhileWaiting", pool: this.name }))
            : Effect.failCause(cause)
        ),
        Effect.ensuring(Effect.sync(() => {
          this.waiting--
        }))
      )
    })
  }

  lendLoop(scope: Scope.Scope, startedAt: number): Effect.Effect<ConnectionRecord<A>, ConnectionError> {
    return Effect.flatMap(
      this.lendOnce(scope, startedAt),
      (record) => record === undefined ? this.lendLoop(scope, startedAt) : Effect.succeed(record)
    )
  }

  /** One try: a lent connection, a failure, or `undefined` when the slot taken could not be lent. */
  lendOnce(scope: Scope.Scope, startedAt: number): Effect.Effect<ConnectionRecord<A> | undefined, ConnectionError> {
    return Effect.flatMap(
      Scope.fork(scope, ExecutionStrategy.sequential),
      (attempt) =>
        Effect.flatMap(this.engine.take(attempt), (slot) => {
          if (slot._tag === "Failed") {
            // Retiring a failed open makes the engine open again for whoever still waits, so every
            // waiter hears of a failure promptly. An old failure (from before this borrower came) is
            // not this borrower's: it waits for a fresh attempt instead.
            return this.engine.retire(slot).pipe(
              Effect.zipRight(Scope.close(attempt, Exit.void)),
              Effect.zipRight(slot.failedAt >= startedAt ? Effect.fail(slot.error) : Effect.succeed(undefined))
            )
          }
          return this.reserveAndLend(slot.record, attempt)
        })
    )
  }

  reserveAndLend(
    record: ConnectionRecord<A>,
    attempt: Scope.CloseableScope
  ): Effect.Effect<ConnectionRecord<A> | undefined> {
    const reserve = Effect.uninterruptible(Effect.suspend(() => {
      record.reserved = true
      return Scope.addFinalizer(
        attempt,
        Effect.sync(() => {
          record.reserved = false
        })
      )
    }))
    const waitForCheck = Effect.suspend(() =>
      record.state === "checking" ? record.checkLock.withPermits(1)(Effect.void) : Effect.void
    )
    const lend = Effect.uninterruptible(Effect.suspend(() => {
      if (record.state === "retired" || record.invalidated || !this.connector.isOpen(record.connection)) {
        return this.retire(record).pipe(Effect.zipRight(Scope.close(attempt, Exit.void)), Effect.as(undefined))
      }
      record.state = "in-use"
      record.useCount++
      record.lastUsedAt = this.now()
      this.lent++
      return Effect.as(Scope.addFinalizerExit(attempt, (exit) => this.giveBack(record, exit)), record)
    }))
    return reserve.pipe(Effect.zipRight(waitForCheck), Effect.zipRight(lend))
  }

  /** Runs when a loan's scope closes, with the borrower's exit. */
  giveBack(record: ConnectionRecord<A>, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.lent--
      record.lastUsedAt = this.now()
      if (Exit.isFailure(exit) && this.connector.isFault(exit.cause)) {
        record.errorCount++
        record.healthScore = Health.afterFault(record.healthScore)
      }
      if (record.invalidated || this.isUnhealthy(record) || !this.connector.isOpen(record.connection)) {
        return this.retire(record)
      }
      record.state = "idle"
      return Effect.void
    })
  }

  // ---- maintenance ---------------------------------------------------------------------------------

  readonly cleanUpStale: Effect.Effect<number> = Effect.suspend(() => {
    const now = this.now()
    const staleMillis = Duration.toMillis(this.options.staleAfter)
    const doomed: Array<ConnectionRecord<A>> = []
    for (const record of this.records.values()) {
      if (
        !record.reserved && record.state === "idle" &&
        (this.isUnhealthy(record) || now - record.lastUsedAt >= staleMillis)
      ) {
        doomed.push(record)
      }
    }
    return Effect.as(Effect.forEach(doomed, (record) => this.retire(record), { discard: true }), doomed.length)
  })

  checkOne(record: ConnectionRecord<A>): Effect.Effect<void> {
    return record.checkLock.withPermitsIfAvailable(1)(Effect.suspend(() => {
      if (record.reserved || record.state !== "idle") {
        return Effect.void
      }
      record.state = "checking"
      this.healthChecks++
      return Effect.suspend(() => this.connector.check(record.connection)).pipe(
        Effect.provide(this.context),
        Effect.timeoutFail({
          duration: this.options.healthCheckTimeout,
          onTimeout: () =>
            new ConnectionError({
              reason: "CheckTimedOut",
              pool: this.name,
              connectionId: record.id,
              cause: `no answer within ${Duration.format(this.options.healthCheckTimeout)}`
            })
        }),
        Effect.exit,
        Effect.flatMap((exit) => {
          if (record.state === "checking") record.state = "idle"
          if (Exit.isSuccess(exit)) {
            record.healthScore = Health.afterCheckSucceeded(record.healthScore)
            return Effect.void
          }
          this.healthCheckFailures++
          record.errorCount++
          record.healthScore = Health.afterCheckFailed(record.healthScore)
          const failure = Cause.squash(exit.cause)
          const error = failure instanceof ConnectionError
            ? failure
            : new ConnectionError({ reason: "CheckFailed", pool: this.name, connectionId: record.id, cause: failure })
          return Effect.logWarning("health check failed", error).pipe(
            Effect.annotateLogs({ pool: this.name, connectionId: record.id, healthScore: record.healthScore }),
            Effect.zipRight(this.isUnhealthy(record) ? this.retire(record) : Effect.void)
          )
        }),
        Effect.ensuring(Effect.sync(() => {
          if (record.state === "checking") record.state = "idle"
        }))
      )
    }))
  }

  readonly checkIdle: Effect.Effect<void> = Effect.suspend(() => {
    const idle = Array.from(this.records.values()).filter((record) => !record.reserved && record.state === "idle")
    return Effect.forEach(idle, (record) => this.checkOne(record), { concurrency: "unbounded", discard: true })
  })

  /** Retiring a failed open makes the engine open again, so `minConnections` is retried every tick. */
  readonly retryFailedOpens: Effect.Effect<void> = Effect.suspend(() =>
    Effect.forEach(Array.from(this.failedSlots), (slot) => this.engine.retire(slot), { discard: true })
  )

  /** One health tick: retry failed opens, check idle connections, retire stale and unhealthy ones. */
  get tick(): Effect.Effect<void> {
    return this.retryFailedOpens.pipe(
      Effect.zipRight(this.checkIdle),
      Effect.zipRight(this.cleanUpStale),
      Effect.flatMap((retired) =>
        retired > 0 ? Effect.logDebug(`health tick retired ${retired} connection(s)`) : Effect.void
      ),
      Effect.catchAllCause((cause) => Effect.logError("health tick failed", cause)),
      Effect.annotateLogs({ pool: this.options.name })
    )
  }

  /** The maintenance fiber's work: a health tick every `healthCheckInterval`, the first one interval in. */
  get maintenance(): Effect.Effect<void> {
    return Effect.asVoid(Effect.schedule(this.tick, Schedule.spaced(this.options.healthCheckInterval)))
  }

  // ---- observing -----------------------------------------------------------------------------------

  readonly availablePermits: Effect.Effect<number> = Effect.sync(() => this.options.maxConnections - this.lent)

  readonly activeConnections: Effect.Effect<number> = Effect.sync(() => this.records.size)

  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>> = Effect.sync(() =>
    Array.from(this.records.values(), (record): ConnectionInfo => ({
      id: record.id,
      createdAt: record.createdAt,
      lastUsedAt: record.lastUsedAt,
      healthScore: record.healthScore,
      errorCount: record.errorCount,
      useCount: record.useCount,
      state: publicState(record.state)
    }))
  )

  readonly stats: Effect.Effect<PoolStats> = Effect.sync(() => {
    let inUse = 0
    let healthy = 0
    let scoreSum = 0
    for (const record of this.records.values()) {
      if (record.state === "in-use") inUse++
      if (!this.isUnhealthy(record)) healthy++
      scoreSum += record.healthScore
    }
    const total = this.records.size
    return makeStats({
      name: this.name,
      total,
      idle: total - inUse,
      inUse,
      healthy,
      unhealthy: total - healthy,
      waiting: this.waiting,
      maxConnections: this.options.maxConnections,
      utilization: inUse / this.options.maxConnections,
      created: this.created,
      closed: this.closed,
      openFailures: this.openFailures,
      timeouts: this.timeouts,
      healthChecks: this.healthChecks,
      healthCheckFailures: this.healthCheckFailures,
      averageScore: total === 0 ? Health.initialScore : scoreSum / total
    })
  })
}

const publicState = (state: RecordState): ConnectionState => state === "retired" ? "in-use" : state

const makeStats = (fields: Omit<PoolStats, "summary">): PoolStats => ({
  ...fields,
  summary: summarize(fields)
})

/** @internal */
export const summarize = (s: Omit<PoolStats, "summary">): string =>
  `pool "${s.name}": ${s.total}/${s.maxConnections} open (${s.inUse} in use, ${s.idle} idle), ` +
  `${s.waiting} waiting, ${s.healthy} healthy, ${s.unhealthy} unhealthy, ` +
  `utilization ${(s.utilization * 100).toFixed(1)}%, avg score ${s.averageScore.toFixed(1)}, ` +
  `created ${s.created}, closed ${s.closed}, open failures ${s.openFailures}, timeouts ${s.timeouts}, ` +
  `health checks ${s.healthChecks} (${s.healthCheckFailures} failed)`

const makeResolved = <A, E, R>(
  connector: Connector<A, E, R>,
  options: ResolvedOptions
): Effect.Effect<ConnectionPool<A>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const clock = yield* Effect.clock
    const pool = new PoolImpl(connector, options, context, clock)
    pool.engine = yield* Engine.make({
      open: pool.openSlot,
      min: options.minConnections,
      max: options.maxConnections,
      timeToLive: options.timeToLive,
      timeToLiveStrategy: options.timeToLiveStrategy
    })
    // Finalizers run last-added first: the pool stops lending before the engine shuts down.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        pool.isClosed = true
      })
    )
    yield* Effect.forkScoped(pool.maintenance)
    return pool
  })

/** @internal */
export const make = <A, E, R>(
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Effect.Effect<ConnectionPool<A>, InvalidPoolOptions, Scope.Scope | R> =>
  Effect.flatMap(resolve(options), (resolved) => makeResolved(connector, resolved))

/** @internal */
export const layer = <I, A, E, R>(
  tag: Context.Tag<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Layer.Layer<I, InvalidPoolOptions, Exclude<R, Scope.Scope>> => Layer.scoped(tag, make(connector, options))

/** @internal */
export const layerConfig = <I, A, E, R>(
  tag: Context.Tag<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  config: Config.Config.Wrap<Options>
): Layer.Layer<I, InvalidPoolOptions, Exclude<R, Scope.Scope>> =>
  Layer.scoped(tag, Effect.flatMap(fromConfig(config), (resolved) => makeResolved(connector, resolved)))
