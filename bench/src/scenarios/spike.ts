/**
 * spike: 50 borrowers arrive at once at a cold pool of at most 50; opening a connection takes 150 ms and
 * the work 2 ms. How many connections does each pool open to serve them? (HikariCP opens 5 or 6.)
 */
import { Effect } from "effect"
import { contenderNames, makeContender } from "../contenders.js"
import { median, objectFactory } from "../harness.js"

export interface SpikeFigures {
  readonly connectionsOpened: number
  readonly served: number
  readonly totalMs: number
}

export const run = (options: { readonly rounds: number }) =>
  Effect.gen(function*() {
    const results: Record<string, SpikeFigures> = {}
    for (const name of contenderNames) {
      const opened: Array<number> = []
      const served: Array<number> = []
      const durations: Array<number> = []
      for (let round = 0; round < options.rounds; round++) {
        const factory = objectFactory(150)
        yield* Effect.scoped(Effect.gen(function*() {
          const contender = yield* makeContender(name, factory, 50)
          const start = performance.now()
          const done = yield* Effect.forEach(
            Array.from({ length: 50 }),
            () => contender.borrow(() => Effect.as(Effect.sleep("2 millis"), 1)),
            { concurrency: "unbounded" }
          )
          durations.push(performance.now() - start)
          served.push(done.length)
          // connections still opening when the last borrower was served count too
          yield* Effect.sleep("200 millis")
          opened.push(factory.created())
        }))
      }
      results[name] = {
        connectionsOpened: median(opened),
        served: Math.min(...served),
        totalMs: Math.round(median(durations))
      }
    }
    return results
  })
