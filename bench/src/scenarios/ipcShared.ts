/**
 * ipc_shared: the ipc scenario's 64-byte request/reply with connections shared among borrowers; 100 and
 * 1,000 fibers over 10 connections. Both pools lend each connection to `fibers / 10` borrowers at once
 * (`concurrency`), so that at full load every connection carries the same share as in the shared limit.
 * Limits, with no pool: the exclusive limit (10 fibers, each its own connection: what exclusive lending can
 * reach at best), the shared limit (the same fibers spread evenly over 10 connections) and the scoped limit
 * (the shared limit with each request inside its own `Effect.scoped`, the bound of the scoped form).
 */
import { effectPoolUse } from "#edge/effect"
import { ConnectionPool } from "@connection-pool/core"
import type { IpcConnection } from "@connection-pool/platform-node"
import { IpcConnector } from "@connection-pool/platform-node"
import { Effect, Pool } from "effect"
import { alternate, repeatN, throughput } from "../harness.js"
import { serverProcess } from "../ipcServer.js"

export const exclusiveLimitName = "exclusive limit (10 fibers, own connections)"
export const sharedLimitName = "shared limit (fibers over 10 connections)"
export const scopedLimitName = "scoped limit (shared, Effect.scoped per request)"
const limits = [exclusiveLimitName, sharedLimitName, scopedLimitName] as const
const names = ["pool.use", "pool.get (scoped)", "effect Pool", ...limits] as const
type Name = typeof names[number]

const connections = 10

export const run = (options: { readonly ops: number; readonly rounds: number }) =>
  Effect.scoped(Effect.gen(function*() {
    const { socketPath } = yield* serverProcess
    const connector = yield* Effect.orDie(IpcConnector.make({ path: socketPath }))
    const payload = new Uint8Array(64).fill(7)
    const request = (connection: IpcConnection.IpcConnection) => connection.request(payload)
    const own = yield* Effect.forEach(Array.from({ length: connections }), () => connector.open)

    /** `fibers` fibers, fiber i on connection i mod 10, `options.ops` requests in all. */
    const spread = (
      fibers: number,
      wrap: (request: Effect.Effect<unknown, unknown>) => Effect.Effect<unknown, unknown>
    ) =>
      Effect.suspend(() => {
        const perFiber = Math.max(1, Math.floor(options.ops / fibers))
        const start = performance.now()
        return Effect.forEach(
          Array.from({ length: fibers }, (_, i) => own[i % connections]!),
          (connection) => repeatN(perFiber, wrap(request(connection))),
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.map(() => (perFiber * fibers) / ((performance.now() - start) / 1000)))
      })

    const results: Record<string, Record<string, { opsPerSec: number }>> = {}
    for (const fibers of [100, 1000]) {
      const concurrency = fibers / connections
      const medians = yield* Effect.scoped(Effect.gen(function*() {
        const ours = yield* Effect.orDie(ConnectionPool.make(connector, { maxConnections: connections, concurrency }))
        const effectPool = yield* Pool.makeWithTTL({
          acquire: connector.open,
          min: 0,
          max: connections,
          concurrency,
          timeToLive: "1 hour"
        })
        const borrow: Record<Exclude<Name, typeof limits[number]>, Effect.Effect<unknown, unknown>> = {
          "pool.use": ours.use(request),
          "pool.get (scoped)": Effect.scoped(Effect.flatMap(ours.get, (handle) => request(handle.connection))),
          "effect Pool": effectPoolUse(effectPool, request)
        }
        return yield* alternate(names, options.rounds, (name) => {
          switch (name) {
            case exclusiveLimitName:
              return spread(connections, (request) => request)
            case sharedLimitName:
              return spread(fibers, (request) => request)
            case scopedLimitName:
              return spread(fibers, Effect.scoped)
            default:
              return throughput(fibers, options.ops, borrow[name])
          }
        })
      }))
      results[`ipc_shared_c${fibers}`] = Object.fromEntries(
        names.map((name) => [name, { opsPerSec: Math.round(medians[name]) }])
      )
    }
    return results
  }))
