/**
 * Writes the results: a table on stdout, results.json (the last run of each line), BENCHMARKS.md (the lines side
 * by side) and an SVG chart of req/s per line.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"

export type Line = "effect3" | "effect4"
export const lines: ReadonlyArray<Line> = ["effect3", "effect4"]
const lineTitle: Record<Line, string> = { effect3: "Effect 3", effect4: "Effect 4" }
/** How to run a line in full. */
const lineCommand: Record<Line, string> = { effect3: "pnpm bench", effect4: "pnpm bench --line effect4" }

/** One line's run. */
export interface Results {
  readonly line: Line
  /** The day of the run (UTC). */
  readonly date: string
  readonly machine: Record<string, unknown>
  /** How the "effect Pool" contender borrows on this line. */
  readonly effectPool: string
  readonly mode: "full" | "quick"
  readonly scenarios: Record<string, Record<string, Record<string, number | boolean>>>
  readonly ratios: Record<string, number>
}

/** bench/results.json: the last run of each line. */
export type ResultsFile = { readonly [line in Line]?: Results }

/** Reads a results file; a file from before the Effect 4 line (one run at the top level) holds Effect 3's run. */
export const read = (path: string): ResultsFile => {
  if (!existsSync(path)) return {}
  const json = JSON.parse(readFileSync(path, "utf8"))
  return "scenarios" in json
    ? { effect3: { line: "effect3", date: "", effectPool: "Effect.scoped(Pool.get)", ...json } }
    : json as ResultsFile
}

const format = (n: number | boolean): string =>
  typeof n === "boolean" ? String(n) : Number.isInteger(n) ? n.toLocaleString("en-US") : n.toFixed(2)

export const table = (scenario: string, rows: Record<string, Record<string, number | boolean>>): string => {
  const columns = [...new Set(Object.values(rows).flatMap((row) => Object.keys(row)))]
  const header = `| ${scenario} | ${columns.join(" | ")} |`
  const rule = `|---|${columns.map(() => "---:").join("|")}|`
  const body = Object.entries(rows).map(([name, row]) =>
    `| ${name} | ${columns.map((c) => row[c] === undefined ? "" : format(row[c]!)).join(" | ")} |`
  )
  return [header, rule, ...body].join("\n")
}

/** A grouped bar chart of ops/s per contender for each throughput scenario, on a log scale. */
export const chart = (results: Results): string => {
  const scenarios = Object.entries(results.scenarios).filter(([, rows]) =>
    Object.values(rows).every((row) => typeof row.opsPerSec === "number")
  )
  const contenders = [...new Set(scenarios.flatMap(([, rows]) => Object.keys(rows)))]
  const palette = ["#2b6cb0", "#63b3ed", "#c05621", "#718096", "#a0aec0", "#2f855a", "#9b2c2c"]
  const barWidth = 12
  const groupWidth = contenders.length * barWidth + 24
  const height = 320
  const top = 40
  const bottom = 60
  const left = 70
  const legend = 230
  const width = left + scenarios.length * groupWidth + legend
  const max = Math.max(...scenarios.flatMap(([, rows]) => Object.values(rows).map((r) => r.opsPerSec as number)))
  const minLog = 3 // 1,000 ops/s at the axis
  const maxLog = Math.ceil(Math.log10(max))
  const y = (v: number) =>
    top + (height - top - bottom) * (1 - (Math.log10(Math.max(v, 1000)) - minLog) / (maxLog - minLog))
  const parts: Array<string> = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`
  )
  parts.push(`<rect width="100%" height="100%" fill="white"/>`)
  parts.push(
    `<text x="${left}" y="20" font-size="14">ops/s per contender, ${
      lineTitle[results.line]
    } (log scale, higher is better)</text>`
  )
  for (let p = minLog; p <= maxLog; p++) {
    const yy = y(10 ** p)
    parts.push(`<line x1="${left}" x2="${width - legend}" y1="${yy}" y2="${yy}" stroke="#e2e8f0"/>`)
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end">${format(10 ** p)}</text>`)
  }
  scenarios.forEach(([scenario, rows], g) => {
    const x0 = left + g * groupWidth + 12
    contenders.forEach((name, i) => {
      const value = rows[name]?.opsPerSec as number | undefined
      if (value === undefined) return
      const yy = y(value)
      parts.push(
        `<rect x="${x0 + i * barWidth}" y="${yy}" width="${barWidth - 2}" height="${height - bottom - yy}" ` +
          `fill="${palette[i % palette.length]}"><title>${name}: ${format(value)}</title></rect>`
      )
    })
    parts.push(
      `<text x="${x0 + (contenders.length * barWidth) / 2}" y="${
        height - bottom + 16
      }" text-anchor="middle">${scenario}</text>`
    )
  })
  contenders.forEach((name, i) => {
    const yy = top + i * 18
    parts.push(
      `<rect x="${width - legend + 10}" y="${yy}" width="12" height="12" fill="${palette[i % palette.length]}"/>`
    )
    parts.push(`<text x="${width - legend + 28}" y="${yy + 10}">${name}</text>`)
  })
  parts.push("</svg>")
  return parts.join("\n")
}

/** The targets set for this pool (issue "Benchmarks ..."), each checked against a ratio of this run. */
const targets: ReadonlyArray<{ readonly ratio: string; readonly goal: string; readonly met: (n: number) => boolean }> =
  [
    { ratio: "ipc_use_c100_vs_limit", goal: ">= 0.8", met: (n) => n >= 0.8 },
    { ratio: "ipc_use_c100_vs_best_peer", goal: ">= 1.3", met: (n) => n >= 1.3 },
    { ratio: "ipc_use_c10_vs_limit", goal: ">= 0.9", met: (n) => n >= 0.9 },
    { ratio: "borrow_use_c1_vs_best_peer", goal: ">= 1.2", met: (n) => n >= 1.2 },
    { ratio: "borrow_use_c10_vs_best_peer", goal: ">= 1.2", met: (n) => n >= 1.2 },
    { ratio: "borrow_use_c100_vs_best_peer", goal: ">= 1.2", met: (n) => n >= 1.2 },
    { ratio: "borrow_use_c1000_vs_best_peer", goal: ">= 1.2", met: (n) => n >= 1.2 },
    { ratio: "ipc_scoped_c100_vs_effect_pool", goal: ">= 1.5", met: (n) => n >= 1.5 },
    { ratio: "spike_connections_opened", goal: "<= 10", met: (n) => n <= 10 },
    { ratio: "ipc_shared_c100_vs_exclusive_limit", goal: ">= 2.0", met: (n) => n >= 2 },
    { ratio: "ipc_shared_c100_vs_shared_limit", goal: ">= 0.9", met: (n) => n >= 0.9 },
    { ratio: "ipc_shared_c100_vs_effect_pool", goal: ">= 2.0", met: (n) => n >= 2 },
    { ratio: "ipc_shared_c1000_vs_shared_limit", goal: ">= 0.85", met: (n) => n >= 0.85 },
    { ratio: "ipc_scoped_c100_vs_scoped_limit", goal: ">= 0.9", met: (n) => n >= 0.9 },
    { ratio: "borrow_scoped_c1_vs_scoped_limit", goal: ">= 0.9", met: (n) => n >= 0.9 }
  ]

/** Whether a figure meets its target, as a cell. */
const verdict = (value: number | undefined, met: (n: number) => boolean) =>
  value === undefined || value === null ? "" : met(value) ? "met" : "missed"
const cell = (value: number | boolean | undefined | null) => value === undefined || value === null ? "" : format(value)

const targetRows = (file: ResultsFile, present: ReadonlyArray<Line>): Array<string> => {
  const rows = targets.map(({ goal, met, ratio }) =>
    `| ${ratio} | ${goal} | ${
      present.map((line) => {
        const value = file[line]!.ratios[ratio]
        return `${cell(value)} | ${verdict(value, met)}`
      }).join(" | ")
    } |`
  )
  const memory = (line: Line) => file[line]!.scenarios.memory?.["pool.use"]
  if (present.some((line) => memory(line) !== undefined)) {
    const borrows = present.map((line) => memory(line)?.borrows as number | undefined).find((n) => n !== undefined)!
    const memoryRow = (label: string, goal: string, key: string, met: (n: number) => boolean) =>
      `| ${label} | ${goal} | ${
        present.map((line) => {
          const value = memory(line)?.[key] as number | undefined
          return `${cell(value)} | ${verdict(value, met)}`
        }).join(" | ")
      } |`
    rows.push(memoryRow("heap per idle connection (bytes)", "< 2,048", "bytesPerIdleConnection", (n) => n < 2048))
    rows.push(
      memoryRow(
        `heap growth over ${format(borrows)} borrows (bytes)`,
        "< 5 MB",
        "heapGrowthBytes",
        (n) => n < 5 * 2 ** 20
      )
    )
  }
  return [
    `| figure | target | ${present.map((line) => `${lineTitle[line]} | `).join(" | ")} |`,
    `|---|---|${present.map(() => "---:|---").join("|")}|`,
    ...rows
  ]
}

/** A scenario's table with each figure of every line side by side. */
const sideBySide = (scenario: string, file: ResultsFile, present: ReadonlyArray<Line>): string => {
  const rowsOf = (line: Line) => file[line]!.scenarios[scenario] ?? {}
  const names = [...new Set(present.flatMap((line) => Object.keys(rowsOf(line))))]
  const metrics = [
    ...new Set(present.flatMap((line) => Object.values(rowsOf(line)).flatMap((row) => Object.keys(row))))
  ]
  const columns = metrics.flatMap((metric) => present.map((line) => ({ metric, line })))
  const header = `| ${scenario} | ${columns.map(({ line, metric }) => `${metric}, ${lineTitle[line]}`).join(" | ")} |`
  const rule = `|---|${columns.map(() => "---:").join("|")}|`
  const body = names.map((name) =>
    `| ${name} | ${columns.map(({ line, metric }) => cell(rowsOf(line)[name]?.[metric])).join(" | ")} |`
  )
  return [header, rule, ...body].join("\n")
}

/** Where the results go: the results file, the report, and each line's chart (its file and its link). */
export interface Paths {
  readonly json: string
  readonly markdown: string
  readonly svg: (line: Line) => string
  readonly svgLink: (line: Line) => string
}

/** A line's chart: results.svg for Effect 3 (as before the Effect 4 line), results-effect4.svg. */
export const chartName = (line: Line) => line === "effect3" ? "results.svg" : `results-${line}.svg`

/** Records one line's run in the results file, keeping the other line's, and rewrites the report from both. */
export const record = (results: Results, paths: Paths) => {
  const file: ResultsFile = { ...read(paths.json), [results.line]: results }
  writeFileSync(paths.json, JSON.stringify(file, null, 2) + "\n")
  report(file, paths)
}

/** Rewrites BENCHMARKS.md and the charts from the results file. */
export const write = (paths: Paths) => report(read(paths.json), paths)

const report = (file: ResultsFile, paths: Paths) => {
  const present = lines.filter((line) => file[line] !== undefined)
  for (const line of present) writeFileSync(paths.svg(line), chart(file[line]!) + "\n")
  const keysOf = (pick: (results: Results) => Record<string, unknown>) => [
    ...new Set(present.flatMap((line) => Object.keys(pick(file[line]!))))
  ]
  const lineRow = (label: string, value: (results: Results) => unknown) =>
    `| ${label} | ${
      present.map((line) => {
        const v = value(file[line]!)
        return v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v)
      }).join(" | ")
    } |`
  const missing = lines.filter((line) => file[line] === undefined)
  const markdown = [
    "# Benchmarks",
    "",
    "Generated by `pnpm bench` (the Effect 3 line) and `pnpm bench --line effect4` (the Effect 4 line): the same",
    "scenarios and contenders, built from the same source, each line against its own `effect` and its own build of",
    "this library; generic-pool and tarn are the same packages on both lines. Each run records its line in",
    "bench/results.json and leaves the other line's figures there. Every contender of a scenario runs in the same",
    "process, alternating round by round after a warm-up round; each figure is the median of its rounds. Compare",
    "ratios within one run, not absolute figures across machines or runs.",
    "",
    ...(missing.length > 0
      ? [
        `Not run yet: ${missing.map((line) => `${lineTitle[line]} (\`${lineCommand[line]}\`)`).join(", ")}.`,
        ""
      ]
      : []),
    "## Runs",
    "",
    `| | ${present.map((line) => lineTitle[line]).join(" | ")} |`,
    `|---|${present.map(() => "---").join("|")}|`,
    lineRow("run", (results) => `${results.mode}${results.date === "" ? "" : `, ${results.date}`}`),
    lineRow("\"effect Pool\" borrows through", (results) => `\`${results.effectPool}\``),
    ...keysOf((results) => results.machine).map((key) => lineRow(key, (results) => results.machine[key])),
    "",
    ...present.flatMap((line) => [
      `![ops/s per contender, ${lineTitle[line]}](${paths.svgLink(line)})`,
      ""
    ]),
    "## Targets",
    "",
    ...targetRows(file, present),
    "",
    "## Ratios (this pool over the other, same run)",
    "",
    `| ratio | ${present.map((line) => lineTitle[line]).join(" | ")} |`,
    `|---|${present.map(() => "---:").join("|")}|`,
    ...keysOf((results) => results.ratios).map((name) =>
      `| ${name} | ${present.map((line) => cell(file[line]!.ratios[name])).join(" | ")} |`
    ),
    "",
    "## Scenarios",
    "",
    ...keysOf((results) => results.scenarios).flatMap((scenario) => [sideBySide(scenario, file, present), ""])
  ].join("\n")
  writeFileSync(paths.markdown, markdown)
}
