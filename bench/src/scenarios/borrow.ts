/**
 * borrow: borrow, one async hop (a resolved promise), return; a pool of 10; 1, 10, 100 and 1,000 fibers.
 * The limit is the same work with no pool at all; the scoped limit is that work inside an empty
 * `Effect.scoped`, the bound of the `Effect.scoped(pool.get)` form; and that with one no-op finalizer on the
 * scope, which is what any scoped loan must add (closing a scope that has a finalizer costs more than
 * closing an empty one). `pool.use` also runs with `metrics: true`, to show what recording metrics costs.
 */
import { Effect, Scope } from "effect"
import { contenderNames, makeContender, thisPoolUse } from "../contenders.js"
import { alternate, type Contender, objectFactory, throughput } from "../harness.js"

export const limitName = "limit (no pool)"
export const scopedLimitName = "scoped limit (no pool)"
export const finalizerLimitName = "scoped limit + 1 finalizer (no pool)"
export const withMetricsName = "pool.use (metrics on)"

const asyncHop = () => Effect.promise(() => Promise.resolve())

export const run = (
  options: { readonly concurrencies: ReadonlyArray<number>; readonly ops: number; readonly rounds: number }
) =>
  Effect.scoped(Effect.gen(function*() {
    const contenders = new Map<string, Contender<{ readonly id: number }>>()
    for (const name of contenderNames) contenders.set(name, yield* makeContender(name, objectFactory(), 10))
    contenders.set(withMetricsName, yield* thisPoolUse(objectFactory(), 10, { name: withMetricsName, metrics: true }))
    const connection = { id: 0 }
    contenders.set(limitName, { name: limitName, borrow: (work) => work(connection) })
    contenders.set(scopedLimitName, { name: scopedLimitName, borrow: (work) => Effect.scoped(work(connection)) })
    const noWork = () => Effect.void
    contenders.set(finalizerLimitName, {
      name: finalizerLimitName,
      borrow: (work) =>
        Effect.scoped(
          Effect.andThen(
            Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizerExit(scope, noWork)),
            work(connection)
          )
        )
    })
    const names = [...contenders.keys()]
    const results: Record<string, Record<string, { opsPerSec: number }>> = {}
    for (const concurrency of options.concurrencies) {
      const medians = yield* alternate(
        names,
        options.rounds,
        (name) => throughput(concurrency, options.ops, contenders.get(name)!.borrow(asyncHop))
      )
      results[`borrow_c${concurrency}`] = Object.fromEntries(
        names.map((name) => [name, { opsPerSec: Math.round(medians[name]) }])
      )
    }
    return results
  }))
