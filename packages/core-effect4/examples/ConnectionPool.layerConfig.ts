import { ConnectionPool, Connector } from "@connection-pool/core"
import { Config, Context, Effect } from "effect"

class Pool extends Context.Service<Pool, ConnectionPool.ConnectionPool<string>>()("app/Pool") {}

const PoolLive = ConnectionPool.layerConfig(Pool, Connector.make({ open: Effect.succeed("connection") }), {
  maxConnections: Config.Int("POOL_MAX").pipe(Config.withDefault(10)),
  connectionTimeout: Config.Duration("POOL_TIMEOUT").pipe(Config.withDefault("30 seconds"))
})
