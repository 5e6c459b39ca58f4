// Prints the test counts from vitest's JSON report as one plain line ("N passed, N failed, N skipped"),
// the closing line CI reads whatever the runner.
import { readFileSync } from "node:fs"

const report = JSON.parse(readFileSync(new URL("../build/vitest-results.json", import.meta.url), "utf8"))
const skipped = report.numPendingTests + report.numTodoTests
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`)
process.exit(report.numFailedTests === 0 && report.success ? 0 : 1)
