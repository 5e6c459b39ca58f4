import * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import type { ConnectionError, InvalidPoolOptions } from "@connection-pool/core/PoolError"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { IpcConnection } from "../IpcConnection.js"
import type { Options } from "../IpcConnector.js"
import type { InvalidIpcOptions, RequestError } from "../IpcError.js"
import type { IpcPool } from "../IpcPool.js"
import { fromResolved } from "./connector.js"
import { fromOutcome, scopedLayer, type ServiceKey } from "./edge/effect.js"
import type { SchemaOf } from "./edge/schema.js"
import { resolve } from "./options.js"
import { typed } from "./schema.js"

/**
 * Borrowers per IPC connection at once unless the pool options say otherwise. Measured (100 and 1,000 fibers
 * over 10 connections, `pool.use`, 64-byte echo): 16 was the best or tied best at both loads (about 2.3x and 1.5x
 * concurrency 1); 32 tied at 100 fibers and fell back at 1,000, while a dropped connection fails more requests.
 */
export const defaultConcurrency = 16

export const make = (
  options: Options,
  poolOptions?: ConnectionPool.Options | undefined
): Effect.Effect<IpcPool, InvalidIpcOptions | InvalidPoolOptions | ConnectionError, Scope.Scope> =>
  Effect.flatMap(
    fromOutcome(resolve(options)),
    (resolved) =>
      ConnectionPool.make(fromResolved(resolved), {
        ...poolOptions,
        name: poolOptions?.name ?? resolved.label,
        concurrency: poolOptions?.concurrency ?? defaultConcurrency
      })
  )

export const layer = <I>(
  tag: ServiceKey<I, IpcPool>,
  options: Options,
  poolOptions?: ConnectionPool.Options | undefined
): Layer.Layer<I, InvalidIpcOptions | InvalidPoolOptions | ConnectionError> =>
  scopedLayer(tag, make(options, poolOptions))

const send = (payload: Uint8Array) => (connection: IpcConnection) => connection.request(payload)

export const request = (
  self: IpcPool,
  payload: Uint8Array
): Effect.Effect<Uint8Array, RequestError | ConnectionPool.BorrowError> => self.use(send(payload))

export const requestSchema = <A, I, RA, B, J, RB>(schemas: {
  readonly request: SchemaOf<A, I, RA>
  readonly response: SchemaOf<B, J, RB>
}) => {
  const run = typed(schemas)
  return (self: IpcPool, value: A): Effect.Effect<B, RequestError | ConnectionPool.BorrowError, RA | RB> =>
    self.use((connection) => run(value, (payload) => connection.request(payload)))
}
