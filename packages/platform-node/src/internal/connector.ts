import * as Connector from "@connection-pool/core/Connector"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { IpcConnection } from "../IpcConnection.js"
import type { Options } from "../IpcConnector.js"
import { causeIsConnectionFault, type InvalidIpcOptions, type SocketError } from "../IpcError.js"
import * as internal from "./connection.js"
import { fromOutcome } from "./edge/effect.js"
import { resolve, type ResolvedOptions } from "./options.js"

export const fromResolved = (options: ResolvedOptions): Connector.Connector<IpcConnection, SocketError> =>
  Connector.make<IpcConnection, SocketError>({
    open: internal.connect(options),
    check: (connection) => connection.ping,
    isOpen: (connection) => connection.isOpen,
    isFault: causeIsConnectionFault
  })

export const make = (
  options: Options
): Effect.Effect<Connector.Connector<IpcConnection, SocketError>, InvalidIpcOptions> =>
  Effect.map(fromOutcome(resolve(options)), fromResolved)

export const connect = (options: Options): Effect.Effect<IpcConnection, SocketError | InvalidIpcOptions, Scope.Scope> =>
  Effect.flatMap(fromOutcome(resolve(options)), internal.connect)
