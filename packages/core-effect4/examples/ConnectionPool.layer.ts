import { ConnectionPool, Connector } from "@connection-pool/core"
import { Context, Effect } from "effect"

interface Socket { readonly send: (s: string) => string }
class SocketPool extends Context.Service<SocketPool, ConnectionPool.ConnectionPool<Socket>>()("app/SocketPool") {}

const SocketPoolLive = ConnectionPool.layer(
  SocketPool,
  Connector.make({ open: Effect.succeed<Socket>({ send: (s) => s }) }),
  { maxConnections: 4 }
)

const program = Effect.gen(function*() {
  const pool = yield* SocketPool
  const handle = yield* pool.get
  return handle.connection.send("ping")
}).pipe(Effect.scoped, Effect.provide(SocketPoolLive))
