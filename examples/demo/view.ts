/**
 * The demo's terminal view, drawn with plain ANSI escapes: a live screen redrawn in place on a terminal, one
 * plain line per second elsewhere (CI, a pipe).
 */
import type { ConnectionPool, PoolEvent } from "@connection-pool/core"
import { Effect } from "effect"

/** Everything one frame shows. */
export interface Snapshot {
  readonly elapsedMillis: number
  readonly address: string
  readonly server: string
  readonly serverUp: boolean
  readonly requests: {
    readonly planned: number
    readonly done: number
    readonly failed: number
    readonly retried: number
    readonly perSecond: number
  }
  readonly stats: ConnectionPool.PoolStats
  readonly rows: ReadonlyArray<Row>
  readonly now: number
  readonly log: ReadonlyArray<LogLine>
}

// ---- colours ------------------------------------------------------------------------------------------------------

const sgr = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`
const bold = sgr("1")
const dim = sgr("2")
const red = sgr("31")
const green = sgr("32")
const yellow = sgr("33")
const cyan = sgr("36")
const magenta = sgr("1;35")

/** Colours a health score: full, lowered, at or below the pool's `unhealthyScore` (50; retired there). */
const scoreColor = (score: number) => (score >= 100 ? green : score > 50 ? yellow : red)

const stateColor: Record<ConnectionPool.ConnectionState, (text: string) => string> = {
  "idle": green,
  "in-use": cyan,
  "checking": yellow,
  "closing": red
}

const bar = (fraction: number, width: number) => {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width)
  return "█".repeat(filled) + dim("░".repeat(width - filled))
}

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)}s`

// ---- the connection rows -----------------------------------------------------------------------------------------

/** A connection's health record; for one closed a moment ago, the last one seen and why it was closed. */
export interface Row extends ConnectionPool.ConnectionInfo {
  readonly closed?: { readonly reason: PoolEvent.CloseReason; readonly atMillis: number } | undefined
}

/**
 * The open connections, and for `keepMillis` those just closed, with the score and errors they had, so that a
 * fault shows on screen before their replacements take their place.
 */
export class Rows {
  readonly seen = new Map<number, Row>()
  readonly closed = new Map<number, Row>()
  constructor(readonly keepMillis: number) {}

  event(event: PoolEvent.PoolEvent, now: number): void {
    if (event._tag !== "HealthChanged" && event._tag !== "Closed") return
    const last = this.seen.get(event.connectionId)
    if (last === undefined) return
    if (event._tag === "HealthChanged") {
      this.seen.set(last.id, { ...last, healthScore: event.healthScore, errorCount: event.errorCount })
    } else {
      this.seen.delete(last.id)
      this.closed.set(last.id, { ...last, closed: { reason: event.reason, atMillis: now } })
    }
  }

  rows(open: ReadonlyArray<ConnectionPool.ConnectionInfo>, now: number): Array<Row> {
    for (const [id, row] of this.closed) if (row.closed!.atMillis < now - this.keepMillis) this.closed.delete(id)
    const live = open.filter((connection) => !this.closed.has(connection.id))
    for (const connection of live) this.seen.set(connection.id, connection)
    return [...live, ...this.closed.values()].sort((a, b) => a.id - b.id)
  }
}

// ---- the event log ------------------------------------------------------------------------------------------------

export interface LogLine {
  /** When it first happened; `lastMillis`, when it last did. */
  readonly atMillis: number
  readonly lastMillis: number
  /** What happened, to the connections `ids` if any: `opened`, `closed: disconnected`. */
  readonly what: string
  readonly ids: ReadonlyArray<number>
  readonly tone: "fault" | "good" | "bad"
  /** How many times it happened. */
  readonly repeat: number
}

/**
 * The latest `size` lines. The same thing happening again within a second (to another connection, say) adds to
 * its line instead of pushing the others out: `connections #9–#16 opened`, `open failed: connection refused ×40`.
 */
export class Log {
  lines: Array<LogLine> = []
  constructor(readonly size: number, readonly clock: () => number) {}

  add(what: string, tone: LogLine["tone"], id?: number): void {
    const now = this.clock()
    // the same thing among the last three lines, last seen within a second
    for (let index = this.lines.length - 1; index >= 0 && index >= this.lines.length - 3; index--) {
      const line = this.lines[index]!
      if (line.what !== what || line.lastMillis <= now - 1000) continue
      const ids = id === undefined ? line.ids : [...line.ids, id]
      this.lines[index] = { ...line, lastMillis: now, ids, repeat: line.repeat + 1 }
      return
    }
    const line: LogLine = { atMillis: now, lastMillis: now, what, ids: id === undefined ? [] : [id], tone, repeat: 1 }
    this.lines = [...this.lines, line].slice(-this.size)
  }

  event(event: PoolEvent.PoolEvent): void {
    switch (event._tag) {
      case "Opened":
        return this.add("opened", "good", event.connectionId)
      case "OpenFailed":
        return this.add(`open failed: ${openFailure(event.error)}`, "bad")
      case "Closed":
        return this.add(`closed: ${event.reason}`, "bad", event.connectionId)
      case "HealthChanged":
        return this.add(
          `health ${event.previousScore} → ${event.healthScore}`,
          event.healthScore > event.previousScore ? "good" : "bad",
          event.connectionId
        )
      case "Timeout":
        return this.add(`a borrower gave up after ${event.waitedMillis} ms`, "bad")
    }
  }
}

/** `#9–#12, #14`: runs of consecutive ids shortened. */
const formatIds = (ids: ReadonlyArray<number>) => {
  const runs: Array<[number, number]> = []
  for (const id of [...ids].sort((a, b) => a - b)) {
    const run = runs.at(-1)
    if (run !== undefined && id === run[1] + 1) run[1] = id
    else if (run === undefined || id !== run[1]) runs.push([id, id])
  }
  return runs.map(([first, last]) => first === last ? `#${first}` : `#${first}–#${last}`).join(", ")
}

const describeLine = (line: LogLine) =>
  line.ids.length === 0
    ? `${line.what}${line.repeat > 1 ? ` ×${line.repeat}` : ""}`
    : `connection${line.ids.length > 1 ? "s" : ""} ${formatIds(line.ids)} ${line.what}`

/** The socket's reason for a failed open (`connection refused`), else the error's message. */
const openFailure = (error: { readonly message: string; readonly cause: unknown }) => {
  const cause = error.cause as { readonly message?: unknown } | undefined
  const text = typeof cause?.message === "string" ? cause.message : error.message
  return text.replace(/^[a-z]+:[^ ]*: /, "")
}

const toneColor = { fault: magenta, good: green, bad: red }

// ---- the live screen ----------------------------------------------------------------------------------------------

const closedByReason = (stats: ConnectionPool.PoolStats) =>
  Object.entries(stats.closedByReason).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(", ")

/** A connection's row: its health score as a bar, its state (or why it was closed), errors, uses and age. */
const connectionRow = (c: Row, now: number) =>
  [
    `  #${String(c.id).padEnd(4)}`,
    scoreColor(c.healthScore)(bar(c.healthScore / 100, 20)),
    String(c.healthScore).padStart(4),
    "  ",
    c.closed ? red(`closed: ${c.closed.reason}`.padEnd(24)) : stateColor[c.state](c.state.padEnd(24)),
    (c.errorCount > 0 ? red : dim)(String(c.errorCount).padStart(6)),
    String(c.useCount).padStart(8),
    seconds((c.closed?.atMillis ?? now) - c.createdAt).padStart(8)
  ].join(" ")

/** The screen, as lines of at most about 110 columns. */
export const render = (s: Snapshot): Array<string> => {
  const { requests: r, stats } = s
  const label = (text: string) => bold(text.padEnd(10))
  const rows = s.rows.map((row) => connectionRow(row, s.now))
  for (let slot = s.rows.filter((row) => !row.closed).length; slot < stats.maxConnections; slot++) {
    rows.push(dim(`  ·     ${"·".repeat(20)}       (not open)`))
  }
  return [
    `${bold("connection-pool demo")}  ${dim(s.address)}        ${dim(`t+${seconds(s.elapsedMillis)}`)}`,
    "",
    [
      label("requests") + bar(r.done / r.planned, 40),
      `${String(Math.floor((100 * r.done) / r.planned)).padStart(3)}%`,
      `${r.done}/${r.planned} done`,
      (r.failed > 0 ? red : dim)(`${r.failed} failed`),
      (r.retried > 0 ? yellow : dim)(`${r.retried} retried`),
      `${Math.round(r.perSecond)} req/s`
    ].join("  "),
    label("server") + (s.serverUp ? green("● up") : red("● down")) + `  ${s.server}`,
    "",
    [
      label("pool") + `${stats.total}/${stats.maxConnections} open`,
      cyan(`${stats.inUse} in use`),
      green(`${stats.idle} idle`),
      (stats.waiting > 0 ? yellow : dim)(`${stats.waiting} waiting`),
      `${stats.healthy} healthy`,
      (stats.unhealthy > 0 ? red : dim)(`${stats.unhealthy} unhealthy`),
      `avg score ${stats.averageScore.toFixed(1)}`
    ].join("  "),
    [
      " ".repeat(10) + `created ${stats.created}`,
      `closed ${stats.closed}${stats.closed > 0 ? ` (${closedByReason(stats)})` : ""}`,
      `open failures ${stats.openFailures}`,
      `checks ${stats.healthChecks} (${stats.healthCheckFailures} failed)`,
      `timeouts ${stats.timeouts}`
    ].join("  "),
    "",
    dim(`  conn   health${" ".repeat(21)}state${" ".repeat(20)}errors    uses     age`),
    ...rows,
    "",
    bold("events") + dim("  (pool.events, and the faults the demo injects)"),
    ...s.log.map((line) =>
      `  ${dim(`t+${seconds(line.atMillis).padStart(5)}`)}  ${toneColor[line.tone](describeLine(line))}`
    )
  ]
}

/** One line for a log or CI: no colours, no redrawing. */
export const plainLine = (s: Snapshot): string => {
  const { requests: r, stats } = s
  return [
    `t+${seconds(s.elapsedMillis)}  requests ${r.done}/${r.planned} done, ${r.failed} failed, ${r.retried} retried`,
    `pool ${stats.total}/${stats.maxConnections} open, ${stats.inUse} in use, ${stats.idle} idle, ` +
    `${stats.waiting} waiting, ${stats.healthy} healthy`,
    `closed ${stats.closed}${stats.closed > 0 ? ` (${closedByReason(stats)})` : ""}`,
    `server ${s.serverUp ? "up" : "down"}`
  ].join(" | ")
}

// ---- the terminal -------------------------------------------------------------------------------------------------

const hideCursor = "\x1b[?25l"
const showCursor = "\x1b[?25h"
const noWrap = "\x1b[?7l"
const wrap = "\x1b[?7h"

/**
 * Takes over the terminal for the rest of the scope: hides the cursor and turns line wrapping off (a narrow
 * terminal cuts lines instead of breaking the layout). Closing the scope, by interruption (Ctrl-C) too, gives it
 * back; so does the process exiting by any other way.
 */
export const terminal = Effect.acquireRelease(
  Effect.sync(() => {
    const restore = () => process.stdout.write(`${wrap}${showCursor}\n`)
    process.once("exit", restore)
    process.stdout.write(`${hideCursor}${noWrap}\x1b[2J`)
    return {
      /**
       * Redraws the screen from its top-left corner, clearing what the last frame left. Lines beyond the
       * terminal's height are left out: writing them would scroll the screen.
       */
      draw: (lines: ReadonlyArray<string>) => {
        const shown = lines.slice(0, Math.max(1, (process.stdout.rows ?? lines.length + 1) - 1))
        process.stdout.write(`\x1b[H${shown.join("\x1b[K\n")}\x1b[K\x1b[J`)
      },
      restore
    }
  }),
  ({ restore }) =>
    Effect.sync(() => {
      process.removeListener("exit", restore)
      restore()
    })
)
