/**
 * Placeholder quick start, replaced once the IPC connector lands.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import { Effect } from "effect"

const program = Effect.gen(function*() {
  const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }))
  const reply = yield* pool.use((connection) => Effect.succeed(`${connection} says hello`))
  yield* Effect.log(reply)
  yield* Effect.log((yield* pool.stats).summary)
}).pipe(Effect.scoped)

Effect.runPromise(program)
