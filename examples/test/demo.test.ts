import { assert, beforeAll, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"

interface DemoJson {
  readonly recovered: boolean
  readonly requests: {
    readonly planned: number
    readonly issued: number
    readonly done: number
    readonly failed: number
    readonly lost: number
    readonly failedAttempts: number
    readonly mismatched: number
  }
  readonly faults: ReadonlyArray<{ readonly atMillis: number; readonly fault: string }>
  readonly stats: {
    readonly total: number
    readonly idle: number
    readonly inUse: number
    readonly healthy: number
    readonly waiting: number
    readonly maxConnections: number
    readonly closedByReason: Readonly<Record<string, number>>
    readonly summary: string
  }
}

// With 3,000 requests instead of 6,000 the demo takes 10 seconds or so; both runs go at once.
const size = ["--requests", "3000"]
let json: Awaited<ReturnType<typeof runExample>>
let plain: Awaited<ReturnType<typeof runExample>>
beforeAll(async () => {
  ;[json, plain] = await Promise.all([
    runExample("demo.ts", ["--json", ...size], 60_000),
    runExample("demo.ts", size, 60_000)
  ])
}, 70_000)

describe("the demo", () => {
  it("--json: no request lost through both faults, and the pool back to 8 healthy connections", () => {
    assert.strictEqual(json.code, 0, json.stderr)
    const report = JSON.parse(json.stdout) as DemoJson // nothing but the JSON on stdout
    const { requests, stats } = report
    assert.strictEqual(requests.planned, 3000)
    assert.strictEqual(requests.issued, requests.planned)
    assert.strictEqual(requests.done, requests.issued, "every request answered")
    assert.strictEqual(requests.failed, 0)
    assert.strictEqual(requests.lost, 0)
    assert.strictEqual(requests.mismatched, 0)
    // the faults were injected, in order, and cost attempts that the retry policy sent again
    assert.deepStrictEqual(report.faults.map(({ fault }) => fault.replace(/\d+(\.\d+)?/g, "N")), [
      "the server drops every connection",
      "the server process (pid N) is killed",
      "the server is started again on the same path",
      "the server is back (pid N), Ns after the kill"
    ])
    assert.isAbove(requests.failedAttempts, 0)
    // the 8 dropped connections and the 8 of the killed server were retired as disconnected, and replaced
    assert.isAtLeast(stats.closedByReason.disconnected!, 16)
    assert.isTrue(report.recovered)
    assert.strictEqual(stats.maxConnections, 8)
    assert.strictEqual(stats.total, 8)
    assert.strictEqual(stats.healthy, 8)
    assert.strictEqual(stats.idle, 8)
    assert.strictEqual(stats.inUse, 0)
    assert.strictEqual(stats.waiting, 0)
  })

  it("not on a terminal: plain periodic lines (no escapes), the faults as they happen, then the summary", () => {
    assert.strictEqual(plain.code, 0, plain.stderr)
    const { stdout } = plain
    assert.notInclude(stdout, "\x1b", "no ANSI escapes when stdout is not a terminal")
    const periodic = [
      ...stdout.matchAll(/^t\+\d+\.\ds {2}requests (\d+)\/3000 done, (\d+) failed, \d+ retried \| pool /gm)
    ]
    assert.isAtLeast(periodic.length, 6, stdout)
    const done = periodic.map((line) => Number(line[1]))
    assert.deepStrictEqual(done, [...done].sort((a, b) => a - b), "progress never goes back")
    assert.strictEqual(done.at(-1), 3000)
    assert.match(stdout, /^t\+\d+\.\ds {2}the server drops every connection$/m)
    assert.match(stdout, /^t\+\d+\.\ds {2}the server process \(pid \d+\) is killed$/m)
    assert.match(stdout, /\| server down$/m, "a periodic line saw the server down")
    assert.include(stdout, "3000 of 3000 requests answered, 0 failed, 0 mismatched")
    assert.include(stdout, "recovered: 8 of 8 connections open, all healthy")
    assert.match(stdout, /pool "demo": 8\/8 open .* closed \d+ \(\d+ disconnected\)/)
  })
})
