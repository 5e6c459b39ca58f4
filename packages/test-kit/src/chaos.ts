/**
 * The chaos run shared by the IPC server's chaos tests and the Redis and PostgreSQL ones: a pool under steady load
 * from many fibers while a fault hits the pool's connections several times (each time after a stretch of answered
 * requests), then once more while every connection is idle; then the pool's recovery, its close, and the count of
 * connections left open on either side.
 *
 * The run only measures; the tests assert on what it returns, with the checks below that every chaos test shares.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import { assert } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as Edge from "./internal/edge/effect.js"
import { eventually, within } from "./waiting.js"

export interface ChaosSize {
  /** Fibers sending requests at once. */
  readonly fibers: number
  /** The pool's size: `minConnections` and `maxConnections` both. */
  readonly connections: number
  /** How many times the fault lands under load; it lands once more while every connection is idle. */
  readonly rounds: number
  /** Requests answered between two faults under load. */
  readonly requestsBetweenFaults: number
}

/** What a request's reply said: whether it carried the request's own value, and a counter value if it has one. */
export interface Reply {
  readonly matched: boolean
  readonly counter?: number | undefined
}

/** A policy that retries some of a request's failures. */
export type RetryPolicy = <X, EX extends { readonly _tag: string }, RX>(
  effect: Effect.Effect<X, EX, RX>
) => Effect.Effect<X, EX, RX>

/** One server, one fault, one pool: what the run needs to load it, hurt it and count its connections. */
export interface Scenario<A, E extends { readonly _tag: string }> {
  /** The pool's name (a server that counts connections by client name sees this name). */
  readonly name: string
  readonly size: ChaosSize
  readonly connector: Connector.Connector<A, unknown>
  /** Request number `n`; its reply says whether it carried `n` back. */
  readonly request: (connection: A, n: number) => Effect.Effect<Reply, E>
  /** When given, every request runs under it. */
  readonly retry?: RetryPolicy | undefined
  /** Injects the fault and returns how many connections it hit, once the server serves again. */
  readonly inject: Effect.Effect<number, unknown>
  /** The pool's connections the server holds open. */
  readonly serverOpen: Effect.Effect<number, unknown>
  /** Connections the server accepted over the whole run, when it can tell (one server for the whole run). */
  readonly serverAccepted?: Effect.Effect<number, unknown> | undefined
  readonly healthCheckIntervalMillis: number
  readonly connectionTimeout: Edge.DurationInput
  /** A request that neither answers nor fails within this has hung. */
  readonly requestDeadline: Edge.DurationInput
  /** How a failed request is filed in the report; `_tag` unless said otherwise. */
  readonly failureKey?: ((error: { readonly _tag: string }) => string) | undefined
  /** When given, failures it does not call transient are counted in `notTransient`. */
  readonly isTransient?: ((error: { readonly _tag: string }) => boolean) | undefined
}

export interface ChaosReport {
  readonly requests: number
  readonly answered: number
  /** Answered requests whose reply did not carry their own value (a reply delivered to the wrong request). */
  readonly mismatched: number
  /** Counter values that came back to more than one request. */
  readonly duplicateCounters: number
  readonly counters: ReadonlyArray<number>
  /** Failed attempts (each one retried with the policy; each one a failed request without it). */
  readonly failedAttempts: number
  /** Requests that failed in the end, by `failureKey`. */
  readonly failures: Readonly<Record<string, number>>
  /** Failures the scenario's `isTransient` did not call transient (undefined without it). */
  readonly notTransient: number | undefined
  /** Requests that ended in a defect or an interruption, or that did not end within their deadline. */
  readonly defects: number
  readonly hung: number
  /** The rounds under load and the one while idle. */
  readonly faultsInjected: number
  readonly connectionsHit: number
  /** From the end of the idle fault until none of the connections it hit was left in the pool. */
  readonly retiredMillis: number
  /** From the same moment until the pool was back to full health (every replacement open, idle, scored 100). */
  readonly recoveryMillis: number
  /**
   * Failed health checks during that recovery. A hit connection the pool has already seen closed is retired
   * unchecked; one it has not yet seen closed fails its check and is retired then, never checked twice.
   */
  readonly checkFailuresDuringRecovery: number
  /** Connections opened during that recovery, and the slowest of those opens. */
  readonly reopened: number
  readonly slowestReopenMillis: number
  /** The pool's stats once it was back, and the server's counts then. */
  readonly recovered: ConnectionPool.PoolStats
  readonly serverOpenRecovered: number
  readonly serverAcceptedRecovered: number | undefined
  /** Connections the pool opened, and those whose finalizer had run once its scope closed (counted client side). */
  readonly opened: number
  readonly closed: number
  /** The pool's stats, and the server's count of its connections, after the pool's scope closed. */
  readonly afterClose: ConnectionPool.PoolStats
  readonly serverOpenAfterClose: number
}

/** Runs the scenario; the pool lives in a scope of its own inside the caller's, closed before the run returns. */
export const run = <A, E extends { readonly _tag: string }>(
  scenario: Scenario<A, E>
): Effect.Effect<ChaosReport, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { size } = scenario
    const n = size.connections
    let opened = 0
    let closed = 0
    // How long each open took: refilling the pool after the idle fault takes a few of them.
    const openMillis: Array<number> = []
    const base = scenario.connector
    // Counts and times every connection the pool opens, and counts those it closes, client side.
    const connector = Connector.make({
      open: Effect.gen(function*() {
        const startedAt = yield* Clock.currentTimeMillis
        const connection = yield* base.open
        openMillis.push((yield* Clock.currentTimeMillis) - startedAt)
        yield* Effect.acquireRelease(Effect.sync(() => opened++), () => Effect.sync(() => closed++))
        return connection
      }),
      check: base.check,
      isOpen: base.isOpen,
      isFault: base.isFault
    })
    const poolScope = yield* Edge.forkScope(yield* Effect.scope)
    const pool = yield* Edge.inScope(
      ConnectionPool.make(connector, {
        name: scenario.name,
        maxConnections: n,
        minConnections: n,
        connectionTimeout: scenario.connectionTimeout,
        healthCheckInterval: scenario.healthCheckIntervalMillis
      }),
      poolScope
    )

    let issued = 0
    let answered = 0
    let mismatched = 0
    let failedAttempts = 0
    let notTransient = 0
    let defects = 0
    let hung = 0
    let stopped = false
    const failures: Record<string, number> = {}
    const counters: Array<number> = []
    const failureKey = scenario.failureKey ?? ((error) => error._tag)

    // Each request carries its own number, which its reply must carry back.
    const request = Effect.suspend(() => {
      const k = issued++
      const attempt = pool.use((connection) => scenario.request(connection, k)).pipe(
        Effect.tapError(() => Effect.sync(() => failedAttempts++))
      )
      const sent = scenario.retry === undefined ? attempt : scenario.retry(attempt)
      return Effect.exit(Effect.timeout(sent, scenario.requestDeadline)).pipe(Effect.map((exit) => {
        if (Exit.isSuccess(exit)) {
          answered++
          if (!exit.value.matched) mismatched++
          if (exit.value.counter !== undefined) counters.push(exit.value.counter)
          return true
        }
        const failure = Edge.failureOption(exit.cause)
        if (Option.isNone(failure) || Edge.hasDefects(exit.cause) || Edge.hasInterrupts(exit.cause)) defects++
        else if (Edge.isTimeoutError(failure.value)) hung++
        else {
          const key = failureKey(failure.value)
          failures[key] = (failures[key] ?? 0) + 1
          if (scenario.isTransient !== undefined && !scenario.isTransient(failure.value)) notTransient++
        }
        return false
      }))
    })
    // A worker pauses 5 ms after a failed request, as a program that logs the failure would, so that the count of
    // failures measures the faults and not how fast a refused connect can be repeated while a server restarts.
    const worker = Effect.gen(function*() {
      while (!stopped) {
        if (!(yield* request)) yield* Effect.sleep("5 millis")
      }
    })

    // Each fault lands once the pool has answered a stretch of requests since the one before (answered, not just
    // completed: requests refused while a server restarts must not count as the pool serving again); the load
    // stops one stretch after the last one.
    let connectionsHit = 0
    const chaos = Effect.gen(function*() {
      let answeredBefore = 0
      for (let round = 1; round <= size.rounds + 1; round++) {
        const progress = answeredBefore + size.requestsBetweenFaults
        yield* eventually(() => answered >= progress, `${progress} answered requests`, "60 seconds")
        if (round <= size.rounds) connectionsHit += yield* scenario.inject.pipe(within("30 seconds", "the fault"))
        answeredBefore = answered
      }
    })
    const workers = yield* Edge.fork(
      Effect.forEach(Array.from({ length: size.fibers }), () => worker, { concurrency: "unbounded", discard: true })
    )
    yield* chaos.pipe(Effect.ensuring(Effect.sync(() => stopped = true)))
    yield* Fiber.join(workers).pipe(within("30 seconds", "the load to stop"))

    // Every connection idle: the fault once more. With no borrower about, the maintenance fiber alone brings the
    // pool back: its next tick retires the connections hit and opens replacements.
    yield* eventually(
      Effect.map(pool.stats, (stats) => stats.total === n && stats.idle === n),
      "every connection idle"
    )
    const hitIds = new Set((yield* pool.connections).map((connection) => connection.id))
    const opensBefore = openMillis.length
    const checkFailuresBefore = (yield* pool.stats).healthCheckFailures
    connectionsHit += yield* scenario.inject.pipe(within("30 seconds", "the idle fault"))
    // Timed from the fault's completion (for a kill, the server has ended every connection it hit; for a restart,
    // the new server is ready), polling both milestones.
    const injectedAt = yield* Clock.currentTimeMillis
    let retiredMillis: number | undefined = undefined
    const fullHealth = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const connections = yield* pool.connections
      const hitLeft = connections.some((connection) => hitIds.has(connection.id))
      if (!hitLeft) retiredMillis ??= now - injectedAt
      const stats = yield* pool.stats
      if (hitLeft || stats.total !== n || stats.idle !== n || stats.unhealthy !== 0) return false
      if (connections.some((connection) => connection.healthScore !== 100)) return false
      return (yield* scenario.serverOpen) === n
    })
    yield* eventually(fullHealth, "the pool back to full health", "10 seconds")
    const recoveryMillis = (yield* Clock.currentTimeMillis) - injectedAt
    const refill = openMillis.slice(opensBefore)
    const recovered = yield* pool.stats
    const serverOpenRecovered = yield* scenario.serverOpen
    const serverAcceptedRecovered = scenario.serverAccepted === undefined ? undefined : yield* scenario.serverAccepted

    // The pool closes: the server must see none of its connections (bounded; the figure says if it did not).
    yield* Scope.close(poolScope, Exit.void).pipe(within("5 seconds", "the pool to close"))
    const afterClose = yield* pool.stats
    yield* eventually(
      Effect.map(scenario.serverOpen, (open) => open === 0),
      "the server to see none of the pool's connections",
      "2 seconds"
    ).pipe(Effect.ignore)

    return {
      requests: issued,
      answered,
      mismatched,
      duplicateCounters: counters.length - new Set(counters).size,
      counters,
      failedAttempts,
      failures,
      notTransient: scenario.isTransient === undefined ? undefined : notTransient,
      defects,
      hung,
      faultsInjected: size.rounds + 1,
      connectionsHit,
      retiredMillis: retiredMillis!,
      recoveryMillis,
      checkFailuresDuringRecovery: recovered.healthCheckFailures - checkFailuresBefore,
      reopened: refill.length,
      slowestReopenMillis: Math.max(0, ...refill),
      recovered,
      serverOpenRecovered,
      serverAcceptedRecovered,
      opened,
      closed,
      afterClose,
      serverOpenAfterClose: yield* scenario.serverOpen
    }
  })

/** The bounds a recovery is held to. */
export interface RecoveryBounds {
  readonly connections: number
  readonly healthCheckIntervalMillis: number
  /**
   * Time allowed on top of the interval for the tick's own work (retiring the connections hit, opening their
   * replacements) on a machine shared with other tests. The measured figure is recorded.
   */
  readonly tickAllowanceMillis: number
}

/**
 * What must hold after every run, with or without a retry policy: within one health interval (plus the tick's own
 * work) the pool had retired every connection hit while idle, each replaced once; it then came back to full
 * health, the server seeing exactly the pool's connections; and nothing was left open on either side once the
 * pool's scope closed.
 */
export const assertRecoveredWithoutLeaks = (report: ChaosReport, bounds: RecoveryBounds): void => {
  const n = bounds.connections
  const interval = bounds.healthCheckIntervalMillis + bounds.tickAllowanceMillis
  assert.isAtMost(report.retiredMillis, interval, "the next tick retired them")
  assert.isAtMost(report.checkFailuresDuringRecovery, n, "no connection hit was checked twice")
  // Each connection hit replaced once; none of the replacements needed replacing in turn.
  assert.strictEqual(report.reopened, n)
  assert.strictEqual(report.recovered.total, n)
  assert.strictEqual(report.recovered.unhealthy, 0)
  assert.strictEqual(report.recovered.created - report.recovered.closed, n, "created less closed is the open count")
  assert.strictEqual(report.serverOpenRecovered, n, "the server sees exactly the pool's connections")
  if (report.serverAcceptedRecovered !== undefined) {
    // One server for the whole run: every connection it accepted is one the pool opened, and the other way round.
    assert.strictEqual(report.serverAcceptedRecovered, report.recovered.created, "accepted = created")
  }
  assert.strictEqual(report.afterClose.total, 0)
  assert.strictEqual(report.afterClose.closed, report.afterClose.created, "the pool counts every one closed")
  assert.strictEqual(report.closed, report.opened, "every connection opened was closed")
  assert.strictEqual(report.serverOpenAfterClose, 0, "the server sees none of them after the pool closed")
}

/**
 * What must hold with a retry policy: the faults hit requests in flight, yet every request was answered with its
 * own reply, none failed, died or hung.
 */
export const assertNoRequestLost = (report: ChaosReport): void => {
  assert.isAbove(report.failedAttempts, 0, "the faults hit requests in flight")
  assert.strictEqual(report.answered, report.requests, "every request answered")
  assert.deepStrictEqual(report.failures, {})
  assert.strictEqual(report.defects, 0)
  assert.strictEqual(report.hung, 0)
  assert.strictEqual(report.mismatched, 0, "every reply came back to its own request")
  assert.strictEqual(report.duplicateCounters, 0, "no reply was delivered twice")
}

/**
 * What must hold without a retry policy: the faults failed requests, every failure is one of the typed errors
 * `tags` (the first part of its key), none the scenario calls not transient, nothing died or hung, and every
 * request was answered or failed once. Returns how many failed.
 */
export const assertTypedFailuresOnly = (report: ChaosReport, tags: ReadonlyArray<string>): number => {
  const failed = Object.values(report.failures).reduce((sum, count) => sum + count, 0)
  assert.isAbove(failed, 0, "the faults failed requests")
  for (const key of Object.keys(report.failures)) assert.include(tags, key.split(".")[0], key)
  if (report.notTransient !== undefined) assert.strictEqual(report.notTransient, 0, "every failure is transient")
  assert.strictEqual(report.defects, 0, "no defect, no interruption")
  assert.strictEqual(report.hung, 0, "no request hung")
  assert.strictEqual(report.answered + failed, report.requests, "every request answered or failed")
  assert.strictEqual(failed, report.failedAttempts)
  assert.strictEqual(report.mismatched, 0)
  assert.strictEqual(report.duplicateCounters, 0)
  return failed
}

/** What the reliability report records of a run. */
export const figures = (
  family: string,
  report: ChaosReport,
  options: {
    readonly size: ChaosSize
    readonly healthCheckIntervalMillis: number
    readonly withRetry: boolean
    /** More of what the run did (the fault's name) and of what held (the failures by kind, figures of its own). */
    readonly did?: Readonly<Record<string, number | string>> | undefined
    readonly held?: Readonly<Record<string, number>> | undefined
  }
) => ({
  family,
  did: {
    ...options.did,
    requests: report.requests,
    faultsInjected: report.faultsInjected,
    connectionsHit: report.connectionsHit,
    fibers: options.size.fibers,
    poolSize: options.size.connections
  },
  held: {
    ...(options.withRetry
      ? { requestsLost: report.requests - report.answered, attemptsRetried: report.failedAttempts }
      : { typedFailures: report.failedAttempts }),
    untypedFailures: report.defects,
    hungRequests: report.hung,
    wrongReplies: report.mismatched + report.duplicateCounters,
    retiredMillis: report.retiredMillis,
    recoveryMillis: report.recoveryMillis,
    checkFailuresDuringRecovery: report.checkFailuresDuringRecovery,
    slowestReopenMillis: report.slowestReopenMillis,
    healthIntervalMillis: options.healthCheckIntervalMillis,
    connectionsLeaked: report.opened - report.closed + report.serverOpenAfterClose,
    ...options.held
  }
})

/** The failures of a run by key, as figures (`failed <key>`). */
export const failureFigures = (report: ChaosReport): Record<string, number> =>
  Object.fromEntries(Object.entries(report.failures).map(([key, count]) => [`failed ${key}`, count]))
