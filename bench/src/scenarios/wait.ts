/**
 * wait: 100 fibers on 10 connections, 1 ms of work each; the wait for a connection (p50, p99, max) and
 * whether waiters are served first-come first-served: each borrow takes a ticket when it asks, and a
 * grant is out of order when a later ticket was granted before it.
 */
import { Effect } from "effect"
import { contenderNames, makeContender } from "../contenders.js"
import { objectFactory, percentile, repeatN } from "../harness.js"

export interface WaitFigures {
  readonly opsPerSec: number
  readonly p50WaitMs: number
  readonly p99WaitMs: number
  readonly maxWaitMs: number
  /** Fraction of grants made in the order the borrowers asked. */
  readonly inOrder: number
}

export const run = (options: { readonly borrowsPerFiber: number }) =>
  Effect.gen(function*() {
    const results: Record<string, WaitFigures> = {}
    for (const name of contenderNames) {
      results[name] = yield* Effect.scoped(Effect.gen(function*() {
        const contender = yield* makeContender(name, objectFactory(), 10)
        // warm the pool up to its 10 connections, so that every contender is measured on waiting alone
        yield* Effect.forEach(Array.from({ length: 10 }), () => contender.borrow(() => Effect.sleep("5 millis")), {
          concurrency: "unbounded"
        })
        const waits: Array<number> = []
        let nextTicket = 0
        const granted: Array<number> = []
        const borrowOnce = Effect.suspend(() => {
          const ticket = nextTicket++
          const askedAt = performance.now()
          return contender.borrow(() =>
            Effect.suspend(() => {
              waits.push(performance.now() - askedAt)
              granted.push(ticket)
              return Effect.sleep("1 millis")
            })
          )
        })
        const start = performance.now()
        yield* Effect.forEach(Array.from({ length: 100 }), () => repeatN(options.borrowsPerFiber, borrowOnce), {
          concurrency: "unbounded",
          discard: true
        })
        const elapsed = (performance.now() - start) / 1000
        let outOfOrder = 0
        let highest = -1
        for (const ticket of granted) {
          if (ticket < highest) outOfOrder++
          highest = Math.max(highest, ticket)
        }
        return {
          opsPerSec: Math.round(waits.length / elapsed),
          p50WaitMs: round2(percentile(waits, 50)),
          p99WaitMs: round2(percentile(waits, 99)),
          maxWaitMs: round2(Math.max(...waits)),
          inOrder: round2(1 - outOfOrder / granted.length)
        }
      }))
    }
    return results
  })

const round2 = (n: number) => Math.round(n * 100) / 100
