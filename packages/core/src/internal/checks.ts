/**
 * Health checks of one connection: the connector's `check`, bounded by `healthCheckTimeout`, in a span,
 * and what a check's outcome does to the connection's health record. Used by validation on borrow and by
 * the maintenance fiber.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ConnectionError } from "../PoolError.js"
import type { ConnectorCalls } from "./connectorCalls.js"
import * as edge from "./edge/effect.js"
import * as Health from "./health.js"
import type { Observer } from "./observer.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"
import type { Counters } from "./stats.js"

export class Checks<A, R> {
  constructor(
    private readonly options: ResolvedOptions,
    private readonly calls: ConnectorCalls<A, R>,
    private readonly counters: Counters,
    private readonly observer: Observer
  ) {}

  /** The connector's check of one connection, bounded by `healthCheckTimeout`, in a span. */
  check(record: ConnectionRecord<A>): Effect.Effect<unknown, unknown> {
    this.counters.healthChecks++
    return this.calls.check(record.connection, record.id).pipe(
      edge.timeoutFailAfter(this.options.healthCheckTimeout, () =>
        new ConnectionError({
          reason: "CheckTimedOut",
          pool: this.options.name,
          connectionId: record.id,
          cause: `no answer within ${Duration.format(this.options.healthCheckTimeout)}`
        })),
      Effect.withSpan("connection-pool.check", {
        attributes: { "pool.name": this.options.name, "connection.id": record.id }
      })
    )
  }

  passed(record: ConnectionRecord<A>): void {
    const previousScore = record.healthScore
    record.healthScore = Health.afterCheckSucceeded(record.healthScore)
    this.observer.checked(true)
    this.observer.healthChanged(record, previousScore, record.errorCount)
  }

  failed(record: ConnectionRecord<A>): void {
    const previousScore = record.healthScore
    this.counters.healthCheckFailures++
    record.errorCount++
    record.healthScore = Health.afterCheckFailed(record.healthScore)
    this.observer.checked(false)
    this.observer.healthChanged(record, previousScore, record.errorCount - 1)
  }

  /** A borrower's failure that the connector calls the connection's fault. */
  faulted(record: ConnectionRecord<A>): void {
    const previousScore = record.healthScore
    record.errorCount++
    record.healthScore = Health.afterFault(record.healthScore)
    this.observer.healthChanged(record, previousScore, record.errorCount - 1)
  }
}
