import * as Connector from "@connection-pool/core/Connector"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type { ClientConfig } from "pg"
import type { PgConnection } from "../PgConnection.js"
import { isPgError, type PgError } from "../PgError.js"
import { connect } from "./pgConnection.js"

export const isFault = (cause: Cause.Cause<unknown>): boolean =>
  Cause.isDie(cause) ||
  Chunk.some(Cause.failures(cause), (error) => isPgError(error) && error.isConnectionFault)

export const make = (config: ClientConfig = {}): Connector.Connector<PgConnection, PgError> =>
  Connector.make({
    open: connect(config),
    check: (connection: PgConnection) => connection.query("SELECT 1"),
    isOpen: (connection: PgConnection) => connection.isOpen,
    isFault
  })
