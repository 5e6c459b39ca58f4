/**
 * The metrics a pool records with Effect's `Metric`, when built with `metrics: true`.
 * Each is tagged with the pool's name under {@link poolLabel} (and `closed` with the reason under
 * {@link reasonLabel}), so several pools share one set of metrics. Export them as any Effect metric: for
 * instance to OpenTelemetry and Prometheus with `@effect/opentelemetry` (see `examples/metrics.ts`).
 *
 * Gauges are kept current as the pool changes; histograms are in seconds, with buckets from 0.5 ms
 * doubling up to about 65 s. Give every pool that records metrics a `name` of its own: pools of one name
 * share their series, so their gauges overwrite each other and their counters add up.
 *
 * Off by default, as in HikariCP: recording a loan's wait and hold times reads the clock once more per
 * borrow and updates two histograms, which costs about a quarter of the fastest borrow (one fiber, no I/O)
 * and a tenth at 100 fibers; small next to real I/O (see BENCHMARKS.md).
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector, PoolMetrics } from "@connection-pool/core"
 * import { Effect, Metric } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }), {
 *     name: "cache",
 *     metrics: true
 *   })
 *   yield* pool.use(() => Effect.void)
 *   const opened = yield* Metric.value(PoolMetrics.opened.pipe(Metric.tagged(PoolMetrics.poolLabel, "cache")))
 *   return opened.count // 1
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as edge from "./internal/edge/metrics.js"

/**
 * A gauge of numbers (Effect 3: `Metric.Metric.Gauge<number>`).
 *
 * @since 0.3.0
 * @category models
 */
export type Gauge = edge.Gauge

/**
 * A counter of numbers (Effect 3: `Metric.Metric.Counter<number>`).
 *
 * @since 0.3.0
 * @category models
 */
export type Counter = edge.Counter

/**
 * A histogram of numbers (Effect 3: `Metric.Metric.Histogram<number>`).
 *
 * @since 0.3.0
 * @category models
 */
export type Histogram = edge.Histogram

/**
 * The tag naming the pool on every metric.
 *
 * @since 0.1.0
 * @category labels
 */
export const poolLabel = "pool"

/**
 * The tag naming the close reason (a `PoolEvent.CloseReason`) on {@link closed}.
 *
 * @since 0.1.0
 * @category labels
 */
export const reasonLabel = "reason"

/**
 * Open connections, idle, lent and closing.
 *
 * @since 0.1.0
 * @category gauges
 */
export const connectionsOpen: Gauge = edge.gauge(
  "connection_pool_connections_open",
  "Open connections (idle, in use and closing)"
)

/**
 * Open connections not lent (waiting in the pool, being checked, or closing).
 *
 * @since 0.1.0
 * @category gauges
 */
export const connectionsIdle: Gauge = edge.gauge("connection_pool_connections_idle", "Open connections not lent")

/**
 * Connections lent to borrowers.
 *
 * @since 0.1.0
 * @category gauges
 */
export const connectionsInUse: Gauge = edge.gauge("connection_pool_connections_in_use", "Connections lent to borrowers")

/**
 * Borrowers waiting for a connection.
 *
 * @since 0.1.0
 * @category gauges
 */
export const waiting: Gauge = edge.gauge("connection_pool_waiting", "Borrowers waiting for a connection")

/**
 * Connections opened.
 *
 * @since 0.1.0
 * @category counters
 */
export const opened: Counter = edge.counter("connection_pool_opened", "Connections opened")

/**
 * Attempts to open a connection that failed or timed out.
 *
 * @since 0.1.0
 * @category counters
 */
export const openFailures: Counter = edge.counter(
  "connection_pool_open_failures",
  "Attempts to open a connection that failed or timed out"
)

/**
 * Connections closed, tagged with the reason under {@link reasonLabel}.
 *
 * @example
 * ```ts
 * import { PoolMetrics } from "@connection-pool/core"
 * import { Effect, Metric } from "effect"
 *
 * // connections of the pool "cache" retired as unhealthy
 * const unhealthy = PoolMetrics.closed.pipe(
 *   Metric.tagged(PoolMetrics.poolLabel, "cache"),
 *   Metric.tagged(PoolMetrics.reasonLabel, "unhealthy")
 * )
 * const report = Metric.value(unhealthy).pipe(Effect.flatMap(({ count }) => Effect.log(`${count} unhealthy`)))
 * ```
 *
 * @since 0.1.0
 * @category counters
 */
export const closed: Counter = edge.counter("connection_pool_closed", "Connections closed, by reason")

/**
 * Borrowers that waited `connectionTimeout` without getting a connection.
 *
 * @since 0.1.0
 * @category counters
 */
export const timeouts: Counter = edge.counter(
  "connection_pool_timeouts",
  "Borrowers that timed out waiting for a connection"
)

/**
 * Health checks run (on health ticks and, with `validateOnBorrow`, before lending).
 *
 * @since 0.1.0
 * @category counters
 */
export const healthChecks: Counter = edge.counter("connection_pool_health_checks", "Health checks run")

/**
 * Health checks that failed or timed out.
 *
 * @since 0.1.0
 * @category counters
 */
export const healthCheckFailures: Counter = edge.counter(
  "connection_pool_health_check_failures",
  "Health checks that failed or timed out"
)

/**
 * The buckets of the time histograms, in seconds: 0.5 ms, 1 ms, 2 ms, ... about 65 s.
 *
 * @since 0.1.0
 * @category histograms
 */
export const timeBoundaries: ReadonlyArray<number> = edge.timeBoundaries

/**
 * How long borrowers waited for a connection they got, in seconds (0 when one was idle).
 *
 * @since 0.1.0
 * @category histograms
 */
export const waitTime: Histogram = edge.histogram(
  "connection_pool_wait_seconds",
  "Time borrowers waited for a connection"
)

/**
 * How long borrowers held a connection, in seconds.
 *
 * @since 0.1.0
 * @category histograms
 */
export const holdTime: Histogram = edge.histogram("connection_pool_hold_seconds", "Time borrowers held a connection")

/**
 * How long opening a connection took, in seconds (successful opens).
 *
 * @since 0.1.0
 * @category histograms
 */
export const openTime: Histogram = edge.histogram("connection_pool_open_seconds", "Time to open a connection")

/**
 * Loans held: borrowers holding a connection. With `concurrency` 1 it equals `connection_pool_connections_in_use`;
 * with shared lending, utilization is this over `maxConnections x concurrency`.
 *
 * @since 0.2.0
 * @category gauges
 */
export const loans: Gauge = edge.gauge("connection_pool_loans", "Borrowers holding a connection")
