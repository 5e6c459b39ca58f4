// The plain-JavaScript ES-module consumer: what consumer.ts does, with `import`, and a check that the
// package's internals cannot be reached.
import { ConnectionPool, Connector } from "@connection-pool/core"
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { Effect } from "effect"

let opened = 0
const connector = Connector.make({
  open: Effect.acquireRelease(
    Effect.sync(() => ({ id: ++opened, open: true })),
    (conn) => Effect.sync(() => (conn.open = false))
  ),
  isOpen: (conn) => conn.open
})

const inMemory = Effect.gen(function*() {
  const pool = yield* ConnectionPool.make(connector, {
    name: "packed",
    maxConnections: 2,
    connectionTimeout: "50 millis"
  })
  const ids = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => pool.use((conn) => Effect.succeed(conn.id)), {
    concurrency: "unbounded"
  })
  const timedOut = yield* pool.use(() =>
    pool.use(() =>
      ConnectionPool.use(pool, () => Effect.succeed("lent")).pipe(
        Effect.catchTag("PoolTimeoutError", (error) => Effect.succeed(error._tag))
      )
    )
  )
  const stats = yield* pool.stats
  return { connections: new Set(ids).size, timedOut, created: stats.created, inUse: stats.inUse }
}).pipe(Effect.scoped)

const ipc = Effect.gen(function*() {
  const path = IpcAddress.localPath(`connection-pool-packed-${process.pid}`)
  yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
  const pool = yield* IpcPool.make({ path }, { maxConnections: 2 })
  const reply = yield* IpcPool.request(pool, new TextEncoder().encode("hello"))
  return new TextDecoder().decode(reply)
}).pipe(Effect.scoped)

const internal = await import("@connection-pool/core/internal/engine").then(
  () => "importable",
  (error) => error.code
)
if (internal !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw new Error(`internal/engine: ${internal}`)

console.log(JSON.stringify(await Effect.runPromise(Effect.all({ inMemory, ipc }))))
