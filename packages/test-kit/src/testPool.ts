/**
 * An in-memory connector that counts everything the pool does to its connections, and a pool built on it.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
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

/** The test connector's switches and counters. */
export interface TestConnectorState {
  failOpen: boolean
  /** The first this many open attempts fail. */
  failFirst: number
  /** When set, opening waits for it (uninterruptibly, as an `acquireRelease` acquire does). */
  openGate: Deferred.Deferred<void> | undefined
  /** When set, closing waits for it: a finalizer that takes time, as a socket's does. */
  closeGate: Deferred.Deferred<void> | undefined
  openAttempts: number
  opened: number
  closed: number
  open: number
  peakOpen: number
  checks: number
  /** How many times each connection's finalizer ran (to prove it ran once). */
  readonly finalizerRuns: Map<number, number>
  /** When each connection was closed, in milliseconds of the `Clock`. */
  readonly closedAt: Map<number, number>
  readonly connections: Array<TestConnection>
}

/**
 * A connector whose connections are plain objects, with counters of everything the pool did to them:
 * opens, closes (per connection, to prove each finalizer ran once), checks, and the peaks of open and
 * lent connections.
 */
export const makeTestConnector = () => {
  const state: TestConnectorState = {
    failOpen: false,
    failFirst: 0,
    openGate: undefined,
    closeGate: undefined,
    openAttempts: 0,
    opened: 0,
    closed: 0,
    open: 0,
    peakOpen: 0,
    checks: 0,
    finalizerRuns: new Map(),
    closedAt: new Map(),
    connections: []
  }
  const connector = Connector.make({
    open: Effect.acquireRelease(
      Effect.suspend(() => {
        state.openAttempts++
        if (state.openGate !== undefined) return Effect.andThen(Deferred.await(state.openGate), Effect.never)
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
          Effect.andThen(Clock.currentTimeMillis),
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
        return gate === undefined ? verdict : Effect.andThen(Deferred.await(gate), verdict)
      }),
    isOpen: (connection: TestConnection) => connection.open
  })
  return { state, connector }
}

export type TestPool = ConnectionPool.ConnectionPool<TestConnection>

/**
 * A pool on a fresh test connector, in the current scope, with the connector's state to watch and steer. Set up
 * the state before the pool opens anything (a connector that fails from the start) with `prepare`.
 */
export const makeTestPool = (
  options?: ConnectionPool.Options | undefined,
  prepare?: ((state: TestConnectorState) => void) | undefined
) =>
  Effect.gen(function*() {
    const { connector, state } = makeTestConnector()
    prepare?.(state)
    const pool = yield* ConnectionPool.make(connector, options)
    return { pool, state, connector }
  })

/** The ids of the pool's open connections. */
export const idsOf = (pool: TestPool) =>
  Effect.map(pool.connections, (connections) => connections.map((connection) => connection.id))

/**
 * Borrows a connection in a fiber of the test's scope and keeps it until that fiber is interrupted (at
 * the latest when the test's scope closes, before the pool's own finalizer waits for lent connections).
 */
export const holdOne = (pool: TestPool) =>
  Effect.gen(function*() {
    const lent = yield* Deferred.make<number>()
    const fiber = yield* Effect.forkScoped(
      pool.use((_, handle) => Deferred.succeed(lent, handle.id).pipe(Effect.andThen(Effect.never)))
    )
    const id = yield* Deferred.await(lent)
    return { fiber, id }
  })
