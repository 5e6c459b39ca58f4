/**
 * The lending structure: the open connections, the idle stack, and the queue of waiting borrowers. In
 * the spirit of HikariCP's `ConcurrentBag`: it lends, takes back and hands over; opening, health,
 * lifetimes and shutdown are parts of their own around it.
 *
 * Why not Effect's `Pool`: measured in bench/ on the same machine and run, `Effect.scoped(Pool.get)` plus
 * a timeout per borrow reached about 0.05-0.1x of generic-pool wrapped in `Effect.acquireUseRelease`; it
 * opened a connection per waiter in a spike (50 for 50); and after a failed open it left the other
 * waiters waiting until another borrower came. This engine keeps the hot path to a few synchronous steps:
 * a returned connection goes straight to the oldest waiter (resumed through `Effect.async`) or onto the
 * idle stack; a borrower takes the most recently returned connection, or waits.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { BorrowError } from "../ConnectionPool.js"
import { PoolClosedError, PoolExhaustedError } from "../PoolError.js"
import type { CloseReason } from "../PoolEvent.js"
import { closeScope } from "./connectorCalls.js"
import * as edge from "./edge/effect.js"
import * as Health from "./health.js"
import type { Observer } from "./observer.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"
import type { Counters } from "./stats.js"
import { type Waiter, WaiterQueue } from "./waiters.js"

/** Keeps an effect interruptible only where the caller allows it: the region outside is uninterruptible. */
export type Restore = <X, E, R>(effect: Effect.Effect<X, E, R>) => Effect.Effect<X, E, R>

/** What the engine needs from the runtime around it. */
export interface EngineHooks<A> {
  readonly isOpen: (connection: A) => boolean
  /** Epoch milliseconds of the `Clock`: what records show. */
  readonly now: () => number
  /** Milliseconds that never go back (for deadlines), from the same `Clock`. */
  readonly monotonicNow: () => number
  /** Runs a background effect in a fiber of the pool, interrupted when the pool closes. */
  readonly run: (effect: Effect.Effect<unknown>) => edge.RunningFiber
}

/** What the engine tells the parts around it (the opener, shutdown); set once they exist. */
export interface EngineListener {
  /** Whether a borrower may wait now; an error refuses it (an open circuit breaker). */
  readonly refuseWaiter: () => BorrowError | undefined
  /** A borrower started waiting: a connection may need opening. */
  readonly waiterArrived: () => void
  /** A connection finished closing: a replacement may be needed, or shutdown may be done. */
  readonly connectionClosed: () => void
  /** A waiter's deadline passed: what it fails with. */
  readonly timedOut: () => BorrowError
  /** Shared lending: the loans held reached `targetUtilization` of the capacity open; another may open. */
  readonly loadRose: () => void
}

type Lent<A> = Effect.Effect<ConnectionRecord<A>, BorrowError>

export class Engine<A> implements Health.PoolView<A> {
  readonly records = new Map<number, ConnectionRecord<A>>()
  /** Idle connections; the top (end) is the most recently returned, lent first, so the rest can age out. */
  readonly idle: Array<ConnectionRecord<A>> = []
  readonly waiters = new WaiterQueue<ConnectionRecord<A>, BorrowError>(() => this.observer.counted(this))
  lent = 0
  /** Connections retired whose finalizers are still running: open, but never lent again. */
  closing = 0
  /** Connections taken off the idle stack by a health check. */
  checking = 0
  isClosed = false
  /** The bounds in force; `resize` changes them on a live pool. */
  maxConnections: number
  minConnections: number
  /** Set by the pool once the parts that listen exist, before anything is lent. */
  listener!: EngineListener
  readonly isOpen: (connection: A) => boolean
  readonly now: () => number
  readonly limits: Health.Limits
  private readonly timeoutMillis: number
  protected readonly metrics: boolean

  constructor(
    readonly options: ResolvedOptions,
    readonly hooks: EngineHooks<A>,
    readonly observer: Observer,
    readonly counters: Counters
  ) {
    this.timeoutMillis = Duration.toMillis(options.connectionTimeout)
    this.metrics = options.metrics
    this.maxConnections = options.maxConnections
    this.minConnections = options.minConnections
    this.isOpen = hooks.isOpen
    this.now = hooks.now
    this.limits = Health.limits(options)
  }

  /** Open connections, closing ones included (they still hold a socket). */
  get openCount(): number {
    return this.records.size
  }

  /** Open connections that are not closing. */
  get liveCount(): number {
    return this.records.size - this.closing
  }

  get waiting(): number {
    return this.waiters.waiting
  }

  /** Connections held by a borrower: each loan is one with exclusive lending. */
  get inUseCount(): number {
    return this.lent
  }

  get concurrency(): number {
    return this.options.concurrency
  }

  /** Opens wanted for the borrowers waiting, less those that opens in flight and checks will serve. */
  wantedOpens(opening: number): number {
    return this.waiters.waiting - opening - this.checking
  }

  /**
   * Lends a connection. Call it in an uninterruptible region: it is interruptible only while it waits
   * (through `restore`), and a waiter interrupted at any point gives back whatever it was handed.
   */
  acquire(restore: Restore): Lent<A> {
    if (this.isClosed) {
      return Effect.fail(new PoolClosedError({ reason: "PoolClosed", pool: this.options.name }))
    }
    const record = this.takeIdle()
    return record === undefined ? this.wait(restore) : record.lent
  }

  /** The most recently returned idle connection that may be lent, lent; or `undefined`. */
  takeIdle(): ConnectionRecord<A> | undefined {
    let record = this.idle.pop()
    while (record !== undefined) {
      const reason = Health.retireReason(record, "lend", this, this.limits)
      if (reason === undefined) {
        this.lend(record)
        return record
      }
      // retired (closed by its peer while idle, or out of its lifetime): try the next one
      this.hooks.run(this.close(record, reason))
      record = this.idle.pop()
    }
    return undefined
  }

  /** `lastUsedAt` is set when the connection comes back, which is what staleness is measured from. */
  protected lend(record: ConnectionRecord<A>): void {
    record.state = "in-use"
    record.useCount++
    this.lent++
    if (this.metrics) this.observer.counted(this)
  }

  private wait(restore: Restore): Lent<A> {
    const waiter = this.waiters.newWaiter()
    return Effect.matchCauseEffect(
      restore(edge.callback<ConnectionRecord<A>, BorrowError>((resume) => {
        // The pool may have closed since `acquire` looked (the fiber can yield in between).
        if (this.isClosed) {
          return resume(Effect.fail(new PoolClosedError({ reason: "ClosedWhileWaiting", pool: this.options.name })))
        }
        // With `maxWaiting` borrowers already waiting, the next is refused at once.
        if (this.waiters.waiting >= this.options.maxWaiting) {
          const { maxWaiting, name } = this.options
          return resume(Effect.fail(new PoolExhaustedError({ reason: "TooManyWaiting", pool: name, maxWaiting })))
        }
        const refused = this.listener.refuseWaiter()
        if (refused !== undefined) return resume(Effect.fail(refused))
        // Queued only once the fiber is suspended here, so whoever settles the waiter can resume it.
        this.waiters.enqueue(waiter, resume, this.hooks.monotonicNow() + this.timeoutMillis)
        this.listener.waiterArrived()
        if (this.waiters.needsReaper()) {
          this.hooks.run(this.waiters.reap(this.hooks.monotonicNow, (expired) => this.expire(expired)))
        }
      })),
      {
        // Runs uninterruptibly (the caller's region): an interrupted waiter leaves the queue, or, if it
        // was interrupted just after the hand-off, gives back what it was handed.
        onFailure: (cause) => {
          this.waiters.abandon(waiter)
          const handed = waiter.handed
          if (handed === undefined) return Effect.failCause(cause)
          waiter.handed = undefined
          return Effect.andThen(this.recycle(handed), Effect.failCause(cause))
        },
        onSuccess: (record) => {
          waiter.handed = undefined
          return record.lent
        }
      }
    )
  }

  /** The reaper found a waiter past its deadline. */
  private expire(waiter: Waiter<ConnectionRecord<A>, BorrowError>): void {
    this.counters.timeouts++
    this.observer.timedOut(this.timeoutMillis)
    this.waiters.settle(waiter, Effect.fail(this.listener.timedOut()))
  }

  /** Every waiter hears of `error` now. */
  failWaiters(error: BorrowError): void {
    this.waiters.settleAll(Effect.fail(error))
  }

  /** Gives a connection that may be lent to the oldest waiter, or puts it on the idle stack. */
  protected deliver(record: ConnectionRecord<A>): void {
    const waiter = this.waiters.next()
    if (waiter === undefined) {
      record.state = "idle"
      this.idle.push(record)
      return
    }
    this.lend(record)
    waiter.handed = record
    this.waiters.settle(waiter, record.lent)
  }

  /**
   * A connection back from a loan, a check, or just opened: retired if the retire decision says so, else
   * delivered. Returns the effect that closes it, or `undefined` when there is nothing left to do (the
   * hot path).
   */
  protected place(
    record: ConnectionRecord<A>,
    occasion: Health.Occasion,
    now?: number
  ): Effect.Effect<void> | undefined {
    const reason = Health.retireReason(record, occasion, this, this.limits, now)
    if (reason !== undefined) return this.close(record, reason)
    this.deliver(record)
    return undefined
  }

  /** Takes back a lent connection (see `place`). */
  recycleNow(record: ConnectionRecord<A>): Effect.Effect<void> | undefined {
    this.lent--
    const now = this.hooks.now()
    record.lastUsedAt = now
    if (this.metrics) {
      if (record.lentAt !== undefined) this.observer.returned(now - record.lentAt)
      this.observer.counted(this)
    }
    record.lentAt = undefined
    return this.place(record, "return", now)
  }

  recycle(record: ConnectionRecord<A>): Effect.Effect<void> {
    return this.recycleNow(record) ?? Effect.void
  }

  /**
   * A connection just opened joins the pool, then is lent or kept; opened before `resize` lowered the
   * maximum, it may be one too many: then it is closed (the effect returned).
   */
  admit(record: ConnectionRecord<A>): Effect.Effect<void> | undefined {
    this.records.set(record.id, record)
    this.counters.created++
    this.observer.counted(this)
    return this.place(record, "open")
  }

  /**
   * Closes a connection (once). It stays counted as open until its finalizers have run, so the pool never
   * has more than `maxConnections` sockets and shutdown ends only when every one is closed.
   */
  close(record: ConnectionRecord<A>, reason: CloseReason): Effect.Effect<void> {
    if (record.state === "retired") return Effect.void
    record.state = "retired"
    this.closing++
    return Effect.uninterruptible(Effect.ensuring(
      closeScope(this.options.name, record.id, record.scope),
      Effect.sync(() => {
        this.closing--
        this.records.delete(record.id)
        this.counters.closed++
        this.counters.closedByReason[reason]++
        this.observer.closed(record.id, reason)
        this.observer.counted(this)
        this.listener.connectionClosed()
      })
    ))
  }

  /**
   * Retires an idle connection if the retire decision says so at this `occasion`; returns the effect that
   * closes it, or `undefined` when it stays (or was lent or taken for a check since the caller looked).
   */
  retireIdleIfDue(record: ConnectionRecord<A>, occasion: Health.Occasion): Effect.Effect<void> | undefined {
    if (record.state !== "idle") return undefined
    const reason = Health.retireReason(record, occasion, this, this.limits)
    if (reason === undefined) return undefined
    const index = this.idle.indexOf(record)
    if (index >= 0) this.idle.splice(index, 1)
    return this.close(record, reason)
  }

  /** Takes every idle connection off the idle stack for checking: no borrower can get one mid-check. */
  takeIdleForCheck(): Array<ConnectionRecord<A>> {
    const taken = this.idle.splice(0, this.idle.length)
    for (const record of taken) record.state = "checking"
    this.checking += taken.length
    return taken
  }

  /**
   * Ends a check: the connection is retired if the retire decision says so at `occasion` (`return`, or
   * `shutdown` for a check cut short by the pool's close), else delivered.
   */
  endCheck(record: ConnectionRecord<A>, occasion: "return" | "shutdown"): Effect.Effect<void> {
    if (record.state !== "checking") return Effect.void
    this.checking--
    return this.place(record, occasion) ?? Effect.void
  }
}
