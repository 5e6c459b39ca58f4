/**
 * The PostgreSQL example against the real server: the example runs to completion with its one command and in
 * process. (How its sessions behave, SQL errors that are not faults, terminated sessions that are typed faults
 * closing the connection, an interrupted query giving up its session, no crash on an idle session's termination,
 * a refused connect, is tested with the connector, in packages/pg/test.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { main, PgPoolLive } from "../postgres.js"
import { postgresUnavailable, requireServer, skipWithout } from "./realServers.js"

const unavailable = await postgresUnavailable()
const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

describe.skipIf(skipWithout("PostgreSQL", unavailable))("PostgreSQL example", () => {
  it("runs to completion with its one command: no query lost after the server terminated the pool's sessions", async () => {
    if (unavailable !== undefined) assert.fail(`REQUIRE_SERVICES=1 but ${unavailable}`)
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          tsx,
          ["examples/postgres.ts"],
          { cwd: root, timeout: 50_000 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout, stderr })
        )
      }
    )
    assert.strictEqual(code, 0, stdout + stderr)
    const terminated = /the server terminated (\d+) of the pool's sessions/.exec(stdout)
    assert.isNotNull(terminated, stdout)
    assert.isAbove(Number(terminated![1]), 0)
    assert.include(stdout, "1000 of 1000 queries answered, 1000 with their own value")
    assert.match(stdout, /pool "examples-postgres-\d+": \d\/8 open/)
  })

  it.live("runs in process: its main effect returns what happened", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const outcome = yield* main.pipe(Effect.provide(PgPoolLive))
      assert.strictEqual(outcome.answered, outcome.queries)
      assert.isAbove(outcome.terminated, 0)
      assert.strictEqual(outcome.stats.created - outcome.stats.closed, outcome.stats.total)
    }))
})
