/**
 * The Effect 3 edge for metrics: how a metric is declared, and how the pool updates one without running an
 * effect. Effect 3 caches a metric's hook per label array (by identity), so each update is a lookup and a
 * store, about 10 ns for a gauge or a counter and 40 ns for a histogram. The Effect 4 build replaces this file
 * with packages/core-effect4/edge/metrics.ts.
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/** A gauge of numbers. */
export type Gauge = Metric.Metric.Gauge<number>
/** A counter of numbers. */
export type Counter = Metric.Metric.Counter<number>
/** A histogram of numbers. */
export type Histogram = Metric.Metric.Histogram<number>

export const gauge = (name: string, description: string): Gauge => Metric.gauge(name, { description })

export const counter = (name: string, description: string): Counter =>
  Metric.counter(name, { description, incremental: true })

const boundaries = MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 18 })

/** The buckets of the time histograms, in seconds: 0.5 ms, 1 ms, 2 ms, ... about 65 s. */
export const timeBoundaries: ReadonlyArray<number> = boundaries.values

export const histogram = (name: string, description: string): Histogram =>
  Metric.histogram(name, boundaries, description)

/** Updates one metric with fixed labels, synchronously. */
export type Update = (value: number) => void

/**
 * An update of `metric` under `labels`, made once per pool. The context is the pool's (Effect 4 finds the
 * metric registry there; Effect 3 keeps one global registry).
 */
export const bind = (
  metric: Gauge | Counter | Histogram,
  labels: ReadonlyArray<readonly [string, string]>,
  _context: Context.Context<never>
): Update => {
  const metricLabels = labels.map(([key, value]) => MetricLabel.make(key, value))
  // Makes the metric exist from the start, at zero: an exporter then shows a counter that has not moved yet.
  metric.unsafeValue(metricLabels)
  return (value) => metric.unsafeUpdate(value, metricLabels)
}
