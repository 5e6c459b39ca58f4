import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

/** The attempt lines of section `n`, and the `=>` line that ends it. */
const section = (stdout: string, n: number) => {
  const lines = stdout.split("\n")
  const start = lines.findIndex((line) => line.startsWith(`${n}. `))
  assert.isAtLeast(start, 0, `no section ${n} in:\n${stdout}`)
  const end = lines.findIndex((line, i) => i > start && line.startsWith("   => "))
  return { attempts: lines.slice(start + 1, end).map((line) => line.trim()), result: lines[end]!.slice(6) }
}

describe("timeouts-and-retries example", () => {
  it("shows each bound and each retry, and handles every typed error it meets", async () => {
    const { code, stderr, stdout } = await runExample("timeouts-and-retries.ts")
    assert.strictEqual(code, 0, stderr)

    // 1, 2: a waiting borrower gives up at Effect.timeout's bound, or at the pool's connectionTimeout
    assert.match(stdout, /^1\. .*: TimeoutException after \d+ ms$/m)
    assert.match(stdout, /^2\. .*: PoolTimeoutError after \d+ ms: pool "timeouts-and-retries": no connection became/m)

    // 3: the slow attempt times out, the retry is served
    const slow = section(stdout, 3)
    assert.match(slow.attempts[0]!, /^attempt 1 at \+\d+ ms: TimeoutException/)
    assert.match(slow.attempts[1]!, /^attempt 2 at \+\d+ ms: ok: "slow-once#1 served on attempt 2"$/)
    // an interrupted request's connection is kept (its late reply dropped), so nothing was closed
    assert.match(slow.result, /the interrupted attempt's connection stayed in the pool \(0 closed\)/)

    // 4: busy twice, served on the third attempt
    const busy = section(stdout, 4)
    assert.strictEqual(busy.attempts.length, 3)
    assert.match(busy.attempts[0]!, /RemoteError \(server: HandlerFailed: Busy: busy, try again\)$/)
    assert.strictEqual(busy.result, "busy-twice#1 served on attempt 3")

    // 5: the hang-up is a SocketError, the retry goes out on a fresh connection
    const hangUp = section(stdout, 5)
    assert.match(hangUp.attempts[0]!, /SocketError .*the peer closed the connection/)
    assert.strictEqual(hangUp.result, "hang-up-once#1 served on attempt 2")

    // 6: always busy: a handful of attempts within the budget, then the fallback
    const always = section(stdout, 6)
    assert.isAtLeast(always.attempts.length, 3)
    assert.isAtMost(always.attempts.length, 10)
    assert.isTrue(always.attempts.every((line) => line.includes("RemoteError")))
    assert.match(always.result, /^gave up after \d+ ms \(HandlerFailed\); used the cached answer instead$/)

    // 7: the server gone: opens fail with ConnectionError caused by the socket's error, then catchTag
    const gone = section(stdout, 7)
    assert.include(gone.attempts.at(-1)!, "ConnectionError")
    assert.match(gone.result, /^gave up after \d+ ms: ConnectionError OpenFailed, caused by SocketError PathNotFound$/)

    assert.match(stdout, /^pool "timeouts-and-retries": .* timeouts 1,/m)
  })
})
