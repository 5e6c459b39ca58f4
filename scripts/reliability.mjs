// `pnpm reliability`: runs the whole test suite at the reliability sizes (RELIABILITY=full: a million
// borrows per soak shape, storms of 10,000 borrowers, longer chaos runs) on each Effect line (Effect 3:
// vitest 3 under this Node; Effect 4: the generated packages/*-effect4 tests, vitest 5 under the lane's Node 22),
// then writes what each test family did and what held, per line, from the figures the tests record in their
// task meta, to RELIABILITY.md and reliability/results.json. Nothing in either file is written by hand.
//
//   node scripts/reliability.mjs [effect3|effect4]    (default: both lines)
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import { effect4Node, vitestArgs } from "./effect4-lane.mjs"

const root = fileURLToPath(new URL("../", import.meta.url))

// Tests that record no figures of their own but belong to a family all the same: the bad-input catalogue
// is the count of its cases, each of which asserts a typed error naming what was wrong.
const familyOfFile = [
  [/packages\/core\/test\/options\.test\.ts$/, "Bad input: pool options"],
  [/packages\/core\/test\/misuse\.test\.ts$/, "Bad input: misuse of a pool or a handle"],
  [
    /packages\/core\/test\/misuse-connector\.test\.ts$/,
    "Bad input: connectors whose callbacks throw or die, and closing with opens in flight"
  ],
  [/packages\/(core|platform-node)\/test\/(sharing|sharedLending)\.test\.ts$/, "Shared lending"],
  [
    /packages\/platform-node\/test\/(auth|socketOwnership|clientBackpressure|hostileClients|errorFrames|limits|backpressure|socketMode|decoderBuffering|requestTimeout)\.test\.ts$/,
    "Hostile IPC clients"
  ],
  [/packages\/platform-node\/test\/(faults|Frame)\.test\.ts$/, "Bad input: frames, addresses and faults over IPC"],
  [/packages\/redis\/test\/badInput\.test\.ts$/, "Bad input: Redis connections"],
  [/packages\/pg\/test\/badInput\.test\.ts$/, "Bad input: PostgreSQL servers that are not there, silent or refusing"]
]

const runners = {
  effect3: () => ({ command: "npx", args: ["vitest", "run"], node: process.version }),
  effect4: () => {
    const node = effect4Node()
    return { command: node.path, args: vitestArgs([]), node: node.version }
  }
}
const asked = process.argv.slice(2)
const lineNames = asked.length > 0 ? asked : Object.keys(runners)
for (const name of lineNames) if (!(name in runners)) throw new Error(`no line ${name}: use effect3, effect4`)
if (lineNames.includes("effect4")) {
  const lines = spawnSync("node", ["scripts/lines.mjs"], { cwd: root, stdio: "inherit" })
  if (lines.status !== 0) throw new Error("scripts/lines.mjs failed")
}

const lineResults = {}
let allPassed = true
for (const name of lineNames) {
  const runner = runners[name]()
  const reportPath = `build/reliability-vitest-${name}.json`
  // a run that crashes before writing its report must not be read as the last one's figures
  rmSync(new URL(reportPath, `file://${root}`), { force: true })
  const started = Date.now()
  const run = spawnSync(
    runner.command,
    [...runner.args, "--reporter=default", "--reporter=json", `--outputFile.json=${reportPath}`],
    { cwd: root, stdio: "inherit", env: { ...process.env, RELIABILITY: "full" } }
  )
  const seconds = Math.round((Date.now() - started) / 1000)
  const report = readJson(reportPath)
  lineResults[name] = {
    wallSeconds: seconds,
    node: runner.node,
    tests: { passed: report.numPassedTests, failed: report.numFailedTests, total: report.numTotalTests },
    families: familiesOf(report)
  }
  allPassed &&= run.status === 0 && report.numFailedTests === 0
}

function readJson(path) {
  return JSON.parse(readFileSync(new URL(path, `file://${root}`), "utf8"))
}

function familiesOf(report) {
  const families = new Map()
  const familyFor = (name) => {
    if (!families.has(name)) families.set(name, { family: name, tests: [] })
    return families.get(name)
  }
  for (const file of report.testResults) {
    // the Effect 4 line's tests are the same files, generated under packages/<name>-effect4
    const path = relative(root, file.name).replace(/^packages\/([a-z-]+?)-effect4\//, "packages/$1/")
    const fileFamily = familyOfFile.find(([pattern]) => pattern.test(path))?.[1]
    for (const test of file.assertionResults) {
      const figures = test.meta?.reliability
      const family = figures?.family ?? fileFamily
      if (family === undefined) continue
      familyFor(family).tests.push({
        file: path,
        test: test.fullName,
        status: test.status,
        durationMs: Math.round(test.duration ?? 0),
        did: figures?.did ?? {},
        held: figures?.held ?? {}
      })
    }
  }
  return [...families.values()]
}

const results = {
  generatedBy: "pnpm reliability",
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
  lines: lineResults
}
mkdirSync(new URL("reliability/", `file://${root}`), { recursive: true })
writeFileSync(new URL("reliability/results.json", `file://${root}`), JSON.stringify(results, null, 2) + "\n")

const format = (value) =>
  typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: 3 }) : String(value)
const pairs = (record) => Object.entries(record).map(([key, value]) => `${key} ${format(value)}`).join(", ") || "—"
const lines = [
  "# Reliability",
  "",
  "Generated by `pnpm reliability` from the test suite run at its reliability sizes (`RELIABILITY=full`) on each",
  "Effect line; the figures are the ones the tests measured and asserted on. Regenerate it rather than editing it.",
  "",
  `- run: ${results.date}, ${results.machine.cpus} cpus`
]
for (const [name, line] of Object.entries(lineResults)) {
  lines.push(
    `- ${name}: ${line.tests.passed} passed, ${line.tests.failed} failed, of ${line.tests.total}; ${line.wallSeconds} s of wall time, node ${line.node}`
  )
}
// Counts add up across a family's tests; outcomes (losses, leaks, deltas) report the worst one seen.
const sum = (tests, pick) => {
  const total = {}
  for (const test of tests) {
    for (const [key, value] of Object.entries(pick(test))) {
      if (typeof value === "number") total[key] = (total[key] ?? 0) + value
    }
  }
  return total
}
const worst = (tests) => {
  const result = {}
  for (const test of tests) {
    for (const [key, value] of Object.entries(test.held)) {
      if (typeof value === "number") result[key] = Math.max(result[key] ?? -Infinity, value)
    }
  }
  return result
}
for (const [name, line] of Object.entries(lineResults)) {
  lines.push(
    "",
    `## ${name}: the families`,
    "",
    "| family | tests | passed | what they did (summed) | what held (worst case) |",
    "|---|---:|---:|---|---|"
  )
  for (const family of line.families) {
    const passed = family.tests.filter((test) => test.status === "passed").length
    lines.push(
      `| ${family.family} | ${family.tests.length} | ${passed} | ${pairs(sum(family.tests, (test) => test.did))} | ${
        pairs(worst(family.tests))
      } |`
    )
  }
}
for (const [name, line] of Object.entries(lineResults)) {
  for (const family of line.families) {
    lines.push("", `### ${name}: ${family.family}`, "", "| test | status | did | held |", "|---|---|---|---|")
    for (const test of family.tests) {
      lines.push(`| ${test.test.replaceAll("|", "\\|")} | ${test.status} | ${pairs(test.did)} | ${pairs(test.held)} |`)
    }
  }
}
writeFileSync(new URL("RELIABILITY.md", `file://${root}`), lines.join("\n") + "\n")
console.log(
  `reliability: ${
    Object.entries(lineResults).map(([name, line]) =>
      `${name} ${line.tests.passed} passed, ${line.tests.failed} failed in ${line.wallSeconds} s`
    ).join("; ")
  }; wrote RELIABILITY.md and reliability/results.json`
)
process.exit(allPassed ? 0 : 1)
