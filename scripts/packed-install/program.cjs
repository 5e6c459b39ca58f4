// The program both JavaScript consumers run (consumer.ts, in TypeScript, is the same program), given the modules
// as each consumer loaded them: consumer.mjs with `import`, consumer.cjs with `require`.
module.exports = ({ ConnectionPool, Connector, Effect, IpcAddress, IpcPool, IpcServer }) => {
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
    const path = yield* IpcAddress.localPath(`connection-pool-packed-${process.pid}`)
    yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
    const pool = yield* IpcPool.make({ path }, { maxConnections: 2 })
    const reply = yield* IpcPool.request(pool, new TextEncoder().encode("hello"))
    return new TextDecoder().decode(reply)
  }).pipe(Effect.scoped)

  return Effect.all({ inMemory, ipc })
}
