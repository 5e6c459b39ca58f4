/**
 * Chaos against the project's IPC server under steady load: many fibers send requests through an `IpcPool` while
 * the server drops every connection (`closeConnections`), resets every connection (`resetConnections`, an RST over
 * TCP), or is killed with SIGKILL and restarted on the same path. Each fault lands several times, each time after
 * the pool has answered a stretch of requests, then once more while every connection is idle.
 *
 * With the retry policy below no request is lost; without it every failure is a typed error of the kinds the
 * policy retries, none is a defect and none hangs. Either way the pool is back to full health within one health
 * interval of the idle fault, the server sees exactly the pool's connections, none after the pool closed, and the
 * process has as many file descriptors open as before.
 *
 * faults.test.ts covers each fault once, on one connection, without load; process.test.ts the server process's own
 * life (signals, a request in flight when it dies). These are about steady load, the retry policy and the figures.
 */
import type { ConnectionPool } from "@connection-pool/core"
import { type IpcAddress, IpcError, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { eventually, fullRun, within } from "@connection-pool/test-kit"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Option, Schedule, Scope } from "effect"
import * as fs from "node:fs"
import { bytes, forkServer, openFds, tempSocketPath, text } from "./utils.js"

const full = fullRun

/** Modest by default (a few seconds per test); heavy under `RELIABILITY=full`. */
const size = full
  ? { fibers: 32, connections: 8, faults: 20, kills: 4, requestsBetweenFaults: 2_000 }
  : { fibers: 16, connections: 4, faults: 3, kills: 1, requestsBetweenFaults: 300 }

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
    schedule: Schedule.exponential("10 millis").pipe(
      Schedule.jittered,
      Schedule.union(Schedule.spaced("250 millis")),
      Schedule.intersect(Schedule.recurs(80))
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
  readonly serverAccepted: Effect.Effect<number | undefined>
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
      const server = yield* IpcServer.make({ path, handler: IpcServer.scriptedHandler })
      return inProcess(server, server.closeConnections)
    })
  },
  {
    name: "resetConnections",
    rounds: size.faults,
    expectedTags: ["SocketError"],
    // Over TCP, where a reset is a real RST (ECONNRESET on the client).
    start: Effect.gen(function*() {
      const server = yield* IpcServer.make({ port: 0, handler: IpcServer.scriptedHandler })
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
          current = yield* Scope.extend(forkServer(args), scope)
          return open
        }),
        serverOpen: acceptedOn(path),
        serverAccepted: Effect.succeed(undefined)
      }
    })
  }
]

// ---- the run ---------------------------------------------------------------------------------------------------

interface ChaosReport {
  readonly requests: number
  readonly answered: number
  /** Answered requests whose reply was not their own payload. */
  readonly mismatched: number
  /** Failed attempts: each one retried with the policy, each one a failed request without it. */
  readonly failedAttempts: number
  /** Requests that failed in the end, by `_tag` and `reason` (and the cause's reason for a `ConnectionError`). */
  readonly failures: Readonly<Record<string, number>>
  /** Failures that were not one of the transient errors the policy retries. */
  readonly notTransient: number
  /** Requests that ended in a defect or an interruption, or did not end within the deadline. */
  readonly defects: number
  readonly hung: number
  readonly faultsInjected: number
  readonly connectionsHit: number
  /** From the idle fault (for a kill, from the new server being ready) until the pool was back to full health. */
  readonly recoveryMillis: number
  readonly recovered: ConnectionPool.PoolStats
  readonly serverOpenRecovered: number
  readonly serverAcceptedRecovered: number | undefined
  readonly afterClose: ConnectionPool.PoolStats
  readonly serverOpenAfterClose: number
  readonly fdDelta: number
}

const failureKey = (error: unknown): string => {
  const { _tag, reason, cause } = error as { _tag?: string; reason?: string; cause?: { reason?: string } }
  const key = `${_tag ?? "untagged"}.${reason ?? "?"}`
  return _tag === "ConnectionError" && cause?.reason !== undefined ? `${key}.${cause.reason}` : key
}

const runChaos = (fault: Fault, withRetry: boolean): Effect.Effect<ChaosReport, unknown> =>
  Effect.gen(function*() {
    const fdsBefore = openFds()
    const inside = yield* Effect.scoped(Effect.gen(function*() {
      const target = yield* fault.start
      const n = size.connections
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.extend(
        IpcPool.make(target.address, {
          maxConnections: n,
          minConnections: n,
          connectionTimeout: "10 seconds",
          healthCheckInterval: healthCheckIntervalMillis
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

      // Each request carries a payload no other request carries; the server sleeps a millisecond before echoing it,
      // so that every fault finds requests in flight.
      const request = (worker: number, sequence: number) =>
        Effect.suspend(() => {
          const payload = `${worker}.${sequence}`
          const attempt = IpcPool.request(pool, bytes(`sleep:1:${payload}`)).pipe(
            Effect.tapError(() => Effect.sync(() => failedAttempts++))
          )
          issued++
          return Effect.exit(Effect.timeout(withRetry ? retryTransient(attempt) : attempt, requestDeadline)).pipe(
            Effect.map((exit) => {
              if (Exit.isSuccess(exit)) {
                answered++
                if (text(exit.value) !== payload) mismatched++
                return true
              }
              const failure = Cause.failureOption(exit.cause)
              if (Option.isNone(failure) || Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause)) defects++
              else if (failure.value._tag === "TimeoutException") hung++
              else {
                const key = failureKey(failure.value)
                failures[key] = (failures[key] ?? 0) + 1
                if (!isTransient(failure.value)) notTransient++
              }
              return false
            })
          )
        })
      // A worker pauses 5 ms after a failed request, as a program that logs the failure would, so that the count of
      // failures measures the faults and not how fast a refused connect can be repeated while the server restarts.
      const worker = (id: number) =>
        Effect.gen(function*() {
          for (let sequence = 0; !stopped; sequence++) {
            if (!(yield* request(id, sequence))) yield* Effect.sleep("5 millis")
          }
        })

      // Each fault lands once the pool has answered a stretch of requests since the one before (answered, not just
      // completed: requests refused while the server restarts must not count as the pool serving again); the load
      // stops one stretch after the last one.
      let connectionsHit = 0
      const chaos = Effect.gen(function*() {
        let answeredBefore = 0
        for (let round = 1; round <= fault.rounds + 1; round++) {
          const progress = answeredBefore + size.requestsBetweenFaults
          yield* eventually(() => answered >= progress, `${progress} answered requests`, "60 seconds")
          if (round <= fault.rounds) {
            connectionsHit += yield* target.inject.pipe(within("30 seconds", "the fault (and restart)"))
          }
          answeredBefore = answered
        }
      })
      const workers = yield* Effect.forkScoped(
        Effect.forEach(Array.from({ length: size.fibers }, (_, id) => id), worker, {
          concurrency: "unbounded",
          discard: true
        })
      )
      yield* chaos.pipe(Effect.ensuring(Effect.sync(() => stopped = true)))
      yield* Fiber.join(workers).pipe(within("30 seconds", "the load to stop"))

      // Every connection idle: the fault once more. With no borrower about, the maintenance fiber alone brings the
      // pool back: its next tick retires the dropped connections and opens replacements.
      yield* eventually(
        () => Effect.map(pool.stats, (stats) => stats.total === n && stats.idle === n),
        "every connection idle"
      )
      const hitIds = new Set((yield* pool.connections).map((connection) => connection.id))
      connectionsHit += yield* target.inject.pipe(within("30 seconds", "the idle fault (and restart)"))
      const injectedAt = yield* Clock.currentTimeMillis
      const fullHealth = Effect.gen(function*() {
        const connections = yield* pool.connections
        if (connections.some((connection) => hitIds.has(connection.id))) return false
        const stats = yield* pool.stats
        if (stats.total !== n || stats.idle !== n || stats.unhealthy !== 0) return false
        if (connections.some((connection) => connection.healthScore !== 100)) return false
        return (yield* target.serverOpen) === n
      })
      yield* eventually(() => fullHealth, "the pool back to full health", "10 seconds")
      const recoveryMillis = (yield* Clock.currentTimeMillis) - injectedAt
      const recovered = yield* pool.stats
      const serverOpenRecovered = yield* target.serverOpen
      const serverAcceptedRecovered = yield* target.serverAccepted

      // The pool closes: the server must see none of its connections (bounded; the figure says if it did not).
      yield* Scope.close(poolScope, Exit.void).pipe(within("5 seconds", "the pool to close"))
      const afterClose = yield* pool.stats
      yield* eventually(
        () => Effect.map(target.serverOpen, (open) => open === 0),
        "the server to see none",
        "2 seconds"
      ).pipe(
        Effect.ignore
      )
      return {
        requests: issued,
        answered,
        mismatched,
        failedAttempts,
        failures,
        notTransient,
        defects,
        hung,
        faultsInjected: fault.rounds + 1,
        connectionsHit,
        recoveryMillis,
        recovered,
        serverOpenRecovered,
        serverAcceptedRecovered,
        afterClose,
        serverOpenAfterClose: yield* target.serverOpen
      }
    }))
    // Sockets, the server process's pipes: all closed once the run's scope has (closing is asynchronous).
    yield* eventually(() => openFds() === fdsBefore, "the file descriptors to be closed", "5 seconds").pipe(
      Effect.ignore
    )
    return { ...inside, fdDelta: openFds() - fdsBefore }
  })

/**
 * What must hold after every run, with or without the retry policy: within one health interval (plus the tick's own
 * work) of the idle fault the pool was back to full health, its count agreeing with the server's; nothing was left
 * open on either side once the pool's scope closed; no file descriptor leaked.
 */
const assertRecoveredWithoutLeaks = (report: ChaosReport) => {
  const n = size.connections
  assert.isAtMost(report.recoveryMillis, healthCheckIntervalMillis + tickAllowanceMillis, "back within one interval")
  assert.strictEqual(report.recovered.total, n)
  assert.strictEqual(report.recovered.unhealthy, 0)
  assert.strictEqual(report.serverOpenRecovered, report.recovered.total, "the server sees exactly the pool's")
  assert.strictEqual(report.recovered.created - report.recovered.closed, n, "created less closed is the open count")
  if (report.serverAcceptedRecovered !== undefined) {
    // One server for the whole run: every connection it accepted is one the pool opened, and the other way round.
    assert.strictEqual(report.serverAcceptedRecovered, report.recovered.created, "accepted = created")
  }
  assert.strictEqual(report.afterClose.total, 0)
  assert.strictEqual(report.afterClose.closed, report.afterClose.created, "every connection opened was closed")
  assert.strictEqual(report.serverOpenAfterClose, 0, "the server sees none after the pool closed")
  assert.strictEqual(report.fdDelta, 0, "file descriptors back to where they started")
}

const figures = (fault: Fault, report: ChaosReport, withRetry: boolean) => ({
  family: "Chaos: IPC server",
  did: {
    fault: fault.name,
    requests: report.requests,
    faultsInjected: report.faultsInjected,
    connectionsHit: report.connectionsHit,
    fibers: size.fibers,
    poolSize: size.connections
  },
  held: {
    ...(withRetry
      ? { requestsLost: report.requests - report.answered, attemptsRetried: report.failedAttempts }
      : {
        typedFailures: Object.values(report.failures).reduce((sum, count) => sum + count, 0),
        ...Object.fromEntries(Object.entries(report.failures).map(([key, count]) => [`failed ${key}`, count]))
      }),
    untypedFailures: report.defects,
    hungRequests: report.hung,
    wrongReplies: report.mismatched,
    recoveryMillis: report.recoveryMillis,
    healthIntervalMillis: healthCheckIntervalMillis,
    connectionsLeaked: report.afterClose.created - report.afterClose.closed + report.serverOpenAfterClose,
    fdDelta: report.fdDelta
  }
})

const timeout = full ? 300_000 : 60_000

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
            assert.isAbove(report.failedAttempts, 0, "the faults hit requests in flight")
            assert.strictEqual(report.answered, report.requests, "every request answered")
            assert.deepStrictEqual(report.failures, {})
            assert.strictEqual(report.defects, 0)
            assert.strictEqual(report.hung, 0)
            assert.strictEqual(report.mismatched, 0, "every reply came back to its own request")
            assertRecoveredWithoutLeaks(report)
            Object.assign(ctx.task.meta, { reliability: figures(fault, report, true) })
          }),
        timeout
      )

      it.live(
        "without it: every failure is a typed transient error, none hangs, and the pool recovers",
        (ctx) =>
          Effect.gen(function*() {
            const report = yield* runChaos(fault, false)
            console.log(`chaos ${fault.name}, no retries:`, JSON.stringify(figures(fault, report, false)))

            const failed = Object.values(report.failures).reduce((sum, count) => sum + count, 0)
            assert.strictEqual(report.connectionsHit, report.faultsInjected * size.connections, "every fault hit all")
            assert.isAbove(failed, 0, "the faults failed requests")
            for (const key of Object.keys(report.failures)) assert.include(fault.expectedTags, key.split(".")[0], key)
            assert.strictEqual(report.notTransient, 0, "every failure is one the policy retries")
            assert.strictEqual(report.defects, 0, "no defect, no interruption")
            assert.strictEqual(report.hung, 0, "no request hung")
            assert.strictEqual(report.answered + failed, report.requests, "every request answered or failed")
            assert.strictEqual(failed, report.failedAttempts)
            assert.strictEqual(report.mismatched, 0)
            assertRecoveredWithoutLeaks(report)
            Object.assign(ctx.task.meta, { reliability: figures(fault, report, false) })
          }),
        timeout
      )
    })
  }
})
