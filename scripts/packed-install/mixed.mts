// ...used by pools typed and loaded through `import`. One set of declarations serves both halves, so the types
// agree. At run time there are two copies of core; the TypeIds are registered symbols and the pool recognises
// errors by tag, so the connector's own `ConnectionError` reaches the borrower as it is, not wrapped in another.
import { ConnectionPool } from "@connection-pool/core"
import { Effect } from "effect"
import { connector, refusing } from "./mixed-connector.cjs"

const shared = Effect.scoped(Effect.flatMap(ConnectionPool.make(connector), (pool) => pool.use(Effect.succeed)))
const refused = Effect.scoped(
  Effect.flatMap(ConnectionPool.make(refusing, { name: "app" }), (pool) => pool.use(Effect.succeed))
).pipe(Effect.flip, Effect.map((error) => `${error._tag} from ${"pool" in error ? error.pool : "?"}`))

Effect.runPromise(Effect.all({ mixed: shared, refused })).then((result) => console.log(JSON.stringify(result)))
