/**
 * The contenders: this pool (through `use` and through `Effect.scoped(get)`), Effect's own `Pool` (through
 * `Effect.scoped(Pool.get)` on Effect 3, `Pool.use` on Effect 4: see the edge), and
 * generic-pool and tarn wrapped in `Effect.acquireUseRelease`, as an Effect user would wrap them.
 */
import { effectPoolUse } from "#edge/effect"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { Effect, Pool, type Scope } from "effect"
import * as GenericPool from "generic-pool"
import * as Tarn from "tarn"
import type { Contender, Factory } from "./harness.js"

export const contenderNames = ["pool.use", "pool.get (scoped)", "effect Pool", "generic-pool", "tarn"] as const
export type ContenderName = typeof contenderNames[number]

const openWith = <C>(factory: Factory<C>) =>
  Effect.acquireRelease(
    Effect.promise(() => factory.create()),
    (connection) => Effect.promise(() => factory.destroy(connection))
  )

export const thisPoolUse = <C>(
  factory: Factory<C>,
  max: number,
  options: { readonly name: string; readonly metrics: boolean; readonly maxConnecting?: number } = {
    name: "pool.use",
    metrics: false
  }
): Effect.Effect<Contender<C>, never, Scope.Scope> =>
  Effect.map(
    Effect.orDie(
      ConnectionPool.make(Connector.make({ open: openWith(factory) }), {
        maxConnections: max,
        name: options.name,
        metrics: options.metrics,
        maxConnecting: options.maxConnecting
      })
    ),
    (pool): Contender<C> => ({ name: options.name, borrow: (work) => pool.use(work) })
  )

export const thisPoolScoped = <C>(factory: Factory<C>, max: number): Effect.Effect<Contender<C>, never, Scope.Scope> =>
  Effect.map(
    Effect.orDie(ConnectionPool.make(Connector.make({ open: openWith(factory) }), { maxConnections: max })),
    (pool): Contender<C> => ({
      name: "pool.get (scoped)",
      borrow: (work) => Effect.scoped(Effect.flatMap(pool.get, (handle) => work(handle.connection)))
    })
  )

export const effectPool = <C>(factory: Factory<C>, max: number): Effect.Effect<Contender<C>, never, Scope.Scope> =>
  Effect.map(
    Pool.makeWithTTL({ acquire: openWith(factory), min: 0, max, timeToLive: "1 hour" }),
    (pool): Contender<C> => ({
      name: "effect Pool",
      borrow: (work) => effectPoolUse(pool, work)
    })
  )

export const genericPool = <C>(factory: Factory<C>, max: number): Effect.Effect<Contender<C>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => GenericPool.createPool({ create: factory.create, destroy: factory.destroy }, { max, min: 0 })),
      (pool) => Effect.promise(() => pool.drain().then(() => pool.clear()))
    ),
    (pool): Contender<C> => ({
      name: "generic-pool",
      borrow: (work) =>
        Effect.acquireUseRelease(
          Effect.promise(() => pool.acquire()),
          work,
          (connection) => Effect.promise(() => pool.release(connection))
        )
    })
  )

export const tarnPool = <C>(factory: Factory<C>, max: number): Effect.Effect<Contender<C>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        new Tarn.Pool<C>({
          create: factory.create,
          destroy: factory.destroy,
          min: 0,
          max,
          acquireTimeoutMillis: 30_000,
          propagateCreateError: false
        })
      ),
      (pool) => Effect.promise(() => pool.destroy())
    ),
    (pool): Contender<C> => ({
      name: "tarn",
      borrow: (work) =>
        Effect.acquireUseRelease(
          Effect.promise(() => pool.acquire().promise),
          work,
          (connection) => Effect.sync(() => pool.release(connection))
        )
    })
  )

export const makeContender = <C>(
  name: ContenderName,
  factory: Factory<C>,
  max: number
): Effect.Effect<Contender<C>, never, Scope.Scope> => {
  switch (name) {
    case "pool.use":
      return thisPoolUse(factory, max)
    case "pool.get (scoped)":
      return thisPoolScoped(factory, max)
    case "effect Pool":
      return effectPool(factory, max)
    case "generic-pool":
      return genericPool(factory, max)
    case "tarn":
      return tarnPool(factory, max)
  }
}

export const peers: ReadonlyArray<ContenderName> = ["effect Pool", "generic-pool", "tarn"]
