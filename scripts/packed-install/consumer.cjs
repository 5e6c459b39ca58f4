// The plain-JavaScript CommonJS consumer: loads the packages with `require` (a module by its subpath as well as
// the index), runs program.cjs with them, and checks that the package's internals cannot be reached.
const ConnectionPool = require("@connection-pool/core/ConnectionPool")
const { Connector } = require("@connection-pool/core")
const { IpcAddress, IpcPool, IpcServer } = require("@connection-pool/platform-node")
const { Effect } = require("effect")
const makeProgram = require("./program.cjs")

try {
  require("@connection-pool/core/internal/engine")
  throw new Error("internal/engine could be required")
} catch (error) {
  if (error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error
}

Effect.runPromise(makeProgram({ ConnectionPool, Connector, Effect, IpcAddress, IpcPool, IpcServer })).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
