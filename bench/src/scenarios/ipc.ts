/**
 * ipc: 64-byte request/reply over a Unix socket to the IPC server running as its own process; pools of
 * 10 connections; 10 and 100 fibers. The limit is 10 fibers each holding its own connection.
 */
import { type CloseableScope, effectPoolUse, provideScope } from "#edge/effect"
import { ConnectionPool } from "@connection-pool/core"
import type { IpcConnection } from "@connection-pool/platform-node"
import { IpcConnector } from "@connection-pool/platform-node"
import { Effect, Exit, Pool, Scope } from "effect"
import * as GenericPool from "generic-pool"
import * as Tarn from "tarn"
import { alternate, repeatN, throughput } from "../harness.js"
import { serverProcess } from "../ipcServer.js"

export const limitName = "limit (10 own connections)"
/** The limit of the scoped form: the same 10 own connections, each request inside its own `Effect.scoped`. */
export const scopedLimitName = "scoped limit (10 own connections)"
const limits = [limitName, scopedLimitName] as const
const names = ["pool.use", "pool.get (scoped)", "effect Pool", "generic-pool", "tarn", ...limits] as const
type Name = typeof names[number]

export const run = (options: { readonly ops: number; readonly rounds: number }) =>
  Effect.scoped(Effect.gen(function*() {
    const { socketPath } = yield* serverProcess
    const connector = yield* Effect.orDie(IpcConnector.make({ path: socketPath }))
    const payload = new Uint8Array(64).fill(7)
    const request = (connection: IpcConnection.IpcConnection) => connection.request(payload)

    // What peers pool: the same connections, opened and closed through promises.
    const scopes = new Map<IpcConnection.IpcConnection, CloseableScope>()
    const create = () =>
      Effect.runPromise(Effect.gen(function*() {
        const scope = yield* Scope.make()
        const connection = yield* provideScope(connector.open, scope)
        scopes.set(connection, scope)
        return connection
      }))
    const destroy = (connection: IpcConnection.IpcConnection) =>
      Effect.runPromise(Scope.close(scopes.get(connection)!, Exit.void))

    const ours = yield* Effect.orDie(ConnectionPool.make(connector, { maxConnections: 10 }))
    const effectPool = yield* Pool.makeWithTTL({ acquire: connector.open, min: 0, max: 10, timeToLive: "1 hour" })
    const generic = GenericPool.createPool({ create, destroy }, { max: 10, min: 0 })
    yield* Effect.addFinalizer(() => Effect.promise(() => generic.drain().then(() => generic.clear())))
    const tarn = new Tarn.Pool({ create, destroy, min: 0, max: 10 })
    yield* Effect.addFinalizer(() => Effect.promise(() => tarn.destroy()))
    const own = yield* Effect.forEach(Array.from({ length: 10 }), () => connector.open)

    const borrow: Record<Exclude<Name, typeof limits[number]>, Effect.Effect<unknown, unknown>> = {
      "pool.use": ours.use(request),
      "pool.get (scoped)": Effect.scoped(Effect.flatMap(ours.get, (handle) => request(handle.connection))),
      "effect Pool": effectPoolUse(effectPool, request),
      "generic-pool": Effect.acquireUseRelease(
        Effect.promise(() => generic.acquire()),
        request,
        (connection) => Effect.promise(() => generic.release(connection))
      ),
      tarn: Effect.acquireUseRelease(
        Effect.promise(() => tarn.acquire().promise),
        request,
        (connection) => Effect.sync(() => tarn.release(connection))
      )
    }
    const limit = (wrap: (request: Effect.Effect<unknown, unknown>) => Effect.Effect<unknown, unknown>) =>
      Effect.suspend(() => {
        const start = performance.now()
        const perConnection = Math.floor(options.ops / own.length)
        return Effect.forEach(own, (connection) => repeatN(perConnection, wrap(request(connection))), {
          concurrency: "unbounded",
          discard: true
        }).pipe(Effect.map(() => (perConnection * own.length) / ((performance.now() - start) / 1000)))
      })

    const results: Record<string, Record<string, { opsPerSec: number }>> = {}
    for (const concurrency of [10, 100]) {
      const medians = yield* alternate(
        names,
        options.rounds,
        (name) =>
          name === limitName
            ? limit((request) => request)
            : name === scopedLimitName
            ? limit(Effect.scoped)
            : throughput(concurrency, options.ops, borrow[name])
      )
      results[`ipc_c${concurrency}`] = Object.fromEntries(
        names.map((name) => [name, { opsPerSec: Math.round(medians[name]) }])
      )
    }
    return results
  }))
