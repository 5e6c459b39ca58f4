/**
 * The queue of borrowers waiting for a connection: first come, first served, each with a deadline.
 *
 * Borrowers' timeouts cost no fiber each: every waiter has the same timeout and the queue is FIFO, so
 * deadlines are in queue order, and one reaper per queue, sleeping until the oldest deadline, expires
 * them all. The queue is plain data; the reaper (`reap`) is its one edge into Effect's runtime.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** One borrower waiting; `T` is what it is handed, `E` what it may fail with. */
export interface Waiter<T, E> {
  deadline: number
  /** Set once the borrower's fiber is suspended, waiting to be resumed with its outcome. */
  resume: ((outcome: Effect.Effect<T, E>) => void) | undefined
  /** What was handed over, kept so that a waiter interrupted after the hand-off can give it back. */
  handed: T | undefined
  /** In the queue (an interrupted borrower may never have got that far). */
  queued: boolean
  settled: boolean
}

export class WaiterQueue<T, E> {
  private readonly items: Array<Waiter<T, E> | undefined> = []
  private head = 0
  /** Waiters queued and not yet settled. */
  waiting = 0
  private reaperRunning = false

  /** `changed` is called whenever the number of waiters changes (for the gauges). */
  constructor(private readonly changed: () => void) {}

  newWaiter(): Waiter<T, E> {
    return { deadline: 0, resume: undefined, handed: undefined, queued: false, settled: false }
  }

  enqueue(waiter: Waiter<T, E>, resume: (outcome: Effect.Effect<T, E>) => void, deadline: number): void {
    waiter.resume = resume
    waiter.deadline = deadline
    this.items.push(waiter)
    waiter.queued = true
    this.waiting++
    this.changed()
  }

  /** A waiter that gives up (interrupted): out of the count now, out of the queue when reached. */
  abandon(waiter: Waiter<T, E>): void {
    if (!waiter.queued || waiter.settled) return
    waiter.settled = true
    this.waiting--
    this.changed()
  }

  /** The oldest waiter still waiting, taken off the queue; or `undefined`. */
  next(): Waiter<T, E> | undefined {
    while (this.head < this.items.length) {
      const waiter = this.items[this.head]!
      this.items[this.head++] = undefined
      // Compact now and then, so a queue that never empties does not grow without bound.
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head)
        this.head = 0
      }
      if (!waiter.settled) return waiter
    }
    return undefined
  }

  /** The oldest waiter still waiting, left on the queue; settled ones before it are dropped. */
  peek(): Waiter<T, E> | undefined {
    while (this.head < this.items.length) {
      const waiter = this.items[this.head]!
      if (!waiter.settled) return waiter
      this.items[this.head++] = undefined
    }
    return undefined
  }

  /** Resumes a waiter taken off the queue with its outcome. */
  settle(waiter: Waiter<T, E>, outcome: Effect.Effect<T, E>): void {
    waiter.settled = true
    this.waiting--
    this.changed()
    waiter.resume!(outcome)
  }

  /** Every waiter still waiting is resumed with `outcome`. */
  settleAll(outcome: Effect.Effect<T, E>): void {
    let waiter = this.next()
    while (waiter !== undefined) {
      this.settle(waiter, outcome)
      waiter = this.next()
    }
  }

  /** Whether the reaper must be started (once, until it finds the queue empty). */
  needsReaper(): boolean {
    if (this.reaperRunning) return false
    this.reaperRunning = true
    return true
  }

  /**
   * Takes every waiter whose deadline has passed off the queue and hands it to `expire`, then sleeps until
   * the oldest remaining deadline; ends when the queue is empty.
   */
  reap(monotonicNow: () => number, expire: (waiter: Waiter<T, E>) => void): Effect.Effect<void> {
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      const now = monotonicNow()
      let waiter = this.peek()
      while (waiter !== undefined) {
        if (waiter.deadline > now) return Effect.andThen(Effect.sleep(Duration.millis(waiter.deadline - now)), loop)
        this.next()
        expire(waiter)
        waiter = this.peek()
      }
      this.reaperRunning = false
      return Effect.void
    })
    return loop
  }
}
