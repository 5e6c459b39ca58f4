/**
 * Chaos against the project's IPC server under steady load: many fibers send requests through a pool of IPC
 * connections while the server drops every connection (`closeConnections`), resets every connection
 * (`resetConnections`, an RST over TCP), or is killed with SIGKILL and restarted on the same path. Each fault lands
 * several times, each time after the pool has answered a stretch of requests, then once more while every connection
 * is idle (the run itself is the test kit's `Chaos.run`, shared with the Redis and PostgreSQL chaos tests).
 *
 * With the retry policy below no request is lost; without it every failure is a typed error of the kinds the
 * policy retries, none is a defect and none hangs. Either way the pool is back to full health within one health
 * interval of the idle fault, the server sees exactly the pool's connections, none after the pool closed, and the
 * process has as many file descriptors open as before.
 *
 * faults.test.ts covers each fault once, on one connection, without load; process.test.ts the server process's own
 * life (signals, a request in flight when it dies). These are about steady load, the retry policy and the figures.
 */
import { type IpcAddress, IpcConnector, IpcError, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { bySize, Chaos, eventually, recordReliability } from "@connection-pool/test-kit"
import { inScope } from "@connection-pool/test-kit/internal/edge/effect"
import { intersectSchedules, unionSchedules } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, Schedule } from "effect"
import * as fs from "node:fs"
import { bytes, forkServer, openFds, tempSocketPath, text } from "./utils.js"

/** Modest by default (a few seconds per test); heavy under `RELIABILITY=full`. */
const size = bySize(
  { fibers: 16, connections: 4, faults: 3, kills: 1, requestsBetweenFaults: 300 },
  { fibers: 32, connections: 8, faults: 20, kills: 4, requestsBetweenFaults: 2_000 }
)

/** Short, since the server is live: the pool must be back to full health within one of these. */
const healthCheckIntervalMillis = 200

/**
 * Time allowed on top of the interval for the tick's own work (retiring the dropped connections, opening their
 * replacements) on a machine shared with other tests. The measured figure is recorded.
 */
const tickAllowanceMillis = 300

/** A request that neither answers nor fails within this has hung (longer than a server restart takes). */
const requestDeadline = "20 seconds"

// ---- the retry policy ------------------------------------------------------------------------------------------

/**
 * Whether an error is transient: the connection broke under the request (`IpcError.isConnectionFault`: every
 * `SocketError`, every `ProtocolError` in what was received), or the pool could not open a connection
 * (`ConnectionError`: the server is down or restarting). A `RemoteError` (the server's handler refused), a
 * `PoolTimeoutError` (the pool is saturated) or a `PoolClosedError` is not: trying again would not help.
 */
const isTransient = (error: { readonly _tag: string }): boolean =>
  IpcError.isConnectionFault(error) || error._tag === "ConnectionError"

/**
 * The retry policy a program composes around a request that is safe to send twice: transient failures are retried
 * after about 10, 20, 40, ... ms, each wait jittered (x0.8 to x1.2, so that fibers failing together do not come
 * back together) and capped at 250 ms (a server restarting for seconds is polled, not waited out), at most 80 times
 * (about 20 seconds); anything else fails at once. It is safe here because the server echoes: a request whose
 * reply was lost with its connection may still have run on the server, so one that must not run twice needs more
 * care (an idempotency key, or asking the server what happened).
 */
const retryTransient = <A, E extends { readonly _tag: string }, R>(request: Effect.Effect<A, E, R>) =>
  Effect.retry(request, {
    schedule: intersectSchedules(
      unionSchedules(Schedule.jittered(Schedule.exponential("10 millis")), Schedule.spaced("250 millis")),
      Schedule.recurs(80)
    ),
    while: isTransient
  })

// ---- the faults ------------------------------------------------------------------------------------------------

/** A running server and how to hurt it. */
interface Target {
  readonly address: IpcAddress.Address
  /** Injects the fault; returns how many connections it hit. Resolves once the server serves again. */
  readonly inject: Effect.Effect<number, unknown>
  /** The connections the server holds open: its own stats, or for a server process, the kernel's list. */
  readonly serverOpen: Effect.Effect<number>
  /** Connections the server accepted, when it can say (one server for the whole run). */
  readonly serverAccepted?: Effect.Effect<number> | undefined
}

interface Fault {
  readonly name: "closeConnections" | "resetConnections" | "SIGKILL and restart"
  /** How many times it lands under load. */
  readonly rounds: number
  /** The error tags a request may fail with when it is not retried. */
  readonly expectedTags: ReadonlyArray<string>
  /** Starts the server in the current scope. */
  readonly start: Effect.Effect<Target, unknown, Scope.Scope>
}

const inProcess = (server: IpcServer.IpcServer, inject: Effect.Effect<number>): Target => ({
  address: server.address,
  inject,
  serverOpen: server.openConnections,
  serverAccepted: server.totalAccepted
})

/**
 * The connections a server process holds open on `path`, as the kernel lists them in `/proc/net/unix`: the
 * accepted sockets carry the listener's path and the state "connected" (03); the pool's own ends carry no path.
 */
const acceptedOn = (path: string): Effect.Effect<number> =>
  Effect.sync(() =>
    fs.readFileSync("/proc/net/unix", "utf8").split("\n").filter((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[7] === path && fields[5] === "03"
    }).length
  )

const faults: ReadonlyArray<Fault> = [
  {
    name: "closeConnections",
    rounds: size.faults,
    // A request in flight sees the close (Closed), or its write meets the closed socket (EPIPE: Reset).
    expectedTags: ["SocketError"],
    start: Effect.gen(function*() {
      const path = yield* tempSocketPath("chaos-close")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      return inProcess(server, server.closeConnections)
    })
  },
  {
    name: "resetConnections",
    rounds: size.faults,
    expectedTags: ["SocketError"],
    // Over TCP, where a reset is a real RST (ECONNRESET on the client).
    start: Effect.gen(function*() {
      const server = yield* IpcServer.make({ port: 0, handler: IpcServerFaults.scriptedHandler })
      return inProcess(server, server.resetConnections)
    })
  },
  {
    name: "SIGKILL and restart",
    rounds: size.kills,
    // Requests in flight see their connection die; while the server is down, opens are refused (ConnectionError
    // OpenFailed, caused by ConnectionRefused at the socket file it left, or PathNotFound while the new one
    // replaces that file).
    expectedTags: ["SocketError", "ConnectionError"],
    start: Effect.gen(function*() {
      const path = yield* tempSocketPath("chaos-kill")
      const args = ["--path", path, "--handler", "scripted"]
      let current = yield* forkServer(args)
      // Each server process lives in the run's scope: whatever is left running is killed when it closes.
      const scope = yield* Effect.scope
      return {
        address: { path },
        inject: Effect.gen(function*() {
          const open = yield* acceptedOn(path)
          yield* current.kill("SIGKILL")
          current = yield* inScope(forkServer(args), scope)
          return open
        }),
        serverOpen: acceptedOn(path)
      }
    })
  }
]

// ---- the run ---------------------------------------------------------------------------------------------------

interface ChaosReport extends Chaos.ChaosReport {
  /** Open file descriptors after the run less before it (sockets, the server process's pipes). */
  readonly fdDelta: number
}

/** A request's failure filed by `_tag` and `reason` (and the cause's reason for a `ConnectionError`). */
const failureKey = (error: unknown): string => {
  const { _tag, reason, cause } = error as { _tag?: string; reason?: string; cause?: { reason?: string } }
  const key = `${_tag ?? "untagged"}.${reason ?? "?"}`
  return _tag === "ConnectionError" && cause?.reason !== undefined ? `${key}.${cause.reason}` : key
}

let serial = 0

const runChaos = (fault: Fault, withRetry: boolean): Effect.Effect<ChaosReport, unknown> =>
  Effect.gen(function*() {
    const fdsBefore = openFds()
    const report = yield* Effect.scoped(Effect.gen(function*() {
      const target = yield* fault.start
      const connector = yield* IpcConnector.make(target.address)
      // Each request carries a payload no other request carries; the server sleeps a millisecond before echoing
      // it, so that every fault finds requests in flight.
      return yield* Chaos.run({
        name: `chaos-${fault.name}-${++serial}`,
        size: {
          fibers: size.fibers,
          connections: size.connections,
          rounds: fault.rounds,
          requestsBetweenFaults: size.requestsBetweenFaults
        },
        connector,
        request: (connection, n) =>
          Effect.map(connection.request(bytes(`sleep:1:${n}`)), (reply) => ({ matched: text(reply) === String(n) })),
        retry: withRetry ? retryTransient : undefined,
        inject: target.inject,
        serverOpen: target.serverOpen,
        serverAccepted: target.serverAccepted,
        healthCheckIntervalMillis,
        connectionTimeout: "10 seconds",
        requestDeadline,
        failureKey,
        isTransient
      })
    }))
    // Sockets, the server process's pipes: all closed once the run's scope has (closing is asynchronous).
    yield* eventually(() => openFds() === fdsBefore, "the file descriptors to be closed", "5 seconds").pipe(
      Effect.ignore
    )
    return { ...report, fdDelta: openFds() - fdsBefore }
  })

/**
 * What must hold after every run, with or without the retry policy: the test kit's recovery and leak checks, and
 * here the whole recovery (not only the retirement of the connections hit) within one health interval of the idle
 * fault, and no file descriptor leaked.
 */
const assertRecoveredWithoutLeaks = (report: ChaosReport) => {
  Chaos.assertRecoveredWithoutLeaks(report, {
    connections: size.connections,
    healthCheckIntervalMillis,
    tickAllowanceMillis
  })
  assert.isAtMost(report.recoveryMillis, healthCheckIntervalMillis + tickAllowanceMillis, "back within one interval")
  assert.strictEqual(report.fdDelta, 0, "file descriptors back to where they started")
}

const figures = (fault: Fault, report: ChaosReport, withRetry: boolean) =>
  Chaos.figures("Chaos: IPC server", report, {
    size: { ...size, rounds: fault.rounds },
    healthCheckIntervalMillis,
    withRetry,
    did: { fault: fault.name },
    held: { ...(withRetry ? {} : Chaos.failureFigures(report)), fdDelta: report.fdDelta }
  })

const timeout = bySize(60_000, 300_000)

describe("chaos: the IPC server drops, resets or dies under steady load", () => {
  for (const fault of faults) {
    describe(fault.name, () => {
      it.live(
        "with the retry policy: no request is lost, every reply is its request's own",
        (ctx) =>
          Effect.gen(function*() {
            const report = yield* runChaos(fault, true)
            console.log(`chaos ${fault.name}, with retries:`, JSON.stringify(figures(fault, report, true)))

            assert.strictEqual(report.connectionsHit, report.faultsInjected * size.connections, "every fault hit all")
            Chaos.assertNoRequestLost(report)
            assertRecoveredWithoutLeaks(report)
            recordReliability(ctx, figures(fault, report, true))
          }),
        timeout
      )

      it.live(
        "without it: every failure is a typed transient error, none hangs, and the pool recovers",
        (ctx) =>
          Effect.gen(function*() {
            const report = yield* runChaos(fault, false)
            console.log(`chaos ${fault.name}, no retries:`, JSON.stringify(figures(fault, report, false)))

            assert.strictEqual(report.connectionsHit, report.faultsInjected * size.connections, "every fault hit all")
            Chaos.assertTypedFailuresOnly(report, fault.expectedTags)
            assertRecoveredWithoutLeaks(report)
            recordReliability(ctx, figures(fault, report, false))
          }),
        timeout
      )
    })
  }
})
