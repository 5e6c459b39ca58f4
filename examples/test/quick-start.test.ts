import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

describe("quick-start example", () => {
  it("borrows a connection in a scope, gets the echo back, and gives the connection back", async () => {
    const { code, stderr, stdout } = await runExample("quick-start.ts")
    assert.strictEqual(code, 0, stderr)
    assert.include(stdout, "reply: hello")
    // one connection was opened, and it is idle again once the scope closed
    assert.include(stdout, `pool \\"daemon\\": 1/4 open (0 in use, 1 idle)`)
  })
})
