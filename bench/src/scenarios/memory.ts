/**
 * memory: heap per idle connection beyond the connection itself, heap per waiting borrower (its fiber
 * included; a bare parked fiber is measured beside it), and heap growth over many borrows. Needs
 * `node --expose-gc`.
 */
import { callback, fork } from "#edge/effect"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { Effect, Fiber } from "effect"
import { heapUsed, repeatN } from "../harness.js"

export interface MemoryFigures {
  readonly bytesPerIdleConnection: number
  /** A borrower waiting for a connection, its fiber included. */
  readonly bytesPerWaitingBorrower: number
  /**
   * For reference: a bare fiber suspended in `Effect.async` (Effect 4: `Effect.callback`), as a waiting borrower
   * is.
   */
  readonly bytesPerParkedFiber: number
  readonly borrows: number
  readonly heapGrowthBytes: number
}

const makeConnection = (id: number) => ({ id, buffer: new Uint8Array(64) })

export const run = (options: { readonly connections: number; readonly waiters: number; readonly borrows: number }) =>
  Effect.gen(function*() {
    // the connections alone
    const before = heapUsed()
    const bare = Array.from({ length: options.connections }, (_, i) => makeConnection(i))
    const bareBytes = heapUsed() - before
    bare.length = 0

    const bytesPerIdleConnection = yield* Effect.scoped(Effect.gen(function*() {
      let id = 0
      const start = heapUsed()
      const pool = yield* Effect.orDie(ConnectionPool.make(
        Connector.make({ open: Effect.sync(() => makeConnection(id++)) }),
        { maxConnections: options.connections, minConnections: options.connections }
      ))
      while ((yield* pool.activeConnections) < options.connections) yield* Effect.sleep("1 millis")
      return Math.round((heapUsed() - start - bareBytes) / options.connections)
    }))

    const parkedStart = heapUsed()
    const parked = yield* Effect.forEach(
      Array.from({ length: options.waiters }),
      () => fork(callback(() => {}))
    )
    const bytesPerParkedFiber = Math.round((heapUsed() - parkedStart) / options.waiters)
    yield* Effect.forEach(parked, Fiber.interrupt, { discard: true })

    const bytesPerWaitingBorrower = yield* Effect.scoped(Effect.gen(function*() {
      const pool = yield* Effect.orDie(ConnectionPool.make(
        Connector.make({ open: Effect.sync(() => makeConnection(0)) }),
        { maxConnections: 1, connectionTimeout: "1 hour" }
      ))
      yield* Effect.forkScoped(pool.use(() => Effect.never))
      const start = heapUsed()
      const waiters = yield* Effect.forEach(
        Array.from({ length: options.waiters }),
        () => fork(pool.use(() => Effect.void))
      )
      while ((yield* pool.stats).waiting < options.waiters) yield* Effect.sleep("1 millis")
      const bytes = Math.round((heapUsed() - start) / options.waiters)
      yield* Effect.forEach(waiters, Fiber.interrupt, { discard: true })
      return bytes
    }))

    const heapGrowthBytes = yield* Effect.scoped(Effect.gen(function*() {
      const pool = yield* Effect.orDie(ConnectionPool.make(
        Connector.make({ open: Effect.sync(() => makeConnection(0)) }),
        { maxConnections: 10 }
      ))
      const borrow = pool.use(() => Effect.void)
      yield* repeatN(10_000, borrow) // warm up: code paths compiled, pool at its working size
      const start = heapUsed()
      yield* Effect.forEach(Array.from({ length: 10 }), () => repeatN(options.borrows / 10, borrow), {
        concurrency: "unbounded",
        discard: true
      })
      return heapUsed() - start
    }))

    return {
      bytesPerIdleConnection,
      bytesPerWaitingBorrower,
      bytesPerParkedFiber,
      borrows: options.borrows,
      heapGrowthBytes
    }
  })
