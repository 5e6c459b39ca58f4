// Connectors typed and loaded through `require` (as a CommonJS library would ship them)...
import { Connector, PoolError } from "@connection-pool/core"
import { Effect } from "effect"

export const connector = Connector.make({ open: Effect.succeed("shared") })

// ...one of which refuses with a `ConnectionError` of its own, built from the CommonJS copy of the class.
export const refusing = Connector.make({
  open: Effect.fail(new PoolError.ConnectionError({ reason: "OpenFailed", pool: "library", cause: "refused" }))
})
