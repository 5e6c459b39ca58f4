/**
 * The borrowing engine: an idle stack, a first-come first-served queue of waiters, and the accounting of
 * open connections and opens in flight.
 *
 * Why not Effect's `Pool`: measured in bench/ on the same machine and run, `Effect.scoped(Pool.get)` plus
 * a timeout per borrow reached about 0.05-0.1x of generic-pool wrapped in `Effect.acquireUseRelease`; it
 * opened a connection per waiter in a spike (50 for 50); and after a failed open it left the other
 * waiters waiting until another borrower came. This engine keeps the hot path to a few synchronous steps:
 * a returned connection goes straight to the oldest waiter (resumed through `Effect.async`) or onto the
 * idle stack; a borrower takes the most recently returned connection, or waits.
 *
 * Borrowers' timeouts cost no fiber each: every waiter has the same timeout and the queue is FIFO, so
 * deadlines are in queue order and one reaper fiber per pool, sleeping until the oldest deadline, expires
 * them all.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { BorrowError } from "../ConnectionPool.js"
import {
  ConnectionError,
  isPoolError,
  PoolClosedError,
  PoolExhaustedError,
  PoolTimeoutError,
  PoolUnavailableError
} from "../PoolError.js"
import type { CloseReason } from "../PoolEvent.js"
import type { Observer } from "./observer.js"
import type { ResolvedOptions } from "./options.js"
import { ConnectionRecord } from "./record.js"

/** What the engine needs from the pool around it. */
export interface EngineHooks<A> {
  /** Opens one connection in the given scope. */
  readonly open: (scope: Scope.Scope) => Effect.Effect<A, unknown>
  readonly isOpen: (connection: A) => boolean
  /** Epoch milliseconds of the `Clock`: what records show. */
  readonly now: () => number
  /** Milliseconds that never go back (for deadlines), from the same `Clock`. */
  readonly monotonicNow: () => number
  /** Runs a background effect in a fiber of the pool, interrupted when the pool closes. */
  readonly run: (effect: Effect.Effect<unknown>) => Fiber.RuntimeFiber<unknown>
}

interface Waiter<A> {
  deadline: number
  resume: ((effect: Effect.Effect<ConnectionRecord<A>, BorrowError>) => void) | undefined
  /** The connection handed over, kept so that a waiter interrupted after the hand-off can give it back. */
  handed: ConnectionRecord<A> | undefined
  /** In the queue (an interrupted borrower may never have got that far). */
  queued: boolean
  settled: boolean
}

/**
 * The most opens in flight at once. Opening one at a time or two at a time, as HikariCP does, lets
 * returned connections serve a burst of borrowers before new ones are needed: 50 borrowers with 2 ms of
 * work do not need 50 connections that each take 150 ms to open.
 */
const maxConcurrentOpens = 2

/** The most a connection's lifetime is shortened at random: 2.5% of `maxLifetime`. */
const lifetimeJitter = 0.025

export class Engine<A> {
  readonly records = new Map<number, ConnectionRecord<A>>()
  /** Idle connections; the top (end) is the most recently returned, lent first, so the rest can age out. */
  readonly idle: Array<ConnectionRecord<A>> = []
  readonly waiters: Array<Waiter<A> | undefined> = []
  waitersHead = 0
  waiting = 0
  lent = 0
  opening = 0
  closing = 0
  checking = 0
  nextId = 1
  isClosed = false
  reaperRunning = false
  /**
   * Set when an open fails, so a server that refuses at once is not asked again in a tight loop; cleared
   * when a borrower arrives, on the next health tick, or when an open succeeds.
   */
  opensPaused = false
  lastOpenError: ConnectionError | undefined = undefined
  readonly drained = Deferred.unsafeMake<void>(FiberId.none)
  /** Done when `minConnections` are open, or failed by the first failed open before that (warm-up). */
  readonly warmed = Deferred.unsafeMake<void, ConnectionError>(FiberId.none)
  /** Opens in flight, interrupted at shutdown. */
  readonly openFibers = new Set<Fiber.RuntimeFiber<unknown>>()

  // counters for stats
  created = 0
  closed = 0
  readonly closedByReason: Record<CloseReason, number> = {
    stale: 0,
    unhealthy: 0,
    "validation-failed": 0,
    invalidated: 0,
    disconnected: 0,
    expired: 0,
    "idle-timeout": 0,
    resized: 0,
    shutdown: 0
  }
  openFailures = 0
  timeouts = 0
  interruptedAtShutdown = 0

  readonly timeoutMillis: number
  /** `metrics: true`: read on the borrow path, so kept here rather than looked up through the observer. */
  readonly metrics: boolean
  /** The bounds in force; `resize` changes them on a live pool. */
  maxConnections: number
  minConnections: number
  /** `maxLifetime`, and a `"creation"` `timeToLive` (infinite otherwise), in milliseconds: fixed options. */
  readonly maxLifetimeMillis: number
  readonly creationTimeToLiveMillis: number

  constructor(
    readonly options: ResolvedOptions,
    readonly hooks: EngineHooks<A>,
    readonly observer: Observer,
    /** Drives `openRetry`'s delays; undefined without one. */
    readonly retryDriver: Schedule.ScheduleDriver<unknown, unknown> | undefined = undefined
  ) {
    this.timeoutMillis = Duration.toMillis(options.connectionTimeout)
    this.metrics = options.metrics
    this.maxConnections = options.maxConnections
    this.minConnections = options.minConnections
    this.maxLifetimeMillis = Duration.toMillis(options.maxLifetime)
    this.creationTimeToLiveMillis = options.timeToLiveStrategy === "creation"
      ? Duration.toMillis(options.timeToLive)
      : Number.POSITIVE_INFINITY
  }

  /**
   * Changes the bounds. Growing opens connections for waiters at once; shrinking closes idle connections
   * above the new maximum now and lent ones when they come back (never taken from their borrowers).
   */
  resize(maxConnections: number, minConnections: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.maxConnections = maxConnections
      this.minConnections = minConnections
      const excess = Math.max(0, this.liveCount - maxConnections)
      // the bottom of the idle stack has waited longest
      const surplus = this.idle.splice(0, Math.min(excess, this.idle.length))
      this.openIfNeeded()
      return Effect.forEach(surplus, (record) => this.close(record, "resized"), { discard: true })
    })
  }

  /** Open connections, closing ones included (they still hold a socket). */
  get openCount(): number {
    return this.records.size
  }

  /**
   * A new connection's lifetime: `maxLifetime` less a random jitter of up to 2.5% of it (as HikariCP does),
   * so that connections opened together do not all expire together; or a `"creation"` `timeToLive`.
   */
  lifetimeMillis(): number {
    const jittered = Number.isFinite(this.maxLifetimeMillis)
      ? this.maxLifetimeMillis - Math.random() * this.maxLifetimeMillis * lifetimeJitter
      : Number.POSITIVE_INFINITY
    return Math.min(this.creationTimeToLiveMillis, jittered)
  }

  /** The shortest lifetime a connection opened from now on can have. */
  shortestLifetimeMillis(): number {
    return Math.min(this.creationTimeToLiveMillis, this.maxLifetimeMillis * (1 - lifetimeJitter))
  }

  /** Open connections that are not closing. */
  get liveCount(): number {
    return this.records.size - this.closing
  }

  // ---- lending -------------------------------------------------------------------------------------

  /**
   * Lends a connection. Call it in an uninterruptible region: it is interruptible only while it waits
   * (through `restore`), and a waiter interrupted at any point gives back whatever it was handed.
   */
  acquire(restore: <X, E, R>(effect: Effect.Effect<X, E, R>) => Effect.Effect<X, E, R>) {
    if (this.isClosed) {
      return Effect.fail(new PoolClosedError({ reason: "PoolClosed", pool: this.options.name }))
    }
    const record = this.takeIdle()
    return record === undefined ? this.wait(restore) : record.lent
  }

  /** With `maxWaiting` borrowers already waiting, the next is refused at once. */
  exhausted(): PoolExhaustedError | undefined {
    return this.waiting >= this.options.maxWaiting
      ? new PoolExhaustedError({
        reason: "TooManyWaiting",
        pool: this.options.name,
        maxWaiting: this.options.maxWaiting
      })
      : undefined
  }

  /** The most recently returned idle connection that is still open, lent; or `undefined`. */
  takeIdle(): ConnectionRecord<A> | undefined {
    let record = this.idle.pop()
    while (record !== undefined) {
      const isOpen = this.hooks.isOpen(record.connection)
      if (isOpen && !record.expired) {
        this.lend(record)
        return record
      }
      // closed by its peer while idle, or out of its lifetime: retire it and try the next one
      this.hooks.run(this.close(record, isOpen ? "expired" : "disconnected"))
      record = this.idle.pop()
    }
    return undefined
  }

  /** `lastUsedAt` is set when the connection comes back, which is what staleness is measured from. */
  lend(record: ConnectionRecord<A>): void {
    record.state = "in-use"
    record.useCount++
    record.loans++
    this.lent++
    if (this.metrics) this.observer.counted(this)
  }

  wait(
    restore: <X, E, R>(effect: Effect.Effect<X, E, R>) => Effect.Effect<X, E, R>
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    const waiter: Waiter<A> = { deadline: 0, resume: undefined, handed: undefined, queued: false, settled: false }
    return Effect.matchCauseEffect(
      restore(Effect.async<ConnectionRecord<A>, BorrowError>((resume) => {
        // The pool may have closed since `acquire` looked (the fiber can yield in between).
        if (this.isClosed) {
          return resume(Effect.fail(new PoolClosedError({ reason: "ClosedWhileWaiting", pool: this.options.name })))
        }
        const exhausted = this.exhausted()
        if (exhausted !== undefined) return resume(Effect.fail(exhausted))
        if (this.breakerBlocks()) return resume(Effect.fail(this.unavailable()))
        // Queued only once the fiber is suspended here, so whoever settles the waiter can resume it.
        waiter.resume = resume
        waiter.deadline = this.hooks.monotonicNow() + this.timeoutMillis
        this.waiters.push(waiter)
        waiter.queued = true
        this.waiting++
        this.observer.counted(this)
        // A borrower's arrival is a reason to try again, unless a backoff delay is running: then it waits
        // for the scheduled retry, so that opens stay bounded by the schedule, not by arrivals.
        if (!this.retryScheduled) this.opensPaused = false
        this.openIfNeeded()
        this.startReaper()
      })),
      {
        // Runs uninterruptibly (the caller's region): an interrupted waiter leaves the queue, or, if it
        // was interrupted just after the hand-off, gives back what it was handed.
        onFailure: (cause) => {
          this.abandon(waiter)
          const handed = waiter.handed
          if (handed === undefined) return Effect.failCause(cause)
          waiter.handed = undefined
          return Effect.zipRight(this.recycle(handed, undefined), Effect.failCause(cause))
        },
        onSuccess: (record) => {
          waiter.handed = undefined
          return record.lent
        }
      }
    )
  }

  abandon(waiter: Waiter<A>): void {
    if (waiter.queued && !waiter.settled) {
      waiter.settled = true
      this.waiting--
      this.observer.counted(this)
    }
  }

  /** The oldest waiter still waiting, taken off the queue; or `undefined`. */
  nextWaiter(): Waiter<A> | undefined {
    while (this.waitersHead < this.waiters.length) {
      const waiter = this.waiters[this.waitersHead]!
      this.waiters[this.waitersHead++] = undefined
      if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
        this.waiters.splice(0, this.waitersHead)
        this.waitersHead = 0
      }
      if (!waiter.settled) return waiter
    }
    return undefined
  }

  /** The oldest waiter still waiting, left on the queue; settled ones before it are dropped. */
  peekWaiter(): Waiter<A> | undefined {
    while (this.waitersHead < this.waiters.length) {
      const waiter = this.waiters[this.waitersHead]!
      if (!waiter.settled) return waiter
      this.waiters[this.waitersHead++] = undefined
    }
    return undefined
  }

  settle(waiter: Waiter<A>, outcome: Effect.Effect<ConnectionRecord<A>, BorrowError>): void {
    waiter.settled = true
    this.waiting--
    this.observer.counted(this)
    waiter.resume!(outcome)
  }

  /**
   * Gives a connection to the oldest waiter or puts it on the idle stack. `record` must be open and
   * healthy; it is no longer lent.
   */
  deliver(record: ConnectionRecord<A>): void {
    const waiter = this.nextWaiter()
    if (waiter === undefined) {
      record.state = "idle"
      this.idle.push(record)
      return
    }
    this.lend(record)
    waiter.handed = record
    this.settle(waiter, record.lent)
  }

  /**
   * Takes back a lent connection: retires it if asked to (`retire` says why), if the pool is closing, or
   * if it expired, was closed or is above a lowered maximum; else delivers it. Returns the effect that
   * closes it, or `undefined` when there is nothing left to do (the hot path).
   */
  recycleNow(record: ConnectionRecord<A>, retire: CloseReason | undefined): Effect.Effect<void> | undefined {
    this.lent--
    const now = this.hooks.now()
    record.lastUsedAt = now
    if (this.metrics) {
      if (record.lentAt !== undefined) this.observer.returned(now - record.lentAt)
      this.observer.counted(this)
    }
    record.lentAt = undefined
    const reason = retire ?? this.reasonToRetire(record)
    if (reason !== undefined) return this.close(record, reason)
    this.deliver(record)
    return undefined
  }

  /** Why a connection coming back from a loan or a check must not be lent again; `undefined` if it may. */
  reasonToRetire(record: ConnectionRecord<A>): CloseReason | undefined {
    if (this.isClosed) return "shutdown"
    if (record.expired) return "expired"
    if (!this.hooks.isOpen(record.connection)) return "disconnected"
    if (this.liveCount > this.maxConnections) return "resized"
    return undefined
  }

  recycle(record: ConnectionRecord<A>, retire: CloseReason | undefined): Effect.Effect<void> {
    return this.recycleNow(record, retire) ?? Effect.void
  }

  // ---- opening and closing -------------------------------------------------------------------------

  /** Starts opens for waiters not covered by opens in flight or checks, and up to `minConnections`. */
  openIfNeeded(): void {
    // An open may complete or fail synchronously inside `run`, so every condition is checked again on
    // each turn, and the loop is bounded per call as well.
    if (this.breakerBlocks()) return
    // Past the breaker's reset time (half open): one probe at a time.
    const concurrentOpens = this.breakerOpenUntil === 0 ? maxConcurrentOpens : 1
    for (
      let started = 0;
      started < concurrentOpens && !this.isClosed && !this.opensPaused &&
      this.opening < concurrentOpens && this.openCount + this.opening < this.maxConnections;
      started++
    ) {
      const forWaiters = this.waiting - this.opening - this.checking
      const forMinimum = this.minConnections - this.openCount - this.opening
      if (forWaiters <= 0 && forMinimum <= 0) return
      this.opening++
      const attempt = { counted: false }
      const fiber = this.hooks.run(this.openOne(attempt))
      this.openFibers.add(fiber)
      // An open interrupted before it ever ran (at shutdown) must still leave `opening`.
      fiber.addObserver(() => {
        this.openFibers.delete(fiber)
        if (!attempt.counted) {
          attempt.counted = true
          this.opening--
          this.checkDrained()
        }
      })
    }
  }

  openOne(attempt: { counted: boolean }): Effect.Effect<void> {
    const startedAt = this.hooks.monotonicNow()
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Scope.make(), (scope) =>
        // Bounded by `openTimeout`. `disconnect` lets the timeout win even over an open that cannot be
        // interrupted (an `acquireRelease` acquire); if that open completes later, its finalizer meets
        // the closed scope and runs at once.
        restore(
          Effect.disconnect(this.hooks.open(scope)).pipe(
            Effect.timeoutFail({
              duration: this.options.openTimeout,
              onTimeout: () =>
                new ConnectionError({
                  reason: "OpenTimedOut",
                  pool: this.options.name,
                  cause: `no connection within ${Duration.format(this.options.openTimeout)}`
                })
            }),
            // A root span: an open serves whichever borrower comes first, not the one whose arrival started it.
            Effect.withSpan("connection-pool.open", { root: true, attributes: { "pool.name": this.options.name } })
          )
        ).pipe(
          Effect.exit,
          Effect.flatMap((exit): Effect.Effect<void> => {
            attempt.counted = true
            this.opening--
            if (Exit.isSuccess(exit)) {
              if (this.isClosed) return Scope.close(scope, Exit.void)
              const record = new ConnectionRecord(this.nextId++, exit.value, this.hooks.now(), scope)
              record.expiresAt = record.createdAt + this.lifetimeMillis()
              this.records.set(record.id, record)
              this.created++
              this.observer.opened(record.id, this.hooks.monotonicNow() - startedAt)
              this.observer.counted(this)
              this.lastOpenError = undefined
              this.opensPaused = false
              this.openSucceeded()
              if (this.records.size >= this.minConnections) Deferred.unsafeDone(this.warmed, Exit.void)
              // Started before `resize` lowered the maximum, it is one too many now: neither lent nor kept.
              if (this.liveCount > this.maxConnections) return this.close(record, "resized")
              this.deliver(record)
              this.openIfNeeded()
              return Effect.void
            }
            // Counted before closing the scope yields, so that no open starts in between.
            this.openFailed(exit.cause)
            return Effect.zipRight(Scope.close(scope, exit), Effect.sync(() => this.checkDrained()))
          })
        ))
    )
  }

  /**
   * A failed open. With no connection open, nobody will hand one back: every waiter hears of the failure
   * now rather than at its timeout. With connections open, waiters keep waiting for one of them.
   */
  openFailed(cause: Cause.Cause<unknown>): void {
    if (Cause.isInterruptedOnly(cause)) return
    this.openFailures++
    this.consecutiveFailures++
    this.opensPaused = true
    const failure = Cause.squash(cause)
    const error = isConnectionError(failure)
      ? failure
      : new ConnectionError({ reason: "OpenFailed", pool: this.options.name, cause: failure })
    this.lastOpenError = error
    this.observer.openFailed(error)
    Deferred.unsafeDone(this.warmed, Exit.fail(error))
    if (this.consecutiveFailures >= this.options.breakerThreshold) {
      this.openBreaker()
    } else if (this.retryDriver !== undefined) {
      // Waiters keep waiting: the next open comes after the schedule's delay.
      this.scheduleRetry()
    } else if (this.openCount === 0 && this.opening === 0) {
      this.failWaiters(error)
    }
  }

  failWaiters(error: BorrowError): void {
    let waiter = this.nextWaiter()
    while (waiter !== undefined) {
      this.settle(waiter, Effect.fail(error))
      waiter = this.nextWaiter()
    }
  }

  // ---- opening under failure: backoff and circuit breaker -------------------------------------------

  consecutiveFailures = 0
  /** Monotonic time until which the breaker is open; 0 when closed. Past it, one probe open is let through. */
  breakerOpenUntil = 0
  retryScheduled = false

  unavailable(): PoolUnavailableError {
    return new PoolUnavailableError({ reason: "CircuitOpen", pool: this.options.name, lastError: this.lastOpenError })
  }

  /** The breaker is open and its reset time has not come: no open may start. */
  breakerBlocks(): boolean {
    return this.breakerOpenUntil !== 0 && this.hooks.monotonicNow() < this.breakerOpenUntil
  }

  openBreaker(): void {
    this.breakerOpenUntil = this.hooks.monotonicNow() + Duration.toMillis(this.options.breakerResetAfter)
    this.failWaiters(this.unavailable())
  }

  /** A successful open: the failure streak ends, the breaker closes, the backoff starts over. */
  openSucceeded(): void {
    this.consecutiveFailures = 0
    this.breakerOpenUntil = 0
    if (this.retryDriver !== undefined) this.hooks.run(this.retryDriver.reset)
  }

  /** Waits for the schedule's next delay, then opens again if anyone still needs a connection. */
  scheduleRetry(): void {
    const driver = this.retryDriver
    if (this.retryScheduled || driver === undefined) return
    this.retryScheduled = true
    this.hooks.run(
      driver.next(undefined).pipe(
        Effect.matchEffect({
          // The schedule is spent: stop retrying; waiters with nothing open hear of the failure now.
          onFailure: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              if (this.openCount === 0 && this.opening === 0 && this.lastOpenError !== undefined) {
                this.failWaiters(this.lastOpenError)
              }
            }),
          onSuccess: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              this.opensPaused = false
              this.openIfNeeded()
            })
        })
      )
    )
  }

  /**
   * Closes a connection (once). It stays counted as open until its finalizers have run, so the pool never
   * has more than `maxConnections` sockets and shutdown ends only when every one is closed. Then a
   * replacement is opened if waiters or `minConnections` want one.
   */
  close(record: ConnectionRecord<A>, reason: CloseReason): Effect.Effect<void> {
    if (record.state === "retired") return Effect.void
    record.state = "retired"
    this.closing++
    return Effect.uninterruptible(Effect.ensuring(
      Scope.close(record.scope, Exit.void),
      Effect.sync(() => {
        this.closing--
        this.records.delete(record.id)
        this.closed++
        this.closedByReason[reason]++
        this.observer.closed(record.id, reason)
        this.observer.counted(this)
        // With nothing open or opening, waiters would wait for nobody: try again for them now, even if
        // opens were paused by a failure (if it fails again, they hear of it at once).
        if (this.waiting > 0 && this.records.size === 0 && this.opening === 0) this.opensPaused = false
        this.openIfNeeded()
        this.checkDrained()
      })
    ))
  }

  /**
   * Retires a connection that is still idle (stale, unhealthy, out of its lifetime) and says so. One that
   * was lent or taken for a check since the caller looked is left alone.
   */
  retireIdle(record: ConnectionRecord<A>, reason: CloseReason): Effect.Effect<boolean> {
    if (record.state !== "idle") return Effect.succeed(false)
    const index = this.idle.indexOf(record)
    if (index >= 0) this.idle.splice(index, 1)
    return Effect.as(this.close(record, reason), true)
  }

  // ---- health checks -------------------------------------------------------------------------------

  /** Takes every idle connection off the idle stack for checking: no borrower can get one mid-check. */
  takeIdleForCheck(): Array<ConnectionRecord<A>> {
    const taken = this.idle.splice(0, this.idle.length)
    for (const record of taken) record.state = "checking"
    this.checking += taken.length
    return taken
  }

  /**
   * Ends a check: a connection to retire (`retire` says why; unhealthy, say) or one that may not be lent
   * again is closed, a healthy one delivered (to a waiter first).
   */
  endCheck(record: ConnectionRecord<A>, retire: CloseReason | undefined): Effect.Effect<void> {
    if (record.state !== "checking") return Effect.void
    this.checking--
    const reason = retire ?? this.reasonToRetire(record)
    if (reason !== undefined) return this.close(record, reason)
    this.deliver(record)
    return Effect.void
  }

  // ---- timeouts ------------------------------------------------------------------------------------

  startReaper(): void {
    if (this.reaperRunning) return
    this.reaperRunning = true
    this.hooks.run(this.reap)
  }

  /** Expires waiters whose deadline has passed, then sleeps until the oldest remaining deadline. */
  readonly reap: Effect.Effect<void> = Effect.suspend(() => {
    const now = this.hooks.monotonicNow()
    let waiter = this.peekWaiter()
    while (waiter !== undefined) {
      if (waiter.deadline > now) {
        return Effect.zipRight(Effect.sleep(Duration.millis(waiter.deadline - now)), this.reap)
      }
      this.nextWaiter()
      this.timeouts++
      this.observer.timedOut(this.timeoutMillis)
      // With nothing open and opens failing, the failure is the news, not the wait.
      const lastOpenError = this.openCount === 0 ? this.lastOpenError : undefined
      this.settle(
        waiter,
        Effect.fail(
          lastOpenError ?? new PoolTimeoutError({
            reason: "AcquireTimeout",
            pool: this.options.name,
            timeout: this.options.connectionTimeout,
            lastOpenError: this.lastOpenError
          })
        )
      )
      waiter = this.peekWaiter()
    }
    this.reaperRunning = false
    return Effect.void
  })

  // ---- shutdown ------------------------------------------------------------------------------------

  /**
   * Stops lending, fails every waiter with `PoolClosedError`, closes idle connections now and lent ones
   * as they come back, and completes when every connection is closed.
   */
  readonly shutdown: Effect.Effect<void> = Effect.suspend(() => {
    this.isClosed = true
    let waiter = this.nextWaiter()
    while (waiter !== undefined) {
      this.settle(waiter, Effect.fail(new PoolClosedError({ reason: "ClosedWhileWaiting", pool: this.options.name })))
      waiter = this.nextWaiter()
    }
    const idle = this.idle.splice(0, this.idle.length)
    return Effect.forEach(idle, (record) => this.close(record, "shutdown"), { discard: true }).pipe(
      Effect.zipRight(Fiber.interruptAll(Array.from(this.openFibers))),
      Effect.zipRight(Effect.sync(() => this.checkDrained())),
      Effect.zipRight(this.awaitReturns)
    )
  })

  /**
   * Waits for lent connections to come back, at most `shutdownTimeout`; then interrupts the borrowers
   * still holding one (they give it back as they end) and waits for those.
   */
  get awaitReturns(): Effect.Effect<void> {
    const drained = Deferred.await(this.drained)
    if (!Duration.isFinite(this.options.shutdownTimeout)) return drained
    // Interruptible: shutdown runs in a finalizer, where an uninterruptible wait could not lose the race.
    return Effect.interruptible(drained).pipe(
      Effect.timeoutOption(this.options.shutdownTimeout),
      Effect.flatMap((returned) =>
        Option.isSome(returned) ? Effect.void : Effect.zipRight(this.interruptBorrowers, drained)
      )
    )
  }

  readonly interruptBorrowers: Effect.Effect<void> = Effect.withFiberRuntime((closingFiber) => {
    const borrowers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
    // A borrower may be the very fiber closing the pool (it closed the pool's scope inside `use`): it cannot
    // give its connection back before the close ends, so the connection is closed under it. Its late return
    // finds the connection retired and does nothing more.
    const heldByClosingFiber: Array<ConnectionRecord<A>> = []
    for (const record of this.records.values()) {
      if (record.state !== "in-use" || record.borrowerFiber === undefined) continue
      if (record.borrowerFiber === closingFiber) heldByClosingFiber.push(record)
      else borrowers.push(record.borrowerFiber)
    }
    this.interruptedAtShutdown += borrowers.length + heldByClosingFiber.length
    return Effect.logWarning(
      `shutdownTimeout (${Duration.format(this.options.shutdownTimeout)}) passed: interrupting ${
        borrowers.length + heldByClosingFiber.length
      } borrower(s)`
    ).pipe(
      Effect.annotateLogs({ pool: this.options.name }),
      // not awaited: they give their connections back as they end
      Effect.zipRight(Effect.forEach(borrowers, (fiber) => Fiber.interruptFork(fiber), { discard: true })),
      Effect.zipRight(Effect.forEach(heldByClosingFiber, (record) => this.close(record, "shutdown"), { discard: true }))
    )
  })

  checkDrained(): void {
    if (this.isClosed && this.records.size === 0 && this.opening === 0) {
      Deferred.unsafeDone(this.drained, Exit.void)
    }
  }
}

/**
 * Whether a connector failed with a `ConnectionError` of its own, to pass on as it is. By tag, not
 * `instanceof`: a program loading both the ESM and the CommonJS build has two copies of the class, and a
 * connector built against one must be understood by a pool built against the other.
 */
export const isConnectionError = (u: unknown): u is ConnectionError => isPoolError(u) && u._tag === "ConnectionError"
