/**
 * spike: 50 borrowers arrive at once at a cold pool of at most 50; opening a connection takes 150 ms and
 * the work 2 ms. How many connections does each pool open to serve them, and how long do borrowers wait?
 * (HikariCP opens 5 or 6.)
 *
 * spike_slow_opens (issue 16): 200 borrowers, opens of 500 ms, 20 ms of work, at most 20 connections; this pool
 * with `maxConnecting` 2 (the default) and 20: few opens at once open few connections, but with opens this slow
 * the borrowers wait longer.
 */
import { Effect, type Scope } from "effect"
import { contenderNames, makeContender, thisPoolUse } from "../contenders.js"
import { type Contender, median, objectFactory } from "../harness.js"

export interface SpikeFigures {
  readonly connectionsOpened: number
  readonly served: number
  readonly totalMs: number
  /** Time from the spike's start to a borrower's work starting, over every borrower of every round. */
  readonly waitP50Ms: number
  readonly waitP99Ms: number
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

interface Shape {
  readonly borrowers: number
  readonly openMillis: number
  readonly workMillis: number
  readonly max: number
}

/** Rounds of one spike against the contender `make` builds; the median connections opened and duration. */
const measure = (
  shape: Shape,
  rounds: number,
  make: (
    factory: ReturnType<typeof objectFactory>
  ) => Effect.Effect<Contender<{ readonly id: number }>, never, Scope.Scope>
) =>
  Effect.gen(function*() {
    const opened: Array<number> = []
    const served: Array<number> = []
    const durations: Array<number> = []
    const waits: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const factory = objectFactory(shape.openMillis)
      yield* Effect.scoped(Effect.gen(function*() {
        const contender = yield* make(factory)
        const start = performance.now()
        const done = yield* Effect.forEach(
          Array.from({ length: shape.borrowers }),
          () =>
            contender.borrow(() =>
              Effect.suspend(() => {
                waits.push(performance.now() - start)
                return Effect.as(Effect.sleep(shape.workMillis), 1)
              })
            ),
          { concurrency: "unbounded" }
        )
        durations.push(performance.now() - start)
        served.push(done.length)
        // connections still opening when the last borrower was served count too
        yield* Effect.sleep(shape.openMillis + 50)
        opened.push(factory.created())
      }))
    }
    return {
      connectionsOpened: median(opened),
      served: Math.min(...served),
      totalMs: Math.round(median(durations)),
      waitP50Ms: Math.round(percentile(waits, 0.5)),
      waitP99Ms: Math.round(percentile(waits, 0.99))
    } satisfies SpikeFigures
  })

export const run = (options: { readonly rounds: number }) =>
  Effect.gen(function*() {
    const results: Record<string, SpikeFigures> = {}
    const shape: Shape = { borrowers: 50, openMillis: 150, workMillis: 2, max: 50 }
    for (const name of contenderNames) {
      results[name] = yield* measure(shape, options.rounds, (factory) => makeContender(name, factory, shape.max))
    }
    return results
  })

/** The `maxConnecting` values compared in `spike_slow_opens`. */
export const maxConnectingValues = [2, 20] as const

export const runSlowOpens = (options: { readonly rounds: number }) =>
  Effect.gen(function*() {
    const results: Record<string, SpikeFigures> = {}
    const shape: Shape = { borrowers: 200, openMillis: 500, workMillis: 20, max: 20 }
    for (const maxConnecting of maxConnectingValues) {
      const name = `pool.use maxConnecting ${maxConnecting}`
      results[name] = yield* measure(
        shape,
        options.rounds,
        (factory) => thisPoolUse(factory, shape.max, { name, metrics: false, maxConnecting })
      )
    }
    return results
  })
