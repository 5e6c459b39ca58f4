// Prints the test counts from vitest's JSON reports as plain lines ("N passed, N failed, N skipped"), the closing
// line CI reads whatever the runner. Each line of the library has its own report: build/vitest-results.json
// (Effect 3, `vitest run`) and build/vitest-results-effect4.json (Effect 4, `pnpm test:effect4`).
// `node scripts/test-summary.mjs` reads the Effect 3 report and the Effect 4 one when it exists, prints one line
// per report and then their total; `node scripts/test-summary.mjs effect4` (or effect3) reads that report alone.
// Exits 1 when a report read has a failure.
import { existsSync, readFileSync } from "node:fs"

const reports = { effect3: "../build/vitest-results.json", effect4: "../build/vitest-results-effect4.json" }
const asked = process.argv.slice(2)
for (const name of asked) {
  if (!(name in reports)) {
    console.error(`test-summary: no line ${name}: use ${Object.keys(reports).join(", ")}`)
    process.exit(2)
  }
}
const names = asked.length > 0
  ? asked
  : Object.keys(reports).filter((name) => name === "effect3" || existsSync(new URL(reports[name], import.meta.url)))

const line = (counts) => `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`
const total = { passed: 0, failed: 0, skipped: 0, success: true }
for (const name of names) {
  const report = JSON.parse(readFileSync(new URL(reports[name], import.meta.url), "utf8"))
  const counts = {
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + report.numTodoTests
  }
  if (names.length > 1) console.log(`${name}: ${line(counts)}`)
  total.passed += counts.passed
  total.failed += counts.failed
  total.skipped += counts.skipped
  total.success &&= report.success
}
console.log(`tests: ${line(total)}`)
process.exit(total.failed === 0 && total.success ? 0 : 1)
