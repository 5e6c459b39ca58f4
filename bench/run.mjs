// `pnpm bench [--line effect3|effect4|both] [--quick] [--only <scenario>] [--report-only]`: builds the benchmark of
// each line (bench/build.mjs) and runs it (bench/src/main.ts).
//
//   pnpm bench                     the Effect 3 line in full; records it in bench/results.json, BENCHMARKS.md
//   pnpm bench --line effect4      the Effect 4 line in full (pnpm bench:effect4 is the same); keeps Effect 3's
//   pnpm bench --line both         both, one after the other
//   pnpm bench --quick             both lines briefly (seconds each, as CI does); writes under bench/build/
//   pnpm bench --report-only       rewrites BENCHMARKS.md and the charts from bench/results.json
//
// The Effect 4 line is built from the generated sources of packages/<x>-effect4, so scripts/lines.mjs runs first.
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const args = process.argv.slice(2)
const lineIndex = args.indexOf("--line")
const lineArg = lineIndex >= 0 ? args[lineIndex + 1] : undefined
const rest = lineIndex >= 0 ? args.filter((_, i) => i !== lineIndex && i !== lineIndex + 1) : args
const quick = rest.includes("--quick")
const choice = lineArg ?? (quick ? "both" : "effect3")
if (!["effect3", "effect4", "both"].includes(choice)) {
  console.error(`bench: --line takes effect3, effect4 or both; got ${choice}`)
  process.exit(2)
}
const lines = choice === "both" ? ["effect3", "effect4"] : [choice]

const run = (command, commandArgs) => {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit" })
  if (result.status !== 0) {
    console.error(`bench: ${[command, ...commandArgs].join(" ")} failed (${result.signal ?? `exit ${result.status}`})`)
    process.exit(result.status ?? 1)
  }
}

if (rest.includes("--report-only")) {
  // the report reads bench/results.json only; either line's bundle writes it
  run(process.execPath, ["bench/build.mjs", "effect3", "--no-server"])
  run(process.execPath, ["bench/build/effect3/bench.mjs", ...rest])
  process.exit(0)
}

const onlyIndex = rest.indexOf("--only")
const only = onlyIndex >= 0 ? rest[onlyIndex + 1] : undefined
// the IPC server is built only when an IPC scenario runs
const server = only === undefined || only.startsWith("ipc") ? [] : ["--no-server"]

for (const line of lines) {
  console.log(`\n== bench: the ${line === "effect3" ? "Effect 3" : "Effect 4"} line${quick ? " (quick)" : ""}`)
  if (line === "effect4") run(process.execPath, ["scripts/lines.mjs"])
  run(process.execPath, ["bench/build.mjs", line, ...server])
  run(process.execPath, ["--expose-gc", "--enable-source-maps", `bench/build/${line}/bench.mjs`, ...rest])
}
