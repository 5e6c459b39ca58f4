/**
 * Quick start: the smallest program. A pool of connections to a local daemon as a layer, a connection
 * borrowed with `Effect.scoped`, one request sent on it, and the pool's stats.
 *
 * The daemon is the project's IPC echo server, started in this process on a Unix socket (a named pipe on
 * Windows) so the example needs nothing else running.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/quick-start.ts
 */
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { Context, Effect, Layer } from "effect"

// The pool is a service: give it a tag, build it with a layer.
class Daemon extends Context.Tag("app/Daemon")<Daemon, IpcPool.IpcPool>() {}

const program = Effect.gen(function*() {
  const pool = yield* Daemon
  // Borrowed for the scope: the connection goes back to the pool when the scope closes.
  const reply = yield* Effect.scoped(
    Effect.gen(function*() {
      const handle = yield* pool.get
      return yield* handle.connection.request(new TextEncoder().encode("hello"))
    })
  )
  yield* Effect.log(`reply: ${new TextDecoder().decode(reply)}`)
  yield* Effect.log((yield* pool.stats).summary)
})

const main = Effect.gen(function*() {
  // A socket path in a directory only this user may enter.
  const path = yield* IpcAddress.localPath(`connection-pool-quick-start-${process.pid}`)
  const DaemonLive = IpcPool.layer(Daemon, { path }, { name: "daemon", maxConnections: 4 })
  // The echo server comes first, the pool on top of it; both close when the program ends.
  const MainLive = DaemonLive.pipe(Layer.provideMerge(IpcServer.layer({ path, handler: IpcServer.echoHandler })))
  yield* program.pipe(Effect.provide(MainLive))
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
