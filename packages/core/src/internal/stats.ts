/**
 * Every counter a pool keeps for its stats, in one place, and the stats and summary made from them.
 * Plain TypeScript: the pool's parts count here; `snapshot` reads them.
 */
import type { ConnectionInfo, ConnectionState, PoolStats } from "../ConnectionPool.js"
import { type CloseReason, closeReasons } from "../PoolEvent.js"
import * as Health from "./health.js"
import type { ConnectionRecord, RecordState } from "./record.js"

/** One counter per close reason, all at zero. */
export const emptyCloseCounts = (): Record<CloseReason, number> =>
  Object.fromEntries(closeReasons.map((reason) => [reason, 0])) as Record<CloseReason, number>

export class Counters {
  created = 0
  closed = 0
  readonly closedByReason = emptyCloseCounts()
  openFailures = 0
  timeouts = 0
  healthChecks = 0
  healthCheckFailures = 0
  interruptedAtShutdown = 0
}

/** What `snapshot` reads of the lending structure. */
export interface Lending<A> {
  readonly records: ReadonlyMap<number, ConnectionRecord<A>>
  readonly lent: number
  readonly waiting: number
  readonly maxConnections: number
  /** Connections held by one borrower or more (`lent` with `concurrency` 1, where each loan is a connection). */
  readonly inUseCount: number
  readonly concurrency: number
}

export const snapshot = <A>(
  name: string,
  lending: Lending<A>,
  counters: Counters,
  limits: Health.Limits
): PoolStats => {
  let healthy = 0
  let scoreSum = 0
  for (const record of lending.records.values()) {
    if (!Health.isUnhealthy(record, limits)) healthy++
    scoreSum += record.healthScore
  }
  const total = lending.records.size
  const fields: Omit<PoolStats, "summary"> = {
    name,
    total,
    idle: total - lending.inUseCount,
    inUse: lending.inUseCount,
    healthy,
    unhealthy: total - healthy,
    waiting: lending.waiting,
    maxConnections: lending.maxConnections,
    utilization: lending.lent / (lending.maxConnections * lending.concurrency),
    created: counters.created,
    closed: counters.closed,
    closedByReason: { ...counters.closedByReason },
    openFailures: counters.openFailures,
    timeouts: counters.timeouts,
    healthChecks: counters.healthChecks,
    healthCheckFailures: counters.healthCheckFailures,
    interruptedAtShutdown: counters.interruptedAtShutdown,
    averageScore: total === 0 ? Health.initialScore : scoreSum / total,
    loans: lending.lent,
    concurrency: lending.concurrency
  }
  return { ...fields, summary: summarize(fields) }
}

const publicState = (state: RecordState): ConnectionState => state === "retired" ? "closing" : state

export const connectionInfo = <A>(record: ConnectionRecord<A>): ConnectionInfo => ({
  id: record.id,
  createdAt: record.createdAt,
  lastUsedAt: record.lastUsedAt,
  healthScore: record.healthScore,
  errorCount: record.errorCount,
  useCount: record.useCount,
  state: publicState(record.state),
  // exclusive lending keeps no count: a lent connection has its one borrower
  borrowers: record.loans > 0 ? record.loans : record.state === "in-use" ? 1 : 0
})

/** `" (3 disconnected, 1 stale)"`: the reasons connections were closed for, or nothing when none was. */
const closeBreakdown = (byReason: PoolStats["closedByReason"]): string => {
  const parts = Object.entries(byReason).filter(([, count]) => count > 0).map(([reason, count]) => `${count} ${reason}`)
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`
}

/** `"12 loans (up to 8 per connection), "` with shared lending; nothing with `concurrency` 1. */
const sharing = (s: Omit<PoolStats, "summary">): string =>
  s.concurrency > 1 ? `${s.loans} loans (up to ${s.concurrency} per connection), ` : ""

export const summarize = (s: Omit<PoolStats, "summary">): string =>
  `pool "${s.name}": ${s.total}/${s.maxConnections} open (${s.inUse} in use, ${s.idle} idle), ${sharing(s)}` +
  `${s.waiting} waiting, ${s.healthy} healthy, ${s.unhealthy} unhealthy, ` +
  `utilization ${(s.utilization * 100).toFixed(1)}%, avg score ${s.averageScore.toFixed(1)}, ` +
  `created ${s.created}, closed ${s.closed}${closeBreakdown(s.closedByReason)}, open failures ${s.openFailures}, ` +
  `timeouts ${s.timeouts}, ` +
  `health checks ${s.healthChecks} (${s.healthCheckFailures} failed)`
