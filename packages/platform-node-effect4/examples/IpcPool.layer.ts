import { IpcPool } from "@connection-pool/platform-node"
import { Context, Effect } from "effect"

class WorkerPool extends Context.Service<WorkerPool, IpcPool.IpcPool>()("app/WorkerPool") {}

const WorkerPoolLive = IpcPool.layer(WorkerPool, { path: "/run/worker.sock" }, { maxConnections: 8 })

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool
  return yield* IpcPool.request(pool, new TextEncoder().encode("status"))
}).pipe(Effect.provide(WorkerPoolLive))
