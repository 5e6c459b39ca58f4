import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

describe("examples", () => {
  it("quick-start runs to completion: every reply matches, and the pool recovers from a dropped server", async () => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        tsx,
        ["examples/quick-start.ts"],
        { cwd: root, timeout: 30_000 },
        (error, stdout) => resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout })
      )
    })
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
