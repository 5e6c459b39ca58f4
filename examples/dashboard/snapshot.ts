/**
 * What `/api/pool` answers: one consistent reading of the pool, the server and the workload. The page renders
 * it as it is; the browser test compares the page with it.
 */
import type { ConnectionPool } from "@connection-pool/core"
import type { IpcServer } from "@connection-pool/platform-node"

/** One line of the page's activity feed: a pool event or a fault the example injected. */
export interface FeedEntry {
  /** Epoch milliseconds. */
  readonly at: number
  readonly kind: "opened" | "open-failed" | "closed" | "health" | "timeout" | "fault"
  readonly text: string
}

export interface Snapshot {
  /** Epoch milliseconds when it was read; the page shows "last used" relative to it. */
  readonly now: number
  readonly startedAt: number
  /** Where the IPC server listens, as `IpcAddress.format` writes it. */
  readonly server: string
  readonly serverStats: IpcServer.ServerStats
  readonly stats: ConnectionPool.PoolStats
  readonly connections: ReadonlyArray<ConnectionPool.ConnectionInfo>
  readonly workload: {
    readonly fibers: number
    readonly succeeded: number
    readonly failed: number
  }
  readonly faults: {
    readonly drops: number
    readonly degradations: number
    /** Epoch milliseconds until which the server's health endpoint fails; 0 when it does not. */
    readonly degradedUntil: number
  }
  /** The newest first. */
  readonly feed: ReadonlyArray<FeedEntry>
}
