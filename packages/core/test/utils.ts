import { Connector } from "@connection-pool/core"
import { Clock, Data, Deferred, Effect } from "effect"

export class OpenFailure extends Data.TaggedError("OpenFailure")<{ readonly attempt: number }> {}
export class CheckFailure extends Data.TaggedError("CheckFailure")<{ readonly id: number }> {}
export class QueryFailure extends Data.TaggedError("QueryFailure")<{ readonly retryable: boolean }> {}

/** An in-memory connection: what the pool lends. */
export interface TestConnection {
  readonly serial: number
  open: boolean
  healthy: boolean
  /** When set, the next check waits for it (to hold a check in progress). */
  checkGate: Deferred.Deferred<void> | undefined
}

/**
 * A connector whose connections are plain objects, with counters of everything the pool did to them:
 * opens, closes (per connection, to prove each finalizer ran once), checks, and the peaks of open and
 * lent connections.
 */
export const makeTestConnector = () => {
  const state = {
    failOpen: false,
    /** The first this many open attempts fail. */
    failFirst: 0,
    /** When set, opening waits for it (uninterruptibly, as an `acquireRelease` acquire does). */
    openGate: undefined as Deferred.Deferred<void> | undefined,
    /** When set, closing waits for it: a finalizer that takes time, as a socket's does. */
    closeGate: undefined as Deferred.Deferred<void> | undefined,
    openAttempts: 0,
    opened: 0,
    closed: 0,
    open: 0,
    peakOpen: 0,
    checks: 0,
    finalizerRuns: new Map<number, number>(),
    /** When each connection was closed, in milliseconds of the `Clock`. */
    closedAt: new Map<number, number>(),
    connections: [] as Array<TestConnection>
  }
  const connector = Connector.make({
    open: Effect.acquireRelease(
      Effect.suspend(() => {
        state.openAttempts++
        if (state.openGate !== undefined) return Effect.zipRight(Deferred.await(state.openGate), Effect.never)
        if (state.failOpen || state.openAttempts <= state.failFirst) {
          return Effect.fail(new OpenFailure({ attempt: state.openAttempts }))
        }
        state.opened++
        state.open++
        state.peakOpen = Math.max(state.peakOpen, state.open)
        const connection: TestConnection = { serial: state.opened, open: true, healthy: true, checkGate: undefined }
        state.connections.push(connection)
        return Effect.succeed(connection)
      }),
      (connection) =>
        (state.closeGate === undefined ? Effect.void : Deferred.await(state.closeGate)).pipe(
          Effect.zipRight(Clock.currentTimeMillis),
          Effect.map((now) => {
            state.closedAt.set(connection.serial, now)
            connection.open = false
            state.closed++
            state.open--
            state.finalizerRuns.set(connection.serial, (state.finalizerRuns.get(connection.serial) ?? 0) + 1)
          })
        )
    ),
    check: (connection: TestConnection) =>
      Effect.suspend(() => {
        state.checks++
        const gate = connection.checkGate
        const verdict = connection.healthy ? Effect.void : Effect.fail(new CheckFailure({ id: connection.serial }))
        return gate === undefined ? verdict : Effect.zipRight(Deferred.await(gate), verdict)
      }),
    isOpen: (connection: TestConnection) => connection.open
  })
  return { state, connector }
}

/**
 * Lets forked fibers run until `condition` holds; fails the test (instead of hanging) after a bounded
 * number of scheduler turns. Needs no clock, so it works under `TestClock`.
 */
export const eventually = (condition: () => boolean | Effect.Effect<boolean>, turns = 10_000) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < turns; turn++) {
      const verdict = condition()
      if (typeof verdict === "boolean" ? verdict : yield* verdict) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`condition not reached after ${turns} scheduler turns: ${condition.toString()}`)
  })
