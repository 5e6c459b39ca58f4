import { ConnectionPool, Connector, PoolMetrics } from "@connection-pool/core"
import { Effect, Metric } from "effect"

const program = Effect.gen(function*() {
  const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }), {
    name: "cache",
    metrics: true
  })
  yield* pool.use(() => Effect.void)
  const opened = yield* Metric.value(
    PoolMetrics.opened.pipe(Metric.withAttributes({ [PoolMetrics.poolLabel]: "cache" }))
  )
  return opened.count // 1
}).pipe(Effect.scoped)
