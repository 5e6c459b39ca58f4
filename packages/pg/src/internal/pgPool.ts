import * as ConnectionPool from "@connection-pool/core/ConnectionPool"
import * as Effect from "effect/Effect"
import type { QueryResultRow } from "pg"
import type { Options, PgPool as PgPoolService, TypeId as PgPoolTypeId } from "../PgPool.js"
import * as edge from "./edge/effect.js"
import { make as makeConnector } from "./pgConnector.js"

export const TypeId: PgPoolTypeId = Symbol.for("@connection-pool/pg/PgPool") as PgPoolTypeId

export const PgPool = edge.serviceKey<PgPoolService>("@connection-pool/pg/PgPool")

export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const { pool: poolOptions, ...config } = options
    const pool = yield* ConnectionPool.make(makeConnector(config), {
      name: config.application_name ?? "pg",
      ...poolOptions
    })
    const service: PgPoolService = {
      [TypeId]: TypeId,
      pool,
      config,
      query: (text, values) => pool.use((session) => session.query(text, values))
    }
    return service
  })

export const layer = (options: Options = {}) => edge.scopedLayer(PgPool, make(options))

export const query = <R extends QueryResultRow = QueryResultRow>(text: string, values?: ReadonlyArray<unknown>) =>
  Effect.flatMap(PgPool, (service) => service.query<R>(text, values))
