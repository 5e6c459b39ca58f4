import { PoolMetrics } from "@connection-pool/core"
import { Effect, Metric } from "effect"

// connections of the pool "cache" retired as unhealthy
const unhealthy = PoolMetrics.closed.pipe(
  Metric.withAttributes({ [PoolMetrics.poolLabel]: "cache", [PoolMetrics.reasonLabel]: "unhealthy" })
)
const report = Metric.value(unhealthy).pipe(Effect.flatMap(({ count }) => Effect.log(`${count} unhealthy`)))
