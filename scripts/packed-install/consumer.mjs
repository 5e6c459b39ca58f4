// The plain-JavaScript ES-module consumer: loads the packages with `import`, runs program.cjs with them, and
// checks that the package's internals cannot be reached.
import { ConnectionPool, Connector } from "@connection-pool/core"
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { Effect } from "effect"
import makeProgram from "./program.cjs"

const internal = await import("@connection-pool/core/internal/engine").then(
  () => "importable",
  (error) => error.code
)
if (internal !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw new Error(`internal/engine: ${internal}`)

const program = makeProgram({ ConnectionPool, Connector, Effect, IpcAddress, IpcPool, IpcServer })
console.log(JSON.stringify(await Effect.runPromise(program)))
