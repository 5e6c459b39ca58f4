// ...used by a pool typed and loaded through `import`: one set of declarations serves both halves, so the types
// agree, and the TypeIds are registered symbols, so the two loaded copies of core agree at run time.
import { ConnectionPool } from "@connection-pool/core"
import { Effect } from "effect"
import { connector } from "./mixed-connector.cjs"

const program = Effect.scoped(Effect.flatMap(ConnectionPool.make(connector), (pool) => pool.use(Effect.succeed)))
Effect.runPromise(program).then((connection) => console.log(JSON.stringify({ mixed: connection })))
