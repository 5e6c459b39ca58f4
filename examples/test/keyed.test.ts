import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

describe("keyed example", () => {
  it("routes jobs by key within the per-key and total bounds, and forgets a key left idle", async () => {
    const { code, stderr, stdout } = await runExample("keyed.ts")
    assert.strictEqual(code, 0, stderr)
    assert.include(stdout, "600 jobs from 30 fibers: 600 answered by their own worker")
    const [, mostOpen] = stdout.match(/at most (\d+) connections open at once across the workers/)!
    assert.isAtMost(Number(mostOpen), 5, "maxTotal")

    // the per-key table: every worker served its 200 jobs, never more than 2 connections to one, 5 in all
    const rows = [...stdout.matchAll(/^ {2}workers:(worker-\d)((?: +\d+){6})$/gm)].map(([, name, cells]) => {
      const [open, inUse, created, closed, served, peakOpen] = cells!.trim().split(/ +/).map(Number)
      return { name, open: open!, inUse, created, closed, served, peakOpen: peakOpen! }
    })
    assert.deepStrictEqual(rows.map((row) => row.name), ["worker-1", "worker-2", "worker-3"])
    for (const row of rows) {
      assert.strictEqual(row.served, 200, row.name)
      assert.strictEqual(row.inUse, 0, row.name)
      assert.isAtLeast(row.open, 1, row.name)
      assert.isAtMost(row.peakOpen, 2, `${row.name}: maxConnections per key`)
    }
    assert.isAtMost(rows.reduce((sum, row) => sum + row.open, 0), 5, "maxTotal")

    // worker-3, left idle past keyIdleTimeout, was closed and forgotten, then made again on demand
    assert.include(
      stdout,
      "keys now: worker-1, worker-2; worker-3's pool was closed and forgotten (its server has 0 connections open)"
    )
    assert.match(
      stdout,
      /one more job for worker-3: "worker-3: job 2", on a new pool for its key \(created 1, keys: worker-1, worker-2, worker-3\)/
    )
  })
})
