/**
 * A program written against the packed packages as a user would write it, type-checked and run by
 * scripts/packed-install.mjs in a project outside the workspace under each TypeScript resolution mode.
 * It prints one line of JSON, which the script compares with what every consumer must print.
 */
import { Connector } from "@connection-pool/core"
// A module by its own path, as well as through the index.
import * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type * as PoolError from "@connection-pool/core/PoolError"
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { Effect } from "effect"

// The pool's internals are not part of the package: resolving them must fail to type-check.
// @ts-expect-error: "@connection-pool/core/internal/engine" is not exported
import type * as Internals from "@connection-pool/core/internal/engine"
export type { Internals }

interface Conn {
  readonly id: number
  open: boolean
}

let opened = 0
const connector = Connector.make({
  open: Effect.acquireRelease(
    Effect.sync((): Conn => ({ id: ++opened, open: true })),
    (conn) => Effect.sync(() => (conn.open = false))
  ),
  isOpen: (conn: Conn) => conn.open
})

// Six borrowers share two connections; a seventh times out, as a typed error, while both are held.
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
        Effect.catchTag("PoolTimeoutError", (error: PoolError.PoolTimeoutError) => Effect.succeed(error._tag))
      )
    )
  )
  const stats = yield* pool.stats
  return { connections: new Set(ids).size, timedOut, created: stats.created, inUse: stats.inUse }
}).pipe(Effect.scoped)

// A real round trip: the package's IPC echo server and a pool of connections to it.
const ipc = Effect.gen(function*() {
  const path = yield* IpcAddress.localPath(`connection-pool-packed-${process.pid}`)
  yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
  const pool = yield* IpcPool.make({ path }, { maxConnections: 2 })
  const reply = yield* IpcPool.request(pool, new TextEncoder().encode("hello"))
  return new TextDecoder().decode(reply)
}).pipe(Effect.scoped)

Effect.runPromise(Effect.all({ inMemory, ipc })).then(
  (result) => console.log(JSON.stringify(result)),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
