/**
 * Takes docs/dashboard.png: the dashboard example in headless Chromium at 1200x800, while its workload runs,
 * after the server has dropped every connection and while the health endpoint is degraded, so that the rows show
 * replaced connections and health bars at different heights.
 *
 *   npx --yes pnpm@10.34.8 exec tsx scripts/screenshot-dashboard.ts
 *
 * Needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium).
 */
import { fileURLToPath } from "node:url"
import { chromiumUnavailable, launchChromium, startDashboard } from "../examples/test/browser.js"

// Functions given to page.waitForFunction run in the page, where `document` is the page's.
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>
}

const output = fileURLToPath(new URL("../docs/dashboard.png", import.meta.url))

const unavailable = chromiumUnavailable()
if (unavailable !== undefined) {
  console.error(`cannot take the screenshot: ${unavailable}`)
  process.exit(1)
}

// Faults are injected here, at chosen moments, rather than on the example's own period.
const dashboard = await startDashboard(["--for", "60", "--fault-every", "0"])
const browser = await launchChromium({ width: 1200, height: 800 })
try {
  const page = browser.context.pages()[0] ?? await browser.context.newPage()
  // The page's polls go through here, so that they can be held while the screenshot is taken.
  let holding = false
  let release = () => {}
  const released = new Promise<void>((resolve) => release = resolve)
  await page.route("**/api/pool", async (route) => {
    if (holding) await released
    await route.continue().catch(() => undefined)
  })
  await page.goto(dashboard.url)
  // some traffic first, then a drop: the first connections are replaced and counted as disconnected
  await page.waitForTimeout(2_500)
  await page.click("#drop")
  await page.waitForTimeout(2_500)
  await page.click("#degrade")
  // then the picture: health scores at three heights or more (a failed check takes 25, a good one gives 10 back)
  await page.waitForFunction(
    () => {
      const scores = Array.from(
        document.querySelectorAll(`#connections [data-field="healthScore"]`),
        (cell) => Number(cell.textContent)
      )
      return new Set(scores).size >= 3
    },
    undefined,
    { timeout: 15_000, polling: 50 }
  )
  // Hold the page still on that picture (the next poll starts 500 ms after a render, so none is in flight yet)
  // while the bars' width transition finishes.
  holding = true
  await page.waitForTimeout(500)
  await page.screenshot({ path: output })
  release()
  console.log(`wrote ${output}`)
} finally {
  await browser.close()
  await dashboard.stop()
}
