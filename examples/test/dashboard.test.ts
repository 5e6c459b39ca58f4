/**
 * The dashboard example in headless Chromium: it runs as a user runs it (its own process, with periodic faults
 * off so that the test's faults are the only ones), and the test reads the page as a user would see it: one row per
 * open connection, with the numbers `/api/pool` gave the page; the page keeps refreshing; after the server drops
 * every connection the page counts them closed as `disconnected` and shows new ones; after the health endpoint
 * degrades it shows failed checks and scores below 100.
 *
 * Needs Debian's Chromium at /usr/bin/chromium: skipped with the reason printed when it is absent, a failure under
 * `REQUIRE_SERVICES=1` (as CI runs).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { Page } from "playwright-core"
import type { Snapshot } from "../dashboard/snapshot.js"
import { type Browser, chromiumUnavailable, launchChromium, type RunningDashboard, startDashboard } from "./browser.js"
import { ServerUnavailable, skipWithout } from "./realServers.js"

const unavailable = chromiumUnavailable()

/**
 * The little of the DOM that the functions run in the page use: the examples are type-checked without the DOM
 * library, and these functions are sent to the browser as source, where `document` is the page's.
 */
interface PageElement {
  readonly textContent: string | null
  getAttribute(name: string): string | null
}
declare const document: {
  readonly body: { readonly dataset: Record<string, string | undefined> }
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): Iterable<PageElement> & ArrayLike<PageElement>
}

/** What a row shows, read from the page. */
interface Row {
  readonly id: number
  readonly state: string
  readonly healthScore: number
  readonly errorCount: number
  readonly useCount: number
}

const rowsOf = (page: Page): Promise<ReadonlyArray<Row>> =>
  page.$$eval("#connections tr[data-id]", (rows) =>
    rows.map((row) => {
      const field = (name: string) => row.querySelector(`[data-field="${name}"]`)!.textContent!
      return {
        id: Number(row.getAttribute("data-id")),
        state: field("state"),
        healthScore: Number(field("healthScore")),
        errorCount: Number(field("errorCount")),
        useCount: Number(field("useCount"))
      }
    }))

const numberAt = async (page: Page, selector: string): Promise<number> =>
  Number(await page.locator(selector).first().textContent())

/** A bounded wait for a condition on the page; fails naming what did not happen and what the page showed. */
const waitOnPage = async <A>(
  page: Page,
  what: string,
  condition: (arg: A) => boolean,
  arg: A,
  timeoutMillis = 6_000
): Promise<void> => {
  try {
    // playwright types the argument as the page receives it (`Unboxed<A>`); plain JSON arrives unchanged
    await page.waitForFunction(condition as (arg: unknown) => boolean, arg as unknown, {
      timeout: timeoutMillis,
      polling: 50
    })
  } catch {
    const summary = await page.locator(`[data-stat="summary"]`).textContent()
    assert.fail(`waited ${timeoutMillis} ms for ${what}; the page shows: ${summary}`)
  }
}

describe.skipIf(skipWithout("dashboard browser", unavailable))("dashboard example in Chromium", () => {
  let dashboard: RunningDashboard | undefined
  let browser: Browser | undefined
  let page: Page
  const pageErrors: Array<string> = []

  beforeAll(async () => {
    if (unavailable !== undefined) throw new ServerUnavailable({ reason: unavailable })
    ;[dashboard, browser] = await Promise.all([
      startDashboard(["--for", "120", "--fault-every", "0"]),
      launchChromium()
    ])
    page = browser.context.pages()[0] ?? await browser.context.newPage()
    page.on("pageerror", (error) => pageErrors.push(error.message))
    await page.goto(dashboard.url)
    await waitOnPage(page, "the page's first poll", () => document.body.dataset.polls !== undefined, undefined)
  }, 40_000)

  afterAll(async () => {
    await browser?.close()
    await dashboard?.stop()
  })

  it("shows one row per open connection, with the numbers /api/pool gave it, and keeps refreshing", async () => {
    // The page polls /api/pool through the test: the first answer with connections is passed on and kept, and
    // every later poll gets it again, so the page stays still while it is compared with it.
    let captured: Snapshot | undefined
    await page.route("**/api/pool", async (route) => {
      if (captured !== undefined) return route.fulfill({ json: captured })
      const response = await route.fetch()
      const snapshot = (await response.json()) as Snapshot
      if (snapshot.connections.length > 0) captured = snapshot
      return route.fulfill({ response, json: snapshot })
    })
    try {
      const deadline = Date.now() + 5_000
      while (captured === undefined && Date.now() < deadline) await page.waitForTimeout(50)
      assert.isDefined(captured, "no /api/pool answer with an open connection within 5 s")
      const snapshot = captured!
      // the poll after this one renders the kept snapshot, whichever answer is in flight now
      const polls = Number(await page.evaluate(() => document.body.dataset.polls))
      await waitOnPage(page, "a poll of the kept snapshot", (n) => Number(document.body.dataset.polls) > n, polls)

      const rows = await rowsOf(page)
      const expected = [...snapshot.connections].sort((a, b) => a.id - b.id).map((c): Row => ({
        id: c.id,
        state: c.state,
        healthScore: c.healthScore,
        errorCount: c.errorCount,
        useCount: c.useCount
      }))
      assert.deepStrictEqual(rows, expected)
      assert.strictEqual(rows.length, snapshot.stats.total, "one row per open connection")
      for (
        const name of [
          "total",
          "maxConnections",
          "idle",
          "inUse",
          "waiting",
          "created",
          "closed",
          "timeouts",
          "openFailures",
          "healthChecks",
          "healthCheckFailures"
        ] as const
      ) {
        assert.strictEqual(await numberAt(page, `[data-stat="${name}"]`), snapshot.stats[name], name)
      }
      for (const [reason, count] of Object.entries(snapshot.stats.closedByReason)) {
        assert.strictEqual(await numberAt(page, `[data-close="${reason}"]`), count, `closed as ${reason}`)
      }
      assert.strictEqual(await page.locator(`[data-stat="summary"]`).textContent(), snapshot.stats.summary)
      assert.strictEqual(await numberAt(page, `[data-stat="succeeded"]`), snapshot.workload.succeeded)
    } finally {
      // the later tests need the real answers, whatever happened here
      await page.unroute("**/api/pool")
    }

    // The real answers go through again: the workload goes on, and the page shows it.
    await waitOnPage(
      page,
      "the page to show requests served after the kept snapshot",
      (served) => Number(document.querySelector(`[data-stat="succeeded"]`)!.textContent) > served,
      captured!.workload.succeeded
    )
    assert.deepStrictEqual(pageErrors, [])
  })

  it("after the server drops every connection, counts them closed as disconnected and shows new ones", async () => {
    const before = await numberAt(page, `[data-close="disconnected"]`)
    const ids = (await rowsOf(page)).map((row) => row.id)
    assert.isAbove(ids.length, 0)

    await page.click("#drop")
    await waitOnPage(
      page,
      "the drop's answer",
      () => /dropped \d+/.test(document.querySelector("#fault")!.textContent!),
      undefined
    )
    const dropped = Number((await page.locator("#fault").textContent())!.match(/dropped (\d+)/)![1])
    assert.isAtLeast(dropped, ids.length, "the server dropped at least the connections the page showed")

    // Each dropped connection is found closed (when lent, returned or at the next health tick) and replaced.
    await waitOnPage(
      page,
      `${dropped} more connections closed as disconnected, none of ${ids.join(", ")} left, and new ones open`,
      ({ before, dropped, ids }) => {
        const disconnected = Number(document.querySelector(`[data-close="disconnected"]`)!.textContent)
        const rows = Array.from(
          document.querySelectorAll("#connections tr[data-id]"),
          (row) => Number(row.getAttribute("data-id"))
        )
        return disconnected >= before + dropped && rows.length > 0 && rows.every((id) => !ids.includes(id))
      },
      { before, dropped, ids }
    )
  })

  it("while the health endpoint is degraded, shows failed checks and scores falling", async () => {
    const failedBefore = await numberAt(page, `[data-stat="healthCheckFailures"]`)
    const unhealthyBefore = await numberAt(page, `[data-close="unhealthy"]`)

    await page.click("#degrade")
    // A failed check takes 25 from a score: the connection shows below 100 until checks succeed again (+10 each),
    // or is retired as unhealthy at 50.
    await waitOnPage(
      page,
      "a failed health check and a score below 100 (or a connection retired as unhealthy)",
      ({ failedBefore, unhealthyBefore }) => {
        const number = (selector: string) => Number(document.querySelector(selector)!.textContent)
        const scores = Array.from(
          document.querySelectorAll(`#connections [data-field="healthScore"]`),
          (cell) => Number(cell.textContent)
        )
        return number(`[data-stat="healthCheckFailures"]`) > failedBefore &&
          (scores.some((score) => score < 100) || number(`[data-close="unhealthy"]`) > unhealthyBefore)
      },
      { failedBefore, unhealthyBefore }
    )
    assert.match((await page.locator("#fault").textContent())!, /health endpoint fails/)
    assert.deepStrictEqual(pageErrors, [])
  })
})
