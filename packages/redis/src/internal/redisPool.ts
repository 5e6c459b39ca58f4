import * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type { RedisArgument } from "@redis/client"
import * as Effect from "effect/Effect"
import type * as RedisConnection from "../RedisConnection.js"
import type * as RedisPool from "../RedisPool.js"
import { connector, formatAddress } from "./connection.js"
import * as edge from "./edge/effect.js"

/** @internal */
export const make = (
  options: RedisConnection.RedisOptions = {},
  poolOptions: ConnectionPool.Options = {}
) =>
  Effect.map(
    ConnectionPool.make(connector(options), { name: `redis ${formatAddress(options)}`, ...poolOptions }),
    (pool): RedisPool.Service => ({
      pool,
      use: (f) => pool.use(f),
      run: (f) => pool.use((connection) => connection.run(f)),
      command: (...args: ReadonlyArray<RedisArgument>) => pool.use((connection) => connection.command(...args)),
      // The connection stays borrowed while the stream runs: a subscriber needs one of its own.
      subscribe: (channels) =>
        edge.scopedStream(Effect.map(pool.get, (handle) => handle.connection.subscribe(channels)))
    })
  )
