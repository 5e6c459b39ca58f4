/**
 * Metrics: a pool's metrics exported through OpenTelemetry to Prometheus, and read back.
 *
 * The pool is built with `metrics: true`, so it records Effect `Metric`s tagged with its name (see
 * `PoolMetrics`). `@effect/opentelemetry`'s `NodeSdk.layer` hands Effect's metrics to an OpenTelemetry
 * meter provider whose reader is the Prometheus exporter. The program sends requests to an IPC server,
 * makes the server drop every connection midway, then scrapes `/metrics` as a Prometheus server would
 * and prints the pool's lines: gauges, counters (closes by reason among them) and histograms.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/metrics.ts
 */
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { NodeSdk } from "@effect/opentelemetry"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { Effect, Schedule } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

const poolName = "metrics-example"
const encoder = new TextEncoder()

// The exporter's own server is replaced by one on a free port, so the example never collides with
// another program on Prometheus's default port 9464.
const exporter = new PrometheusExporter({ preventServerStart: true })

const metricsEndpoint = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((request, response) => exporter.getMetricsRequestHandler(request, response))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

/** Fetches the metrics page, as Prometheus's scraper does. */
const scrape = (server: http.Server) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`).then((response) => response.text())
  )

const program = Effect.gen(function*() {
  const path = yield* IpcAddress.localPath(`connection-pool-metrics-${process.pid}`)
  const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
  const pool = yield* IpcPool.make({ path }, { name: poolName, maxConnections: 4, metrics: true })
  const endpoint = yield* metricsEndpoint

  const send = (i: number) =>
    pool.use((connection) => connection.request(encoder.encode(`request ${i}`))).pipe(
      // a request that meets a dropped connection is retried on a fresh one
      Effect.retry({ schedule: Schedule.exponential("5 millis"), times: 3 })
    )
  const requests = Array.from({ length: 500 }, (_, i) => i)
  yield* Effect.forEach(requests.slice(0, 250), send, { concurrency: 20, discard: true })
  const dropped = yield* server.closeConnections
  yield* Effect.log(`server dropped ${dropped} connection(s)`)
  yield* Effect.forEach(requests.slice(250), send, { concurrency: 20, discard: true })

  const page = yield* scrape(endpoint)
  const lines = page.split("\n").filter((line) => line.startsWith("connection_pool_") && line.includes(poolName))
  // the histograms' buckets make a long page: show their counts and sums, and every other line
  const shown = lines.filter((line) => !line.includes("_bucket{"))
  console.log(`# ${lines.length} lines for pool "${poolName}" on /metrics, buckets left out:`)
  for (const line of shown) console.log(line)
  yield* Effect.log((yield* pool.stats).summary)
}).pipe(
  Effect.scoped,
  Effect.provide(
    NodeSdk.layer(() => ({ resource: { serviceName: "connection-pool-example" }, metricReader: exporter }))
  )
)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
