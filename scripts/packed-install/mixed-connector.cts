// A connector typed and loaded through `require` (as a CommonJS library would ship one)...
import { Connector } from "@connection-pool/core"
import { Effect } from "effect"

export const connector = Connector.make({ open: Effect.succeed("shared") })
