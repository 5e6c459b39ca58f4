/**
 * One line's run (bench/run.mjs builds and starts it: `pnpm bench` the Effect 3 line, `pnpm bench --line effect4`
 * the Effect 4 line; the line is the bundle's, from its edge). A full run measures every scenario (a few minutes)
 * and records this line's figures in bench/results.json, which keeps the other line's, then rewrites
 * BENCHMARKS.md and the charts from both; `--quick` runs them briefly (seconds, as CI does, to keep the suite
 * working) and writes under bench/build/ instead, leaving the committed results alone. `--only <scenario>`
 * (borrow, ipc, ipc_shared, wait, spike, memory) runs that one alone and prints its tables, writing nothing: a
 * partial run must not replace the full results.
 */
import { effectPackageJson, effectPoolForm, line, warningsOnly } from "#edge/effect"
import { Effect } from "effect"
import { mkdirSync, readFileSync } from "node:fs"
import * as os from "node:os"
import { chartName, type Paths, record, type Results, table, write } from "./report.js"
import * as Borrow from "./scenarios/borrow.js"
import * as Ipc from "./scenarios/ipc.js"
import * as IpcShared from "./scenarios/ipcShared.js"
import * as Memory from "./scenarios/memory.js"
import * as Spike from "./scenarios/spike.js"
import * as Wait from "./scenarios/wait.js"

const quick = process.argv.includes("--quick")
const scenarioNames = ["borrow", "ipc", "ipc_shared", "wait", "spike", "memory"] as const
const onlyIndex = process.argv.indexOf("--only")
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined
if (only !== undefined && !(scenarioNames as ReadonlyArray<string>).includes(only)) {
  console.error(`--only takes one of ${scenarioNames.join(", ")}; got ${only}`)
  process.exit(2)
}
/** Whether `scenario` runs in this run: every one, unless `--only` names another. */
const runs = (scenario: typeof scenarioNames[number]) => only === undefined || only === scenario
// bundled into bench/build/<line>/bench.mjs: the repository root is three levels up from there
const root = new URL("../../../", import.meta.url)

/** The version of a package, from its package.json (`path`, from the repository root). */
const versionOf = (path: string): string => {
  try {
    return JSON.parse(readFileSync(new URL(path, root), "utf8")).version
  } catch {
    return "unknown"
  }
}

const machine = {
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "unknown"}`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  os: `${os.platform()} ${os.release()}`,
  node: process.version,
  packages: {
    effect: versionOf(effectPackageJson),
    // the peers are the same packages on both lines
    "generic-pool": versionOf("bench/node_modules/generic-pool/package.json"),
    tarn: versionOf("bench/node_modules/tarn/package.json")
  }
}

const asRows = <T extends object>(rows: Record<string, T>) =>
  rows as unknown as Record<string, Record<string, number | boolean>>

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? Number.NaN : Math.round((a / b) * 100) / 100

const program = Effect.gen(function*() {
  const scenarios: Results["scenarios"] = {}
  const log = (name: string) => Effect.sync(() => console.log(`\n${table(name, scenarios[name]!)}`))

  if (runs("borrow")) {
    const borrow = yield* Borrow.run({
      concurrencies: [1, 10, 100, 1000],
      ops: quick ? 2_000 : 50_000,
      rounds: quick ? 1 : 5
    })
    for (const [name, rows] of Object.entries(borrow)) {
      scenarios[name] = rows
      yield* log(name)
    }
  }

  if (runs("ipc")) {
    const ipc = yield* Ipc.run({ ops: quick ? 2_000 : 30_000, rounds: quick ? 1 : 5 })
    for (const [name, rows] of Object.entries(ipc)) {
      scenarios[name] = rows
      yield* log(name)
    }
  }

  if (runs("ipc_shared")) {
    const ipcShared = yield* IpcShared.run({ ops: quick ? 2_000 : 30_000, rounds: quick ? 1 : 5 })
    for (const [name, rows] of Object.entries(ipcShared)) {
      scenarios[name] = rows
      yield* log(name)
    }
  }

  if (runs("wait")) {
    scenarios.wait = asRows(yield* Wait.run({ borrowsPerFiber: quick ? 3 : 30 }))
    yield* log("wait")
  }
  if (runs("spike")) {
    scenarios.spike = asRows(yield* Spike.run({ rounds: quick ? 1 : 3 }))
    yield* log("spike")
    scenarios.spike_slow_opens = asRows(yield* Spike.runSlowOpens({ rounds: quick ? 1 : 3 }))
    yield* log("spike_slow_opens")
  }
  if (runs("memory")) {
    scenarios.memory = {
      "pool.use": {
        ...(yield* Memory.run({
          connections: quick ? 200 : 1_000,
          waiters: quick ? 1_000 : 10_000,
          borrows: quick ? 100_000 : 1_000_000
        }))
      }
    }
    yield* log("memory")
  }
  if (only !== undefined) {
    console.log(`\n--only ${only}: a partial run; results.json and BENCHMARKS.md are left alone`)
    return
  }

  const ops = (scenario: string, name: string) => scenarios[scenario]?.[name]?.opsPerSec as number | undefined
  const bestPeer = (scenario: string) =>
    Math.max(...["generic-pool", "tarn", "effect Pool"].map((name) => ops(scenario, name) ?? 0))
  const ratios: Record<string, number> = {}
  for (const c of [1, 10, 100, 1000]) {
    ratios[`borrow_use_c${c}_vs_best_peer`] = ratio(ops(`borrow_c${c}`, "pool.use"), bestPeer(`borrow_c${c}`))
  }
  for (const c of [1, 100]) {
    ratios[`borrow_use_c${c}_metrics_on_vs_off`] = ratio(
      ops(`borrow_c${c}`, Borrow.withMetricsName),
      ops(`borrow_c${c}`, "pool.use")
    )
  }
  ratios.ipc_use_c100_vs_limit = ratio(ops("ipc_c100", "pool.use"), ops("ipc_c100", Ipc.limitName))
  ratios.ipc_use_c100_vs_best_peer = ratio(ops("ipc_c100", "pool.use"), bestPeer("ipc_c100"))
  ratios.ipc_use_c10_vs_limit = ratio(ops("ipc_c10", "pool.use"), ops("ipc_c10", Ipc.limitName))
  ratios.ipc_use_c10_vs_best_peer = ratio(ops("ipc_c10", "pool.use"), bestPeer("ipc_c10"))
  ratios.ipc_scoped_c100_vs_effect_pool = ratio(ops("ipc_c100", "pool.get (scoped)"), ops("ipc_c100", "effect Pool"))
  /** `over` against `under` in one scenario of this run. */
  const within = (scenario: string, over: string, under: string) => ratio(ops(scenario, over), ops(scenario, under))
  ratios.ipc_exclusive_scoped_c100_vs_scoped_limit = within("ipc_c100", "pool.get (scoped)", Ipc.scopedLimitName)
  ratios.borrow_scoped_c1_vs_scoped_limit = within("borrow_c1", "pool.get (scoped)", Borrow.scopedLimitName)
  ratios.borrow_scoped_c1_vs_finalizer_limit = within("borrow_c1", "pool.get (scoped)", Borrow.finalizerLimitName)
  ratios.ipc_shared_c100_vs_exclusive_limit = within("ipc_shared_c100", "pool.use", IpcShared.exclusiveLimitName)
  ratios.ipc_shared_c100_vs_shared_limit = within("ipc_shared_c100", "pool.use", IpcShared.sharedLimitName)
  ratios.ipc_shared_c100_vs_effect_pool = within("ipc_shared_c100", "pool.use", "effect Pool")
  ratios.ipc_shared_c1000_vs_shared_limit = within("ipc_shared_c1000", "pool.use", IpcShared.sharedLimitName)
  ratios.ipc_scoped_c100_vs_scoped_limit = within("ipc_shared_c100", "pool.get (scoped)", IpcShared.scopedLimitName)
  ratios.spike_connections_opened = scenarios.spike!["pool.use"]!.connectionsOpened as number
  for (const maxConnecting of Spike.maxConnectingValues) {
    const row = scenarios.spike_slow_opens![`pool.use maxConnecting ${maxConnecting}`]!
    ratios[`spike_slow_opens_maxConnecting_${maxConnecting}_p99_wait_ms`] = row.waitP99Ms as number
    ratios[`spike_slow_opens_maxConnecting_${maxConnecting}_connections_opened`] = row.connectionsOpened as number
  }

  const results: Results = {
    line,
    date: new Date().toISOString().slice(0, 10),
    machine,
    effectPool: effectPoolForm,
    mode: quick ? "quick" : "full",
    scenarios,
    ratios
  }
  console.log(`\nratios (${line}): ${JSON.stringify(ratios, null, 2)}`)
  if (quick) {
    mkdirSync(new URL("bench/build/", root), { recursive: true })
    record(results, quickPaths)
  } else {
    record(results, fullPaths)
  }
})

/** Where a full run writes: the charts are bench/results.svg (Effect 3) and bench/results-effect4.svg. */
const fullPaths: Paths = {
  json: new URL("bench/results.json", root).pathname,
  markdown: new URL("BENCHMARKS.md", root).pathname,
  svg: (line) => new URL(`bench/${chartName(line)}`, root).pathname,
  svgLink: (line) => `bench/${chartName(line)}`
}
const quickPaths: Paths = {
  json: new URL("bench/build/results.json", root).pathname,
  markdown: new URL("bench/build/BENCHMARKS.md", root).pathname,
  svg: (line) => new URL(`bench/build/${chartName(line)}`, root).pathname,
  svgLink: chartName
}

// `--report-only` rewrites BENCHMARKS.md and the charts from bench/results.json without measuring again.
const main = process.argv.includes("--report-only") ? Effect.sync(() => write(fullPaths)) : program

main.pipe(warningsOnly, Effect.runPromise).catch((error) => {
  console.error(error)
  process.exit(1)
})
