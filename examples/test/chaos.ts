/**
 * The real-server chaos run shared by the Redis and PostgreSQL tests, on the test kit's `Chaos.run`: a pool under
 * steady load from many fibers while the server kills the pool's connections several times, then one more kill
 * while every connection is idle, then the pool's recovery and the count of connections left open on either side.
 *
 * The run only measures; the tests assert on what it returns.
 */
import type { Connector } from "@connection-pool/core"
import { bySize, Chaos, fullRun } from "@connection-pool/test-kit"
import { assert } from "@effect/vitest"
import { Effect } from "effect"

export const full = fullRun

/** Modest by default (a few seconds per test); heavy under `RELIABILITY=full`. */
export const size = bySize(
  { fibers: 32, connections: 8, kills: 4, requestsBetweenKills: 400 },
  { fibers: 64, connections: 16, kills: 30, requestsBetweenKills: 2_000 }
)

/** Short, since the servers are live: the pool must be back to full health within one of these. */
export const healthCheckIntervalMillis = 200

/**
 * Time allowed on top of the interval for the tick's own work (checking a killed connection it has not yet seen
 * closed fails at once) and for a machine shared with other tests. The measured figure is recorded.
 */
export const tickAllowanceMillis = 300

/** What a request's reply said: whether it carried the request's own value, and a counter value if it has one. */
export type Reply = Chaos.Reply

/** One server: how to connect, what a request is, and how the server kills and counts a pool's connections. */
export interface Target<A, E> {
  readonly connector: (name: string) => Connector.Connector<A, unknown>
  /** Request number `n`; its reply is checked against `n`. */
  readonly request: (connection: A, n: number) => Effect.Effect<Reply, E>
  /** The documented retry policy, as the example composes it. */
  readonly retry: Chaos.RetryPolicy
  /** Kills every connection named `name` from the server side; returns how many. */
  readonly kill: (name: string) => Effect.Effect<number, unknown>
  /** The connections named `name` the server has open. */
  readonly serverCount: (name: string) => Effect.Effect<number, unknown>
}

/** The test kit's report, under the names these tests use: kills rather than faults. */
export interface ChaosReport extends Chaos.ChaosReport {
  /** Requests that failed in the end, by error tag. */
  readonly failuresByTag: Readonly<Record<string, number>>
  readonly killRounds: number
  readonly connectionsKilled: number
}

let serial = 0

export const runChaos = <A, E extends { readonly _tag: string }>(
  target: Target<A, E>,
  options: { readonly withRetry: boolean; readonly label: string }
): Effect.Effect<ChaosReport, unknown> =>
  Effect.suspend(() => {
    const name = `chaos-${options.label}-${process.pid}-${++serial}`
    return Chaos.run({
      name,
      size: {
        fibers: size.fibers,
        connections: size.connections,
        rounds: size.kills,
        requestsBetweenFaults: size.requestsBetweenKills
      },
      connector: target.connector(name),
      request: target.request,
      retry: options.withRetry ? target.retry : undefined,
      inject: target.kill(name),
      serverOpen: target.serverCount(name),
      healthCheckIntervalMillis,
      connectionTimeout: "5 seconds",
      requestDeadline: "5 seconds"
    })
  }).pipe(
    Effect.scoped,
    Effect.map((report) => ({
      ...report,
      failuresByTag: report.failures,
      killRounds: report.faultsInjected,
      connectionsKilled: report.connectionsHit
    }))
  )

/**
 * What must hold after every run, with or without the retry policy (the test kit's checks): within one health
 * interval (plus the tick's own work) the pool had retired every connection killed while idle, it then came back to
 * full health (every connection open, idle and scored 100, the server seeing exactly the pool's connections), and
 * nothing was left open on either side once the pool's scope closed.
 */
export const assertRecoveredWithoutLeaks = (report: ChaosReport): void =>
  Chaos.assertRecoveredWithoutLeaks(report, {
    connections: size.connections,
    healthCheckIntervalMillis,
    tickAllowanceMillis
  })

/**
 * What must hold without the retry policy: every round killed connections, the kills failed requests, every
 * failure is one of the typed errors `tags` (the connector's connection error, or the pool's `ConnectionError` for
 * a replacement whose open met a kill), nothing died or hung, and every request was answered or failed once.
 * Returns how many failed.
 */
export const assertTypedFailuresOnly = (report: ChaosReport, tags: ReadonlyArray<string>): number => {
  assert.isAtLeast(report.connectionsKilled, size.kills + 1, "every round killed connections")
  return Chaos.assertTypedFailuresOnly(report, tags)
}

/** What the reliability report records of a run. */
export const reliabilityFigures = (family: string, report: ChaosReport, withRetry: boolean) =>
  Chaos.figures(family, report, {
    size: {
      fibers: size.fibers,
      connections: size.connections,
      rounds: size.kills,
      requestsBetweenFaults: size.requestsBetweenKills
    },
    healthCheckIntervalMillis,
    withRetry
  })
