/**
 * The Effect 4 edge for metrics: how a metric is declared, and how the pool updates one without running an
 * effect. Effect 4 keeps metrics in a registry found in the context, so each update is bound to the pool's
 * context, with the pool's attributes applied once. `scripts/lines.mjs` puts this file in place of
 * packages/core/src/internal/edge/metrics.ts.
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/** A gauge of numbers. */
export type Gauge = Metric.Gauge<number>
/** A counter of numbers. */
export type Counter = Metric.Counter<number>
/** A histogram of numbers. */
export type Histogram = Metric.Histogram<number>

export const gauge = (name: string, description: string): Gauge => Metric.gauge(name, { description })

export const counter = (name: string, description: string): Counter =>
  Metric.counter(name, { description, incremental: true })

/** The buckets of the time histograms, in seconds: 0.5 ms, 1 ms, 2 ms, ... about 65 s. */
export const timeBoundaries: ReadonlyArray<number> = Metric.exponentialBoundaries({
  start: 0.0005,
  factor: 2,
  count: 18
})

export const histogram = (name: string, description: string): Histogram =>
  Metric.histogram(name, { description, boundaries: timeBoundaries })

/** Updates one metric with fixed labels, synchronously. */
export type Update = (value: number) => void

/**
 * An update of `metric` under `labels`, made once per pool. The context is the pool's: Effect 4 finds the
 * metric registry there.
 */
export const bind = (
  metric: Gauge | Counter | Histogram,
  labels: ReadonlyArray<readonly [string, string]>,
  context: Context.Context<never>
): Update => {
  const attributed = Metric.withAttributes(
    metric as Metric.Metric<number, unknown>,
    labels.map(([key, value]) => [key, value] as [string, string])
  )
  // Makes the metric exist from the start, at zero: an exporter then shows a counter that has not moved yet.
  attributed.valueUnsafe(context)
  return (value) => attributed.updateUnsafe(value, context)
}
