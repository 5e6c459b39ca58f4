/**
 * The real-server chaos run shared by the Redis and PostgreSQL tests: a pool under steady load from many fibers
 * while the server kills the pool's connections several times, then one more kill while every connection is idle,
 * then the pool's recovery and the count of connections left open on either side.
 *
 * The run only measures; the tests assert on what it returns.
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import { fullRun } from "@connection-pool/test-kit"
import { assert } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Option } from "effect"
import { eventually, within } from "./realServers.js"

export const full = fullRun

/** Modest by default (a few seconds per test); heavy under `RELIABILITY=full`. */
export const size = full
  ? { fibers: 64, connections: 16, kills: 30, requestsBetweenKills: 2_000 }
  : { fibers: 32, connections: 8, kills: 4, requestsBetweenKills: 400 }

/** Short, since the servers are live: the pool must be back to full health within one of these. */
export const healthCheckIntervalMillis = 200

/**
 * Time allowed on top of the interval for the tick's own work (checking a killed connection it has not yet seen
 * closed fails at once) and for a machine shared with other tests. The measured figure is recorded.
 */
export const tickAllowanceMillis = 300

/** What a request's reply said: whether it carried the request's own value, and a counter value if it has one. */
export interface Reply {
  readonly matched: boolean
  readonly counter?: number | undefined
}

/** One server: how to connect, what a request is, and how the server kills and counts a pool's connections. */
export interface Target<A, E> {
  readonly connector: (name: string) => Connector.Connector<A, unknown>
  /** Request number `n`; its reply is checked against `n`. */
  readonly request: (connection: A, n: number) => Effect.Effect<Reply, E>
  /** The documented retry policy, as the example composes it. */
  readonly retry: <X, EX extends { readonly _tag: string }, RX>(
    effect: Effect.Effect<X, EX, RX>
  ) => Effect.Effect<X, EX, RX>
  /** Kills every connection named `name` from the server side; returns how many. */
  readonly kill: (name: string) => Effect.Effect<number, unknown>
  /** The connections named `name` the server has open. */
  readonly serverCount: (name: string) => Effect.Effect<number, unknown>
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
  /** Requests that failed in the end, by error tag. */
  readonly failuresByTag: Readonly<Record<string, number>>
  /** Requests that ended in a defect, an interruption, or that did not end within their bound. */
  readonly defects: number
  readonly hung: number
  readonly killRounds: number
  readonly connectionsKilled: number
  /** From the kill of every idle connection until none of the killed ones was left in the pool. */
  readonly retiredMillis: number
  /** From the same kill until the pool was back to full health (every replacement open). */
  readonly recoveryMillis: number
  /**
   * Failed health checks from that kill until full health. A killed connection the pool has already seen closed is
   * retired unchecked; one it has not yet seen closed fails its check and is retired then, never checked twice.
   */
  readonly checkFailuresDuringRecovery: number
  /** Connections opened since that kill began, and the slowest of those opens. */
  readonly reopened: number
  readonly slowestReopenMillis: number
  /** Stats once it was back. */
  readonly recovered: ConnectionPool.PoolStats
  readonly serverCountRecovered: number
  /** Connections the pool opened, and closed by the time its scope had closed. */
  readonly opened: number
  readonly closed: number
  /** Connections with the pool's name still open on the server after its scope closed. */
  readonly serverCountAfterClose: number
}

let serial = 0

export const runChaos = <A, E extends { readonly _tag: string }>(
  target: Target<A, E>,
  options: { readonly withRetry: boolean; readonly label: string }
): Effect.Effect<ChaosReport, unknown> =>
  Effect.gen(function*() {
    const name = `chaos-${options.label}-${process.pid}-${++serial}`
    const n = size.connections
    let opened = 0
    let closed = 0
    // How long each open took: refilling the pool after the final kill takes a few of them.
    const openMillis: Array<number> = []
    const base = target.connector(name)
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

    let issued = 0
    let completed = 0
    let answered = 0
    let mismatched = 0
    let failedAttempts = 0
    let defects = 0
    let hung = 0
    let stopped = false
    const failuresByTag: Record<string, number> = {}
    const counters: Array<number> = []

    const inPool = Effect.gen(function*() {
      const pool = yield* ConnectionPool.make(connector, {
        name,
        maxConnections: n,
        minConnections: n,
        connectionTimeout: "5 seconds",
        healthCheckInterval: healthCheckIntervalMillis
      })

      const attempt = (k: number) =>
        pool.use((connection) => target.request(connection, k)).pipe(
          Effect.tapError(() => Effect.sync(() => failedAttempts++))
        )
      const request = Effect.suspend(() => {
        const k = issued++
        const sent = options.withRetry ? target.retry(attempt(k)) : attempt(k)
        // A request that neither answers nor fails within 5 seconds has hung.
        return Effect.exit(Effect.timeout(sent, "5 seconds")).pipe(Effect.map((exit) => {
          completed++
          if (Exit.isSuccess(exit)) {
            answered++
            if (!exit.value.matched) mismatched++
            if (exit.value.counter !== undefined) counters.push(exit.value.counter)
            return
          }
          const failure = Cause.failureOption(exit.cause)
          if (Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause) || Option.isNone(failure)) defects++
          else if (failure.value._tag === "TimeoutException") hung++
          else failuresByTag[failure.value._tag] = (failuresByTag[failure.value._tag] ?? 0) + 1
        }))
      })
      const worker = Effect.gen(function*() {
        while (!stopped) yield* request
      })

      // The kills, at fixed points of progress, so each lands under load; the load stops one stretch after the
      // last one.
      let connectionsKilled = 0
      const chaos = Effect.gen(function*() {
        for (let round = 1; round <= size.kills + 1; round++) {
          const target_ = round * size.requestsBetweenKills
          yield* eventually(Effect.sync(() => completed >= target_), `${target_} completed requests`, "60 seconds")
          if (round <= size.kills) connectionsKilled += yield* target.kill(name)
        }
        stopped = true
      })
      const workers = yield* Effect.forkScoped(
        Effect.forEach(Array.from({ length: size.fibers }), () => worker, { concurrency: "unbounded", discard: true })
      )
      yield* chaos.pipe(Effect.ensuring(Effect.sync(() => stopped = true)))
      yield* Fiber.join(workers).pipe(within("30 seconds", "the load to stop"))

      // Every connection idle: kill them all. With no borrower about, the maintenance fiber alone brings the pool
      // back: its next tick retires the killed connections and opens replacements.
      yield* eventually(
        Effect.map(pool.stats, (stats) => stats.total === n && stats.idle === n),
        "every connection idle"
      )
      const killedIds = new Set((yield* pool.connections).map((connection) => connection.id))
      const opensBefore = openMillis.length
      const checkFailuresBefore = (yield* pool.stats).healthCheckFailures
      connectionsKilled += yield* target.kill(name)
      // Timed from the kill's completion (the server has ended every killed connection), polling both milestones.
      const killedAt = yield* Clock.currentTimeMillis
      let retiredMillis: number | undefined = undefined
      const fullHealth = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const connections = yield* pool.connections
        const killedLeft = connections.some((connection) => killedIds.has(connection.id))
        if (!killedLeft) retiredMillis ??= now - killedAt
        const stats = yield* pool.stats
        if (killedLeft || stats.total !== n || stats.idle !== n || stats.unhealthy !== 0) return false
        if (connections.some((connection) => connection.healthScore !== 100)) return false
        return (yield* target.serverCount(name)) === n
      })
      yield* eventually(fullHealth, "the pool back to full health", "10 seconds")
      const recoveryMillis = (yield* Clock.currentTimeMillis) - killedAt
      const refill = openMillis.slice(opensBefore)
      const recovered = yield* pool.stats
      return {
        checkFailuresDuringRecovery: recovered.healthCheckFailures - checkFailuresBefore,
        retiredMillis: retiredMillis!,
        recoveryMillis,
        reopened: refill.length,
        slowestReopenMillis: Math.max(0, ...refill),
        recovered,
        serverCountRecovered: yield* target.serverCount(name),
        connectionsKilled
      }
    }).pipe(Effect.scoped)

    const inside = yield* inPool
    // The pool's scope has closed: every connection it opened must be closed on both sides.
    yield* eventually(
      Effect.map(target.serverCount(name), (count) => count === 0),
      "the server to see none of the pool's connections",
      "2 seconds"
    ).pipe(Effect.ignore)
    const serverCountAfterClose = yield* target.serverCount(name)

    return {
      requests: issued,
      answered,
      mismatched,
      duplicateCounters: counters.length - new Set(counters).size,
      counters,
      failedAttempts,
      failuresByTag,
      defects,
      hung,
      killRounds: size.kills + 1,
      opened,
      closed,
      serverCountAfterClose,
      ...inside
    }
  })

/**
 * What must hold after every run, with or without the retry policy: within one health interval (plus the tick's own
 * work) the pool had retired every connection killed while idle, it then came back to full health (every
 * connection open, idle and scored 100, the server seeing exactly the pool's connections), and nothing was left
 * open on either side once the pool's scope closed.
 */
export const assertRecoveredWithoutLeaks = (report: ChaosReport): void => {
  const n = size.connections
  assert.isAtMost(report.retiredMillis, healthCheckIntervalMillis + tickAllowanceMillis, "the next tick retired them")
  assert.isAtMost(report.checkFailuresDuringRecovery, n, "no killed connection was checked twice")
  // Each killed connection replaced once; none of the replacements needed replacing in turn.
  assert.strictEqual(report.reopened, n)
  assert.strictEqual(report.recovered.total, n)
  assert.strictEqual(report.recovered.unhealthy, 0)
  assert.strictEqual(report.recovered.created - report.recovered.closed, n, "created less closed is the open count")
  assert.strictEqual(report.serverCountRecovered, n, "the server sees exactly the pool's connections")
  assert.strictEqual(report.closed, report.opened, "every connection opened was closed")
  assert.strictEqual(report.serverCountAfterClose, 0, "the server sees none of them after the pool closed")
}

/**
 * What must hold without the retry policy: the kills failed requests, every failure is one of the typed errors
 * `tags` (the connector's connection error, or the pool's `ConnectionError` for a replacement whose open met a
 * kill), nothing died or hung, and every request was answered or failed once. Returns how many failed.
 */
export const assertTypedFailuresOnly = (report: ChaosReport, tags: ReadonlyArray<string>): number => {
  const failures = Object.values(report.failuresByTag).reduce((sum, count) => sum + count, 0)
  assert.isAtLeast(report.connectionsKilled, size.kills + 1, "every round killed connections")
  assert.isAbove(failures, 0, "the kills failed requests")
  for (const tag of Object.keys(report.failuresByTag)) assert.include(tags, tag)
  assert.strictEqual(report.defects, 0, "no defect, no interruption")
  assert.strictEqual(report.hung, 0, "no request hung")
  assert.strictEqual(report.answered + failures, report.requests, "every request answered or failed")
  assert.strictEqual(failures, report.failedAttempts)
  assert.strictEqual(report.mismatched, 0)
  return failures
}

/** What the reliability report records of a run. */
export const reliabilityFigures = (family: string, report: ChaosReport, withRetry: boolean) => ({
  family,
  did: {
    requests: report.requests,
    killRounds: report.killRounds,
    connectionsKilled: report.connectionsKilled,
    fibers: size.fibers,
    poolSize: size.connections
  },
  held: {
    ...(withRetry
      ? { requestsLost: report.requests - report.answered, attemptsRetried: report.failedAttempts }
      : { typedFailures: report.failedAttempts }),
    untypedFailures: report.defects,
    hungRequests: report.hung,
    wrongReplies: report.mismatched + report.duplicateCounters,
    retiredMillis: report.retiredMillis,
    recoveryMillis: report.recoveryMillis,
    checkFailuresDuringRecovery: report.checkFailuresDuringRecovery,
    slowestReopenMillis: report.slowestReopenMillis,
    healthIntervalMillis: healthCheckIntervalMillis,
    connectionsLeaked: report.opened - report.closed + report.serverCountAfterClose
  }
})
