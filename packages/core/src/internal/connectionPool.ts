import * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
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
import { ConnectionError, InvalidPoolOptions, type OptionIssue, ReleasedHandleError } from "../PoolError.js"
import type * as PoolEvent from "../PoolEvent.js"
import { Engine, isConnectionError } from "./engine.js"
import * as Health from "./health.js"
import { endOfEvents, Observer } from "./observer.js"
import { fromConfig, resolve, type ResolvedOptions } from "./options.js"
import type { ConnectionRecord, RecordState } from "./record.js"

const borrowSpanName = "connection-pool.borrow"

/** @internal */
export const TypeId: ConnectionPoolTypeId = Symbol.for("@connection-pool/core/ConnectionPool") as ConnectionPoolTypeId

/** One loan of a connection: returning it twice, or after a later loan began, does nothing. */
class Loan<A> implements PooledConnection<A> {
  returned = false
  constructor(private readonly pool: PoolImpl<A, any, any>, readonly record: ConnectionRecord<A>) {}
  get id() {
    return this.record.id
  }
  get connection() {
    // once returned, the connection may be someone else's: the handle no longer reaches it
    if (this.returned) {
      throw new ReleasedHandleError({
        reason: "UsedAfterRelease",
        pool: this.pool.name,
        connectionId: this.record.id
      })
    }
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
    return this.pool.giveBack(this, undefined)
  }
  get invalidate(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.returned) this.record.invalidated = true
    })
  }
}

class PoolImpl<A, E, R> implements ConnectionPool<A> {
  readonly [TypeId]: ConnectionPoolTypeId = TypeId
  readonly engine: Engine<A>
  healthChecks = 0
  healthCheckFailures = 0
  readonly staleMillis: number
  readonly validationMillis: number
  /** Whether loans need more than taking a connection: validation on borrow, or noting the borrower. */
  readonly preparesLoans: boolean
  /** Whether each loan's borrower is noted: for leak detection, or to interrupt it at a late shutdown. */
  readonly notesBorrowers: boolean
  readonly now: () => number
  readonly observer: Observer
  readonly traceBorrows: boolean
  readonly metrics: boolean
  readonly monotonicNow: () => number

  constructor(
    readonly connector: Connector<A, E, R>,
    readonly options: ResolvedOptions,
    readonly context: Context.Context<R>,
    clock: {
      readonly now: () => number
      readonly monotonicNow: () => number
      readonly run: (effect: Effect.Effect<unknown>) => Fiber.RuntimeFiber<unknown>
      readonly retryDriver: Schedule.ScheduleDriver<unknown, unknown> | undefined
    }
  ) {
    this.now = clock.now
    this.staleMillis = Duration.toMillis(options.staleAfter)
    this.validationMillis = Duration.toMillis(options.validationWindow)
    this.notesBorrowers = Duration.isFinite(options.leakDetectionThreshold) ||
      Duration.isFinite(options.shutdownTimeout)
    this.preparesLoans = options.validateOnBorrow || this.notesBorrowers
    this.traceBorrows = options.traceBorrows
    this.metrics = options.metrics
    this.monotonicNow = clock.monotonicNow
    this.observer = new Observer(options.name, options.metrics)
    this.engine = new Engine(
      options,
      {
        open: (scope) => Effect.provide(Scope.extend(connector.open, scope), context),
        isOpen: connector.isOpen,
        now: clock.now,
        monotonicNow: clock.monotonicNow,
        run: clock.run
      },
      this.observer,
      clock.retryDriver
    )
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

  isUnhealthy(record: ConnectionRecord<A>): boolean {
    return record.healthScore <= this.options.unhealthyScore || record.errorCount >= this.options.maxErrors
  }

  // ---- borrowing -----------------------------------------------------------------------------------
  // The hot path: one uninterruptible region in which only the wait for a connection and the user's
  // effect are interruptible (`restore`), so a borrower interrupted anywhere returns what it holds.

  use<B, E2, R2>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E2 | BorrowError, R2> {
    return Effect.uninterruptibleMask((restore) => {
      if (this.traceBorrows) {
        return Effect.flatMap(this.tracedAcquire(restore), (record) => this.useWith(record, f, restore))
      }
      // Evaluated inside the uninterruptible region: an idle connection is taken here synchronously, so
      // the common case spends no effect on acquiring it.
      const record = this.engine.isClosed ? undefined : this.engine.takeIdle()
      if (record !== undefined && !this.preparesLoans) {
        if (this.metrics) this.loanStarted(record, 0)
        return this.useWith(record, f, restore)
      }
      return Effect.flatMap(this.acquireTimed(record, restore), (record) => this.useWith(record, f, restore))
    })
  }

  /**
   * With `traceBorrows`: the acquisition (waiting, validating) in a `connection-pool.borrow` span that
   * names the connection lent. Off the hot path: a span costs more than a borrow.
   */
  tracedAcquire(
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    return Effect.suspend(() => this.acquireTimed(this.engine.isClosed ? undefined : this.engine.takeIdle(), restore))
      .pipe(
        Effect.tap((record) => Effect.annotateCurrentSpan("connection.id", record.id)),
        Effect.withSpan(borrowSpanName, { attributes: { "pool.name": this.name } })
      )
  }

  /**
   * The slow path, timed when metrics are on: the wait and the hold start once the borrower has the
   * connection, validated, so a connection that fails validation (or goes back from an interrupted
   * waiter) adds no sample.
   */
  acquireTimed(
    record: ConnectionRecord<A> | undefined,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    if (!this.metrics) return this.acquirePrepared(record, restore)
    const startedAt = this.monotonicNow()
    return Effect.map(this.acquirePrepared(record, restore), (record) => {
      this.loanStarted(record, this.monotonicNow() - startedAt)
      return record
    })
  }

  /** With metrics: the borrower has the connection after waiting this long; its hold starts now. */
  loanStarted(record: ConnectionRecord<A>, waitedMillis: number): void {
    record.lentAt = this.now()
    this.observer.acquired(waitedMillis)
  }

  /**
   * Waits for a connection if `record` is undefined, then validates it and notes its borrower when the
   * options ask for it.
   */
  acquirePrepared(
    record: ConnectionRecord<A> | undefined,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    const acquired = record === undefined ? this.engine.acquire(restore) : record.lent
    return this.preparesLoans ? Effect.flatMap(acquired, (record) => this.prepare(record, restore)) : acquired
  }

  /** Validation on borrow, then leak-detection bookkeeping; a connection that fails validation is retired. */
  prepare(
    record: ConnectionRecord<A>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    const validated = this.options.validateOnBorrow && this.now() - record.lastUsedAt >= this.validationMillis
      ? this.validate(record, restore)
      : record.lent
    return this.notesBorrowers ? Effect.flatMap(validated, (record) => this.noteBorrower(record)) : validated
  }

  validate(
    record: ConnectionRecord<A>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    return Effect.flatMap(Effect.exit(restore(this.checkConnection(record))), (exit) => {
      if (Exit.isSuccess(exit)) {
        this.recordCheckSuccess(record)
        return record.lent
      }
      // Interrupted while validating: the connection goes back as it was.
      if (Cause.isInterruptedOnly(exit.cause)) {
        // only interruption in this cause: no failure of the check's own type escapes
        const interrupted = exit.cause as Cause.Cause<never>
        return Effect.zipRight(this.engine.recycle(record, undefined), Effect.failCause(interrupted))
      }
      this.recordCheckFailure(record)
      return Effect.zipRight(
        this.engine.recycle(record, "validation-failed"),
        this.acquirePrepared(undefined, restore)
      )
    })
  }

  /** Notes who borrowed (for leak reports and a late shutdown): the fiber, and the span it is in. */
  noteBorrower(record: ConnectionRecord<A>): Effect.Effect<ConnectionRecord<A>> {
    return Effect.withFiberRuntime((fiber) => {
      // With `traceBorrows` this runs in the pool's own borrow span: the borrower's span is its parent.
      const current = fiber.currentSpan
      const span = current !== undefined && current._tag === "Span" && current.name === borrowSpanName
        ? Option.getOrUndefined(current.parent)
        : current
      record.lentAt = this.now()
      record.leakReported = false
      record.borrowerFiber = fiber
      record.borrower = {
        fiber: FiberId.threadName(fiber.id()),
        span: span !== undefined && span._tag === "Span" ? span.name : undefined
      }
      return record.lent
    })
  }

  useWith<B, E2, R2>(
    record: ConnectionRecord<A>,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E2, R2>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<B, E2, R2> {
    const loan = new Loan(this, record)
    // `suspend`: a callback that throws while building its effect is a defect of the borrow, and the
    // connection still goes back.
    return Effect.matchCauseEffect(restore(Effect.suspend(() => f(record.connection, loan))), {
      onFailure: (cause) => Effect.zipRight(this.giveBack(loan, cause), Effect.failCause(cause)),
      onSuccess: (value) => {
        const closing = this.giveBackNow(loan, undefined)
        return closing === undefined ? Effect.succeed(value) : Effect.as(closing, value)
      }
    })
  }

  // The finalizer goes straight onto the scope: `Effect.addFinalizer` would also diff and patch the
  // fiber's FiberRefs around it, which costs more than the rest of the borrow.
  readonly get: Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> = Effect.scopeWith((scope) =>
    Effect.uninterruptibleMask((restore) => {
      if (this.traceBorrows) {
        return Effect.flatMap(this.tracedAcquire(restore), (record) => this.lendInto(scope, record))
      }
      const record = this.engine.isClosed ? undefined : this.engine.takeIdle()
      if (record !== undefined && !this.preparesLoans) {
        if (this.metrics) this.loanStarted(record, 0)
        return this.lendInto(scope, record)
      }
      return Effect.flatMap(this.acquireTimed(record, restore), (record) => this.lendInto(scope, record))
    })
  )

  lendInto(scope: Scope.Scope, record: ConnectionRecord<A>): Effect.Effect<PooledConnection<A>> {
    const loan = new Loan(this, record)
    const release = (exit: Exit.Exit<unknown, unknown>) =>
      this.giveBack(loan, exit._tag === "Failure" ? exit.cause : undefined)
    return Effect.as(Scope.addFinalizerExit(scope, release), loan)
  }

  resize(bounds: {
    readonly maxConnections?: number | undefined
    readonly minConnections?: number | undefined
  }): Effect.Effect<void, InvalidPoolOptions> {
    return Effect.suspend(() => {
      const misfit = resizeBoundsIssues(bounds)
      if (misfit.length > 0) return Effect.fail(new InvalidPoolOptions({ reason: "InvalidValue", issues: misfit }))
      const maxConnections = bounds.maxConnections ?? this.engine.maxConnections
      const minConnections = bounds.minConnections ?? this.engine.minConnections
      return Effect.flatMap(
        resolve({ maxConnections, minConnections }),
        (checked) => this.engine.resize(checked.maxConnections, checked.minConnections)
      )
    })
  }

  release(handle: PooledConnection<A>): Effect.Effect<void> {
    return handle.release
  }

  /**
   * Ends a loan with the borrower's failure (`undefined` for success): updates the health record, then
   * retires or recycles. Returns the effect that closes the connection, or `undefined` on the hot path.
   */
  giveBackNow(loan: Loan<A>, failure: Cause.Cause<unknown> | undefined): Effect.Effect<void> | undefined {
    if (loan.returned) return undefined
    loan.returned = true
    const record = loan.record
    record.borrowerFiber = undefined
    if (failure !== undefined && this.connector.isFault(failure)) {
      const previousScore = record.healthScore
      record.errorCount++
      record.healthScore = Health.afterFault(record.healthScore)
      this.observer.healthChanged(record, previousScore, record.errorCount - 1)
    }
    return this.engine.recycleNow(
      record,
      record.invalidated ? "invalidated" : this.isUnhealthy(record) ? "unhealthy" : undefined
    )
  }

  giveBack(loan: Loan<A>, failure: Cause.Cause<unknown> | undefined): Effect.Effect<void> {
    return Effect.suspend(() => this.giveBackNow(loan, failure) ?? Effect.void)
  }

  // ---- maintenance ---------------------------------------------------------------------------------

  readonly cleanUpStale: Effect.Effect<number> = Effect.suspend(() => {
    const now = this.now()
    const doomed: Array<readonly [ConnectionRecord<A>, PoolEvent.CloseReason]> = []
    for (const record of this.engine.idle) {
      const reason: PoolEvent.CloseReason | undefined = this.isUnhealthy(record)
        ? "unhealthy"
        : !this.connector.isOpen(record.connection)
        ? "disconnected"
        : now - record.lastUsedAt >= this.staleMillis
        ? "stale"
        : undefined
      if (reason !== undefined) doomed.push([record, reason])
    }
    // Counted as they go: one lent or taken for a check while an earlier one was closing is kept.
    return Effect.map(
      Effect.forEach(doomed, ([record, reason]) => this.engine.retireIdle(record, reason)),
      (retired) => retired.filter(Boolean).length
    )
  })

  /** The connector's check of one connection, bounded by `healthCheckTimeout`, in a span. */
  checkConnection(record: ConnectionRecord<A>): Effect.Effect<unknown, unknown> {
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
      Effect.withSpan("connection-pool.check", {
        attributes: { "pool.name": this.name, "connection.id": record.id }
      })
    )
  }

  recordCheckSuccess(record: ConnectionRecord<A>): void {
    const previousScore = record.healthScore
    record.healthScore = Health.afterCheckSucceeded(record.healthScore)
    this.observer.checked(true)
    this.observer.healthChanged(record, previousScore, record.errorCount)
  }

  recordCheckFailure(record: ConnectionRecord<A>): void {
    const previousScore = record.healthScore
    this.healthCheckFailures++
    record.errorCount++
    record.healthScore = Health.afterCheckFailed(record.healthScore)
    this.observer.checked(false)
    this.observer.healthChanged(record, previousScore, record.errorCount - 1)
  }

  /**
   * Checks one connection taken off the idle stack. Runs uninterruptibly but for the check itself
   * (`restore`), so the connection always ends its check: delivered, or closed (also when the check is
   * cut short because the pool is closing).
   */
  checkOne(
    record: ConnectionRecord<A>,
    restore: <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) => Effect.Effect<X, EX, RX>
  ): Effect.Effect<void> {
    return Effect.flatMap(Effect.exit(restore(this.checkConnection(record))), (exit) => {
      if (Exit.isSuccess(exit)) {
        this.recordCheckSuccess(record)
        return this.engine.endCheck(record, undefined)
      }
      // cut short: the pool is closing
      if (Cause.isInterruptedOnly(exit.cause)) return this.engine.endCheck(record, "shutdown")
      this.recordCheckFailure(record)
      const failure = Cause.squash(exit.cause)
      const error = isConnectionError(failure)
        ? failure
        : new ConnectionError({ reason: "CheckFailed", pool: this.name, connectionId: record.id, cause: failure })
      return Effect.logWarning("health check failed", error).pipe(
        Effect.annotateLogs({ pool: this.name, connectionId: record.id, healthScore: record.healthScore }),
        Effect.zipRight(this.engine.endCheck(record, this.isUnhealthy(record) ? "unhealthy" : undefined))
      )
    })
  }

  /** Takes the idle connections off the idle stack and checks them; none is left stranded mid-check. */
  readonly checkIdle: Effect.Effect<void> = Effect.uninterruptibleMask((restore) =>
    Effect.forEach(this.engine.takeIdleForCheck(), (record) => this.checkOne(record, restore), {
      concurrency: "unbounded",
      discard: true
    })
  )

  /**
   * One health tick: retire stale and unhealthy idle connections, check the others (no borrower can get
   * one mid-check), then open up to `minConnections` again (which retries opens that failed).
   */
  get tick(): Effect.Effect<void> {
    return this.cleanUpStale.pipe(
      Effect.tap((retired) =>
        retired > 0 ? Effect.logDebug(`health tick retired ${retired} connection(s)`) : Effect.void
      ),
      Effect.zipRight(this.checkIdle),
      Effect.zipRight(Effect.sync(() => {
        this.engine.opensPaused = false
        this.engine.openIfNeeded()
      })),
      Effect.catchAllCause((cause) => Effect.logError("health tick failed", cause)),
      Effect.annotateLogs({ pool: this.options.name }),
      Effect.withSpan("connection-pool.health-tick", { root: true, attributes: { "pool.name": this.name } })
    )
  }

  /** The maintenance fiber's work: a health tick every `healthCheckInterval`, the first one interval in. */
  get maintenance(): Effect.Effect<void> {
    return Effect.asVoid(Effect.schedule(this.tick, Schedule.spaced(this.options.healthCheckInterval)))
  }

  /**
   * Ends lifetimes: a connection past its `expiresAt` (`maxLifetime` less jitter, or a `"creation"`
   * `timeToLive`) is closed if idle, or when it comes back if lent; an idle connection above
   * `minConnections` unused for `idleTimeout` (or a `"usage"` `timeToLive`) is closed. Sleeps until the
   * next one is due.
   */
  get lifetimes(): Effect.Effect<void> {
    const idleMillis = Math.min(
      Duration.toMillis(this.options.idleTimeout),
      this.options.timeToLiveStrategy === "usage"
        ? Duration.toMillis(this.options.timeToLive)
        : Number.POSITIVE_INFINITY
    )
    const engine = this.engine
    // With nothing due sooner, look again after the shortest lifetime or idle time a connection opened or
    // returned from now on can have: none can fall due unseen before that.
    const idlePeriod = Math.min(idleMillis, engine.shortestLifetimeMillis())
    const sweep: Effect.Effect<void> = Effect.suspend(() => {
      const now = this.now()
      let next = now + idlePeriod
      const due: Array<readonly [ConnectionRecord<A>, PoolEvent.CloseReason]> = []
      let live = engine.liveCount
      for (const record of engine.records.values()) {
        if (record.state === "retired") continue
        if (record.expiresAt <= now) {
          if (record.state === "idle") due.push([record, "expired"])
          else record.expired = true
          continue
        }
        next = Math.min(next, record.expiresAt)
        if (record.state !== "idle" || !Number.isFinite(idleMillis)) continue
        const idleExpiry = record.lastUsedAt + idleMillis
        if (idleExpiry > now) next = Math.min(next, idleExpiry)
        else if (live > engine.minConnections) {
          due.push([record, "idle-timeout"])
          live--
        }
      }
      return Effect.forEach(due, ([record, reason]) => engine.retireIdle(record, reason), { discard: true }).pipe(
        Effect.zipRight(Effect.sleep(Duration.millis(Math.max(1, next - now)))),
        Effect.zipRight(sweep)
      )
    })
    return sweep
  }

  /**
   * Logs, once per loan, every connection lent for longer than `leakDetectionThreshold`, naming the fiber
   * that borrowed it and the span it was borrowed in. Sleeps until the next loan is due.
   */
  get leakWatch(): Effect.Effect<void> {
    const threshold = Duration.toMillis(this.options.leakDetectionThreshold)
    const sweep: Effect.Effect<void> = Effect.suspend(() => {
      const now = this.now()
      let next = now + threshold
      const leaks: Array<ConnectionRecord<A>> = []
      for (const record of this.engine.records.values()) {
        if (record.state !== "in-use" || record.lentAt === undefined || record.leakReported) continue
        const due = record.lentAt + threshold
        if (due <= now) {
          record.leakReported = true
          leaks.push(record)
        } else {
          next = Math.min(next, due)
        }
      }
      return Effect.forEach(leaks, (record) =>
        Effect.logWarning(
          `connection ${record.id} held for more than ${
            Duration.format(this.options.leakDetectionThreshold)
          }: a possible leak`
        ).pipe(
          Effect.annotateLogs({
            pool: this.name,
            connectionId: record.id,
            borrower: record.borrower?.fiber ?? "unknown",
            borrowedInSpan: record.borrower?.span ?? "none"
          })
        ), { discard: true }).pipe(
          Effect.zipRight(Effect.sleep(Duration.millis(Math.max(1, next - now)))),
          Effect.zipRight(sweep)
        )
    })
    return sweep
  }

  // ---- observing -----------------------------------------------------------------------------------

  readonly availablePermits: Effect.Effect<number> = Effect.sync(() =>
    Math.max(0, this.engine.maxConnections - this.engine.lent)
  )

  readonly activeConnections: Effect.Effect<number> = Effect.sync(() => this.engine.openCount)

  readonly events: Stream.Stream<PoolEvent.PoolEvent> = Stream.unwrapScoped(
    Effect.map(Effect.suspend(() => this.observer.subscribe), (queue) =>
      Stream.fromQueue(queue).pipe(
        Stream.takeWhile((event): event is PoolEvent.PoolEvent => event !== endOfEvents)
      ))
  )

  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>> = Effect.sync(() =>
    Array.from(this.engine.records.values(), (record): ConnectionInfo => ({
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
    const engine = this.engine
    let healthy = 0
    let scoreSum = 0
    for (const record of engine.records.values()) {
      if (!this.isUnhealthy(record)) healthy++
      scoreSum += record.healthScore
    }
    const total = engine.openCount
    return makeStats({
      name: this.name,
      total,
      idle: total - engine.lent,
      inUse: engine.lent,
      healthy,
      unhealthy: total - healthy,
      waiting: engine.waiting,
      maxConnections: engine.maxConnections,
      utilization: engine.lent / engine.maxConnections,
      created: engine.created,
      closed: engine.closed,
      closedByReason: { ...engine.closedByReason },
      openFailures: engine.openFailures,
      timeouts: engine.timeouts,
      healthChecks: this.healthChecks,
      healthCheckFailures: this.healthCheckFailures,
      interruptedAtShutdown: engine.interruptedAtShutdown,
      averageScore: total === 0 ? Health.initialScore : scoreSum / total
    })
  })
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

const publicState = (state: RecordState): ConnectionState => state === "retired" ? "closing" : state

const makeStats = (fields: Omit<PoolStats, "summary">): PoolStats => ({ ...fields, summary: summarize(fields) })

/** `" (3 disconnected, 1 stale)"`: the reasons connections were closed for, or nothing when none was. */
const closeBreakdown = (byReason: PoolStats["closedByReason"]): string => {
  const parts = Object.entries(byReason).filter(([, count]) => count > 0).map(([reason, count]) => `${count} ${reason}`)
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`
}

/** @internal */
export const summarize = (s: Omit<PoolStats, "summary">): string =>
  `pool "${s.name}": ${s.total}/${s.maxConnections} open (${s.inUse} in use, ${s.idle} idle), ` +
  `${s.waiting} waiting, ${s.healthy} healthy, ${s.unhealthy} unhealthy, ` +
  `utilization ${(s.utilization * 100).toFixed(1)}%, avg score ${s.averageScore.toFixed(1)}, ` +
  `created ${s.created}, closed ${s.closed}${closeBreakdown(s.closedByReason)}, open failures ${s.openFailures}, ` +
  `timeouts ${s.timeouts}, ` +
  `health checks ${s.healthChecks} (${s.healthCheckFailures} failed)`

const makeResolved = <A, E, R>(
  connector: Connector<A, E, R>,
  options: ResolvedOptions
): Effect.Effect<ConnectionPool<A>, ConnectionError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const clock = yield* Effect.clock
    // Background fibers (opens, closes, the timeout reaper) run here; interrupted last, after the
    // shutdown below. They start on the scheduler, never inside the caller's stack: an open that
    // completes at once would otherwise start the next one recursively, a thousand frames deep for a
    // pool of a thousand.
    const runFiber = yield* FiberSet.makeRuntime<never, unknown, never>()
    const run = (effect: Effect.Effect<unknown>) => runFiber(effect, { immediate: false })
    const retryDriver = options.openRetry === undefined ? undefined : yield* Schedule.driver(options.openRetry)
    const pool = new PoolImpl(connector, options, context, {
      now: () => clock.unsafeCurrentTimeMillis(),
      monotonicNow: () => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n),
      run,
      retryDriver
    })
    // Finalizers run last-added first: subscribers' streams end after the shutdown's events.
    yield* Effect.addFinalizer(() => pool.observer.end())
    yield* Effect.addFinalizer(() => pool.engine.shutdown)
    // Finalizers run last-added first: the maintenance fibers stop before the shutdown.
    yield* Effect.forkScoped(pool.maintenance)
    if ([options.timeToLive, options.maxLifetime, options.idleTimeout].some(Duration.isFinite)) {
      yield* Effect.forkScoped(pool.lifetimes)
    }
    if (Duration.isFinite(options.leakDetectionThreshold)) yield* Effect.forkScoped(pool.leakWatch)
    pool.engine.openIfNeeded() // towards minConnections
    if (options.warmUp && options.minConnections > 0) {
      yield* Deferred.await(pool.engine.warmed).pipe(
        Effect.timeoutFail({
          duration: options.connectionTimeout,
          onTimeout: () =>
            new ConnectionError({
              reason: "OpenTimedOut",
              pool: options.name,
              cause: `${options.minConnections} connection(s) not open within ${
                Duration.format(options.connectionTimeout)
              }`
            })
        })
      )
    }
    return pool
  })

/** @internal */
export const make = <A, E, R>(
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Effect.Effect<ConnectionPool<A>, InvalidPoolOptions | ConnectionError, Scope.Scope | R> =>
  Effect.flatMap(resolve(options), (resolved) => makeResolved(connector, resolved))

/** @internal */
export const layer = <I, A, E, R>(
  tag: Context.Tag<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  options?: Options | undefined
): Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> =>
  Layer.scoped(tag, make(connector, options))

/** @internal */
export const layerConfig = <I, A, E, R>(
  tag: Context.Tag<I, ConnectionPool<A>>,
  connector: Connector<A, E, R>,
  config: Config.Config.Wrap<Options>
): Layer.Layer<I, InvalidPoolOptions | ConnectionError, Exclude<R, Scope.Scope>> =>
  Layer.scoped(tag, Effect.flatMap(fromConfig(config), (resolved) => makeResolved(connector, resolved)))
