import * as Connector from "@connection-pool/core/Connector"
import type * as Cause from "effect/Cause"
import type { ClientConfig } from "pg"
import type { PgConnection } from "../PgConnection.js"
import { isPgError, type PgError } from "../PgError.js"
import * as edge from "./edge/effect.js"
import { connect } from "./pgConnection.js"

export const isFault = (cause: Cause.Cause<unknown>): boolean =>
  edge.hasDefect(cause) ||
  edge.failuresOf(cause).some((error) => isPgError(error) && error.isConnectionFault)

export const make = (config: ClientConfig = {}): Connector.Connector<PgConnection, PgError> =>
  Connector.make({
    open: connect(config),
    check: (connection: PgConnection) => connection.query("SELECT 1"),
    isOpen: (connection: PgConnection) => connection.isOpen,
    isFault
  })
