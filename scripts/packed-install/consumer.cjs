// The plain-JavaScript CommonJS consumer: what consumer.ts does, with `require` (through subpath exports as
// well as the index), and a check that the package's internals cannot be reached.
const ConnectionPool = require("@connection-pool/core/ConnectionPool")
const { Connector } = require("@connection-pool/core")
const { IpcAddress, IpcPool, IpcServer } = require("@connection-pool/platform-node")
const { Effect } = require("effect")

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

try {
  require("@connection-pool/core/internal/engine")
  throw new Error("internal/engine could be required")
} catch (error) {
  if (error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error
}

Effect.runPromise(Effect.all({ inMemory, ipc })).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
