/**
 * Where a pool reports what happens: events to `pool.events` subscribers, and, with `metrics: true`, the
 * metrics of `PoolMetrics`.
 *
 * Metrics are updated through `unsafeUpdate` with label arrays made once per pool: Effect caches a metric's
 * hook per label array (by identity), so each update is a lookup and a store, about 10 ns for a gauge or a
 * counter and 40 ns for a histogram, with no effect to run on the borrow path.
 */
import * as Effect from "effect/Effect"
import * as MetricLabel from "effect/MetricLabel"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { ConnectionError } from "../PoolError.js"
import * as PoolEvent from "../PoolEvent.js"
import * as PoolMetrics from "../PoolMetrics.js"

/** Published once the pool has closed: subscribers' streams end when they read it. */
export const endOfEvents: unique symbol = Symbol.for("@connection-pool/core/endOfEvents")

/** What a subscriber's queue carries: the pool's events, then the end. */
export type Published = PoolEvent.PoolEvent | typeof endOfEvents

/** The counts the gauges show, read from the engine. */
export interface Counts {
  readonly openCount: number
  readonly lent: number
  readonly waiting: number
  /** Connections held by one borrower or more. */
  readonly inUseCount: number
}

export class Observer {
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly labelsByReason: ReadonlyMap<PoolEvent.CloseReason, ReadonlyArray<MetricLabel.MetricLabel>>
  /** Whether the pool has closed and said so to subscribers. */
  ended = false

  constructor(
    readonly pool: string,
    /** Whether metrics are recorded (`metrics: true`). */
    readonly metrics: boolean
  ) {
    const poolLabel = MetricLabel.make(PoolMetrics.poolLabel, pool)
    this.labels = [poolLabel]
    this.labelsByReason = new Map(
      PoolEvent.closeReasons.map((reason) => [reason, [poolLabel, MetricLabel.make(PoolMetrics.reasonLabel, reason)]])
    )
    if (metrics) this.register()
  }

  /**
   * Makes every metric of the pool exist from the start, at zero: an exporter then shows a counter that
   * has not moved yet (no timeouts so far) instead of leaving it out.
   */
  register(): void {
    for (
      const metric of [
        PoolMetrics.connectionsOpen,
        PoolMetrics.connectionsIdle,
        PoolMetrics.connectionsInUse,
        PoolMetrics.waiting,
        PoolMetrics.opened,
        PoolMetrics.openFailures,
        PoolMetrics.timeouts,
        PoolMetrics.healthChecks,
        PoolMetrics.healthCheckFailures,
        PoolMetrics.waitTime,
        PoolMetrics.holdTime,
        PoolMetrics.openTime
      ]
    ) metric.unsafeValue(this.labels)
    for (const labels of this.labelsByReason.values()) PoolMetrics.closed.unsafeValue(labels)
  }

  /** Sets the gauges. Called wherever open connections, loans or waiters change in number. */
  counted(counts: Counts): void {
    if (!this.metrics) return
    PoolMetrics.connectionsOpen.unsafeUpdate(counts.openCount, this.labels)
    PoolMetrics.connectionsInUse.unsafeUpdate(counts.inUseCount, this.labels)
    // clamped: a connection closed under the fiber that is closing the pool is still counted lent until it returns
    PoolMetrics.connectionsIdle.unsafeUpdate(Math.max(0, counts.openCount - counts.inUseCount), this.labels)
    PoolMetrics.waiting.unsafeUpdate(counts.waiting, this.labels)
    PoolMetrics.loans.unsafeUpdate(counts.lent, this.labels)
  }

  /** A borrower got a connection after waiting this long (0 when one was idle). */
  acquired(waitedMillis: number): void {
    if (this.metrics) PoolMetrics.waitTime.unsafeUpdate(waitedMillis / 1000, this.labels)
  }

  /** A borrower gave a connection back after holding it this long. */
  returned(heldMillis: number): void {
    if (this.metrics) PoolMetrics.holdTime.unsafeUpdate(heldMillis / 1000, this.labels)
  }

  opened(connectionId: number, openMillis: number): void {
    if (this.metrics) {
      PoolMetrics.opened.unsafeUpdate(1, this.labels)
      PoolMetrics.openTime.unsafeUpdate(openMillis / 1000, this.labels)
    }
    this.publish(PoolEvent.Opened({ pool: this.pool, connectionId, openMillis }))
  }

  openFailed(error: ConnectionError): void {
    if (this.metrics) PoolMetrics.openFailures.unsafeUpdate(1, this.labels)
    this.publish(PoolEvent.OpenFailed({ pool: this.pool, error }))
  }

  closed(connectionId: number, reason: PoolEvent.CloseReason): void {
    if (this.metrics) PoolMetrics.closed.unsafeUpdate(1, this.labelsByReason.get(reason)!)
    this.publish(PoolEvent.Closed({ pool: this.pool, connectionId, reason }))
  }

  timedOut(waitedMillis: number): void {
    if (this.metrics) PoolMetrics.timeouts.unsafeUpdate(1, this.labels)
    this.publish(PoolEvent.Timeout({ pool: this.pool, waitedMillis }))
  }

  checked(succeeded: boolean): void {
    if (!this.metrics) return
    PoolMetrics.healthChecks.unsafeUpdate(1, this.labels)
    if (!succeeded) PoolMetrics.healthCheckFailures.unsafeUpdate(1, this.labels)
  }

  /**
   * A check or a fault may have changed a connection's health record; published only when its score or
   * error count actually changed (a passing check at 100 changes nothing).
   */
  healthChanged(
    record: { readonly id: number; readonly healthScore: number; readonly errorCount: number },
    previousScore: number,
    previousErrorCount: number
  ): void {
    if (record.healthScore === previousScore && record.errorCount === previousErrorCount) return
    this.publish(
      PoolEvent.HealthChanged({
        pool: this.pool,
        connectionId: record.id,
        previousScore,
        healthScore: record.healthScore,
        errorCount: record.errorCount
      })
    )
  }

  /**
   * Each subscriber has a buffer of its own, so one that stalls misses events itself without holding back
   * the others (a shared `PubSub` buffer would make every subscriber miss what the slowest has no room for).
   */
  readonly subscribers = new Set<Queue.Queue<Published>>()

  /** Never waits: with no subscriber the event is dropped at once, and a full buffer drops it too. */
  publish(event: PoolEvent.PoolEvent): void {
    for (const subscriber of this.subscribers) subscriber.unsafeOffer(event)
  }

  /**
   * A subscriber's buffer for the rest of the scope. Subscribing after the pool has closed finds the end
   * at once; the check and the registration happen in one step, so no end can slip in between.
   */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Published>, never, Scope.Scope> = Effect.acquireRelease(
    Effect.tap(Queue.dropping<Published>(PoolEvent.bufferSize), (queue) =>
      Effect.sync(() => {
        if (this.ended) queue.unsafeOffer(endOfEvents)
        else this.subscribers.add(queue)
      })),
    (queue) => Effect.zipRight(Effect.sync(() => this.subscribers.delete(queue)), Queue.shutdown(queue))
  )

  /**
   * Ends every subscriber's stream once it has read the events before. A subscriber so far behind that
   * the end does not fit in its buffer is cut off instead (its stream ends early), never left waiting.
   */
  end(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.ended = true
      const subscribers = Array.from(this.subscribers)
      this.subscribers.clear()
      return Effect.forEach(
        subscribers,
        (queue) => queue.unsafeOffer(endOfEvents) ? Effect.void : Queue.shutdown(queue),
        { discard: true }
      )
    })
  }
}
