/**
 * Where a pool reports what happens: events to `pool.events` subscribers, and, with `metrics: true`, the
 * metrics of `PoolMetrics`.
 *
 * Metrics are updated synchronously through updates bound once per pool (./edge/metrics.ts), with no effect to
 * run on the borrow path.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectionError } from "../PoolError.js"
import * as PoolEvent from "../PoolEvent.js"
import * as PoolMetrics from "../PoolMetrics.js"
import * as edge from "./edge/effect.js"
import * as MetricEdge from "./edge/metrics.js"

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

/** The pool's metric updates, each bound once to the pool's labels. */
class Updates {
  readonly connectionsOpen: MetricEdge.Update
  readonly connectionsIdle: MetricEdge.Update
  readonly connectionsInUse: MetricEdge.Update
  readonly waiting: MetricEdge.Update
  readonly loans: MetricEdge.Update
  readonly opened: MetricEdge.Update
  readonly openFailures: MetricEdge.Update
  readonly timeouts: MetricEdge.Update
  readonly healthChecks: MetricEdge.Update
  readonly healthCheckFailures: MetricEdge.Update
  readonly waitTime: MetricEdge.Update
  readonly holdTime: MetricEdge.Update
  readonly openTime: MetricEdge.Update
  readonly closedByReason: ReadonlyMap<PoolEvent.CloseReason, MetricEdge.Update>

  constructor(pool: string, context: Context.Context<never>) {
    const labels = [[PoolMetrics.poolLabel, pool]] as const
    const bind = (metric: PoolMetrics.Gauge | PoolMetrics.Counter | PoolMetrics.Histogram) =>
      MetricEdge.bind(metric, labels, context)
    this.connectionsOpen = bind(PoolMetrics.connectionsOpen)
    this.connectionsIdle = bind(PoolMetrics.connectionsIdle)
    this.connectionsInUse = bind(PoolMetrics.connectionsInUse)
    this.waiting = bind(PoolMetrics.waiting)
    this.loans = bind(PoolMetrics.loans)
    this.opened = bind(PoolMetrics.opened)
    this.openFailures = bind(PoolMetrics.openFailures)
    this.timeouts = bind(PoolMetrics.timeouts)
    this.healthChecks = bind(PoolMetrics.healthChecks)
    this.healthCheckFailures = bind(PoolMetrics.healthCheckFailures)
    this.waitTime = bind(PoolMetrics.waitTime)
    this.holdTime = bind(PoolMetrics.holdTime)
    this.openTime = bind(PoolMetrics.openTime)
    this.closedByReason = new Map(
      PoolEvent.closeReasons.map((reason) => [
        reason,
        MetricEdge.bind(PoolMetrics.closed, [...labels, [PoolMetrics.reasonLabel, reason]], context)
      ])
    )
  }
}

export class Observer {
  /**
   * The metric updates, with `metrics: true`. Made with the pool, so that every metric of the pool exists from
   * the start, at zero: an exporter then shows a counter that has not moved yet (no timeouts so far) instead of
   * leaving it out.
   */
  readonly updates: Updates | undefined
  /** Whether the pool has closed and said so to subscribers. */
  ended = false

  constructor(
    readonly pool: string,
    /** Whether metrics are recorded (`metrics: true`). */
    readonly metrics: boolean,
    /** The pool's context, where Effect 4 finds the metric registry. */
    context: Context.Context<never>
  ) {
    this.updates = metrics ? new Updates(pool, context) : undefined
  }

  /** Sets the gauges. Called wherever open connections, loans or waiters change in number. */
  counted(counts: Counts): void {
    const updates = this.updates
    if (updates === undefined) return
    updates.connectionsOpen(counts.openCount)
    updates.connectionsInUse(counts.inUseCount)
    // clamped: a connection closed under the fiber that is closing the pool is still counted lent until it returns
    updates.connectionsIdle(Math.max(0, counts.openCount - counts.inUseCount))
    updates.waiting(counts.waiting)
    updates.loans(counts.lent)
  }

  /** A borrower got a connection after waiting this long (0 when one was idle). */
  acquired(waitedMillis: number): void {
    this.updates?.waitTime(waitedMillis / 1000)
  }

  /** A borrower gave a connection back after holding it this long. */
  returned(heldMillis: number): void {
    this.updates?.holdTime(heldMillis / 1000)
  }

  opened(connectionId: number, openMillis: number): void {
    const updates = this.updates
    if (updates !== undefined) {
      updates.opened(1)
      updates.openTime(openMillis / 1000)
    }
    this.publish(PoolEvent.Opened({ pool: this.pool, connectionId, openMillis }))
  }

  openFailed(error: ConnectionError): void {
    this.updates?.openFailures(1)
    this.publish(PoolEvent.OpenFailed({ pool: this.pool, error }))
  }

  closed(connectionId: number, reason: PoolEvent.CloseReason): void {
    this.updates?.closedByReason.get(reason)!(1)
    this.publish(PoolEvent.Closed({ pool: this.pool, connectionId, reason }))
  }

  timedOut(waitedMillis: number): void {
    this.updates?.timeouts(1)
    this.publish(PoolEvent.Timeout({ pool: this.pool, waitedMillis }))
  }

  checked(succeeded: boolean): void {
    const updates = this.updates
    if (updates === undefined) return
    updates.healthChecks(1)
    if (!succeeded) updates.healthCheckFailures(1)
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
  readonly subscribers = new Set<edge.EventQueue<Published>>()

  /** Never waits: with no subscriber the event is dropped at once, and a full buffer drops it too. */
  publish(event: PoolEvent.PoolEvent): void {
    for (const subscriber of this.subscribers) edge.offerNow(subscriber, event)
  }

  /**
   * A subscriber's buffer for the rest of the scope. Subscribing after the pool has closed finds the end
   * at once; the check and the registration happen in one step, so no end can slip in between.
   */
  readonly subscribe: Effect.Effect<edge.EventQueue<Published>, never, Scope.Scope> = Effect.acquireRelease(
    Effect.tap(edge.droppingQueue<Published>(PoolEvent.bufferSize), (queue) =>
      Effect.sync(() => {
        if (this.ended) edge.offerNow(queue, endOfEvents)
        else this.subscribers.add(queue)
      })),
    (queue) => Effect.andThen(Effect.sync(() => this.subscribers.delete(queue)), edge.shutdownQueue(queue))
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
        (queue) => edge.offerNow(queue, endOfEvents) ? Effect.void : edge.shutdownQueue(queue),
        { discard: true }
      )
    })
  }
}
