import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

describe("examples", () => {
  it("quick-start runs to completion: every reply matches, and the pool recovers from a dropped server", async () => {
    const { code, stdout } = await runExample("quick-start.ts")
    assert.strictEqual(code, 0, stdout)
    assert.include(stdout, "1000 of 1000 replies matched their requests")
    assert.include(stdout, "after the drop: 100 of 100 requests served")
    // the four dropped connections were retired, and fresh ones opened in their place
    const summaries = [...stdout.matchAll(/created (\d+), closed (\d+)/g)]
    assert.strictEqual(summaries.length, 2)
    const [, created, closed] = summaries[1]!
    assert.strictEqual(Number(closed), 4)
    assert.isAbove(Number(created), 4)
  })
})
