import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

/** The value of the Prometheus line whose name and labels start as given. */
const valueOf = (page: string, prefix: string): number => {
  const line = page.split("\n").find((line) => line.startsWith(prefix))
  assert.isDefined(line, `no line starting with ${prefix}`)
  return Number(line!.slice(line!.lastIndexOf(" ") + 1))
}

describe("metrics example", () => {
  it("exports the pool's metrics to Prometheus through OpenTelemetry, agreeing with the pool's stats", async () => {
    const { code, stderr, stdout } = await runExample("metrics.ts")
    assert.strictEqual(code, 0, stderr)
    const [, created, closed] = stdout.match(/created (\d+), closed (\d+)/)!
    const pool = `{pool="metrics-example"`
    assert.strictEqual(valueOf(stdout, `connection_pool_opened_total${pool}`), Number(created))
    // the server dropped every connection midway (as many as the shared load had opened): each was found closed
    // and retired as disconnected
    const dropped = Number(stdout.match(/server dropped (\d+) connection/)![1])
    assert.isAtLeast(dropped, 1)
    assert.strictEqual(valueOf(stdout, `connection_pool_closed_total${pool},reason="disconnected"`), dropped)
    assert.strictEqual(Number(closed), dropped)
    assert.strictEqual(valueOf(stdout, `connection_pool_loans${pool}`), 0)
    assert.strictEqual(valueOf(stdout, `connection_pool_connections_open${pool}`), Number(created) - Number(closed))
    assert.strictEqual(valueOf(stdout, `connection_pool_connections_in_use${pool}`), 0)
    // counters that never moved are exported at zero rather than left out
    assert.strictEqual(valueOf(stdout, `connection_pool_timeouts_total${pool}`), 0)
    // every borrow was timed: 500 requests, and the retries of those that met a dropped connection
    const waits = valueOf(stdout, `connection_pool_wait_seconds_count${pool}`)
    assert.isAtLeast(waits, 500)
    assert.strictEqual(valueOf(stdout, `connection_pool_hold_seconds_count${pool}`), waits)
  })
})
