/** Writes the results: a table on stdout, results.json, BENCHMARKS.md and an SVG chart of req/s. */
import { writeFileSync } from "node:fs"

export interface Results {
  readonly machine: Record<string, unknown>
  readonly mode: "full" | "quick"
  readonly scenarios: Record<string, Record<string, Record<string, number | boolean>>>
  readonly ratios: Record<string, number>
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
  parts.push(`<text x="${left}" y="20" font-size="14">ops/s per contender (log scale, higher is better)</text>`)
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

const targetRows = (results: Results): Array<string> => {
  const memory = results.scenarios.memory?.["pool.use"]
  const rows = targets.map(({ goal, met, ratio }) => {
    const value = results.ratios[ratio]
    return `| ${ratio} | ${goal} | ${value === undefined ? "" : format(value)} | ${
      value !== undefined && met(value) ? "met" : "missed"
    } |`
  })
  if (memory !== undefined) {
    const perIdle = memory.bytesPerIdleConnection as number
    const growth = memory.heapGrowthBytes as number
    const borrows = memory.borrows as number
    rows.push(
      `| heap per idle connection (bytes) | < 2,048 | ${format(perIdle)} | ${perIdle < 2048 ? "met" : "missed"} |`
    )
    rows.push(
      `| heap growth over ${format(borrows)} borrows (bytes) | < 5 MB | ${format(growth)} | ${
        growth < 5 * 2 ** 20 ? "met" : "missed"
      } |`
    )
  }
  return ["| figure | target | this run | |", "|---|---|---:|---|", ...rows]
}

export const write = (results: Results, paths: { json: string; markdown: string; svg: string; svgLink: string }) => {
  writeFileSync(paths.json, JSON.stringify(results, null, 2) + "\n")
  writeFileSync(paths.svg, chart(results) + "\n")
  const machine = Object.entries(results.machine).map(([k, v]) =>
    `- ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`
  )
  const markdown = [
    "# Benchmarks",
    "",
    `Generated by \`pnpm bench\` (${results.mode} run). Every contender of a scenario runs in the same process,`,
    "alternating round by round after a warm-up round; each figure is the median of its rounds. Compare",
    "ratios within one run, not absolute figures across machines.",
    "",
    "## Machine",
    "",
    ...machine,
    "",
    `![ops/s per contender](${paths.svgLink})`,
    "",
    "## Targets",
    "",
    ...targetRows(results),
    "",
    "## Ratios (this pool over the other, same run)",
    "",
    "| ratio | value |",
    "|---|---:|",
    ...Object.entries(results.ratios).map(([name, value]) => `| ${name} | ${format(value)} |`),
    "",
    "## Scenarios",
    "",
    ...Object.entries(results.scenarios).flatMap(([scenario, rows]) => [table(scenario, rows), ""])
  ].join("\n")
  writeFileSync(paths.markdown, markdown)
}
