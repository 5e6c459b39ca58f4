/**
 * The demo: a pool doing its job under faults, live in the terminal.
 *
 * It starts the IPC server as its own process, builds a pool of 8 connections to it (health-checked every
 * second), and sends 6,000 requests from 32 fibers through a retry policy composed here. Midway the server drops
 * every connection; later its process is killed (SIGKILL) and started again on the same socket path. The screen
 * shows each connection's health score, state, errors and uses, the pool's totals and its latest events, and the
 * program ends with the stats: no request lost, the pool back to 8 healthy connections.
 *
 *   npx --yes pnpm@10.34.8 start                              # the live view; plain lines when not on a terminal
 *   npx --yes pnpm@10.34.8 exec tsx examples/demo.ts --json   # only the final stats, as JSON
 *
 * `--requests <n>` sends `n` requests instead of 6,000 (the faults come at 30% and 60% of them).
 */
import type { ConnectionPool, PoolEvent } from "@connection-pool/core"
import type { IpcError } from "@connection-pool/platform-node"
import { IpcAddress, IpcPool } from "@connection-pool/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import type { Cause } from "effect"
import { Duration, Effect, Fiber, Logger, Random, Schedule, Scope, Stream } from "effect"
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import * as ServerProcess from "./demo/serverProcess.js"
import * as View from "./demo/view.js"

const { values: args } = parseArgs({
  options: { json: { type: "boolean", default: false }, requests: { type: "string", default: "6000" } }
})

const settings = {
  connections: 8,
  fibers: 32,
  /** About 550 a second, paced by the fibers' pauses. */
  requests: Number(args.requests),
  /** The server drops its connections when this share of the requests is done, and is killed at the second. */
  dropAt: 0.3,
  killAt: 0.6,
  /** How long the server stays dead before it is started again (its start then takes a second or two). */
  downFor: Duration.seconds(1)
}

if (!Number.isSafeInteger(settings.requests) || settings.requests < 10) {
  console.error(`--requests ${args.requests}: give a whole number, at least 10`)
  process.exit(2)
}

const mode = args.json ? "json" : process.stdout.isTTY ? "live" : "plain"

/**
 * The retry policy, composed as a program would: failures that say nothing about the request itself (its
 * connection broke, no connection could be opened, the wait or the reply took too long) are tried again after
 * 20, 40, 80, ... ms with jitter, never more than 250 ms apart, for at most 15 seconds. The echo is safe to send
 * twice; a request that must not run twice needs more care (a reply lost with its connection does not mean the
 * request did not run).
 */
const transient = (error: IpcError.RequestError | ConnectionPool.BorrowError | Cause.TimeoutException): boolean =>
  error._tag === "SocketError" || error._tag === "ProtocolError" || error._tag === "ConnectionError" ||
  error._tag === "PoolTimeoutError" || error._tag === "TimeoutException"
const retryPolicy = {
  schedule: Schedule.exponential("20 millis").pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(250))),
    Schedule.upTo("15 seconds")
  ),
  while: transient
}

/** Polls `condition` until it holds. */
const waitFor = (condition: Effect.Effect<boolean>): Effect.Effect<void> =>
  Effect.flatMap(
    condition,
    (holds) => holds ? Effect.void : Effect.zipRight(Effect.sleep("20 millis"), waitFor(condition))
  )

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const started = Date.now()
const elapsed = () => Date.now() - started
const stamp = () => `t+${(elapsed() / 1000).toFixed(1)}s`

/** The latest events and faults, shown on screen. */
const log = new View.Log(10, elapsed)

/**
 * The pool's own logs (a failed health check is a warning) go into the screen's event log rather than over the
 * screen; with `--json`, to stderr, so that stdout holds only the JSON.
 */
const logger = Logger.make(({ logLevel, message }) => {
  const [what, ...details] = Array.isArray(message) ? message : [message]
  const detail = details.map((d) => (d instanceof Error ? d.message : String(d))).join(": ")
  const label = `${logLevel.label.toLowerCase()}: ${String(what)}`
  if (mode === "live") log.add(label, "bad")
  else if (mode === "json") process.stderr.write(`${label}${detail && `: ${detail}`}\n`)
  else console.log(`${stamp()}  ${label}${detail && `: ${detail}`}`)
})

const program = Effect.gen(function*() {
  // A socket path of this process's own; a killed server leaves its file behind, removed at the end.
  const path = yield* Effect.acquireRelease(
    IpcAddress.localPath(`connection-pool-demo-${process.pid}`),
    (path) => Effect.sync(() => fs.rmSync(path, { force: true }))
  )

  // ---- the server, in its own process, and a pool of connections to it -----------------------------------------
  if (mode !== "json") console.log("starting the IPC server in its own process...")
  let server = yield* ServerProcess.start(path)
  let serverUp = true
  // The restarted server lives here: made before the pool, so it stops after the pool has closed (not when
  // the fault-injecting fiber's work ends, which would cut the pool's connections before the final stats).
  const restartScope = yield* Effect.acquireRelease(Scope.make(), (scope, exit) => Scope.close(scope, exit))
  const pool = yield* IpcPool.make({ path, connectTimeout: "1 second" }, {
    name: "demo",
    maxConnections: settings.connections,
    minConnections: settings.connections,
    healthCheckInterval: "1 second",
    healthCheckTimeout: "500 millis",
    connectionTimeout: "2 seconds",
    shutdownTimeout: "2 seconds"
  })

  // The pool's events, to the screen's rows and log, and counted.
  const rows = new View.Rows(1500)
  const events: Record<PoolEvent.PoolEvent["_tag"], number> = {
    Opened: 0,
    OpenFailed: 0,
    Closed: 0,
    HealthChanged: 0,
    Timeout: 0
  }
  yield* pool.events.pipe(
    Stream.runForEach((event) =>
      Effect.sync(() => {
        events[event._tag]++
        log.event(event)
        rows.event(event, Date.now())
      })
    ),
    Effect.forkScoped
  )

  // ---- requests -------------------------------------------------------------------------------------------------
  const counts = { issued: 0, done: 0, failed: 0, failedAttempts: 0, mismatched: 0 }

  const send = (n: number) =>
    IpcPool.request(pool, encoder.encode(`request ${n}`)).pipe(
      Effect.timeout("2 seconds"),
      Effect.tapError(() => Effect.sync(() => counts.failedAttempts++)),
      Effect.retry(retryPolicy),
      Effect.match({
        onFailure: () => counts.failed++,
        onSuccess: (reply) => {
          counts.done++
          if (decoder.decode(reply) !== `request ${n}`) counts.mismatched++
        }
      })
    )

  /** One of many fibers: takes the next request until all are issued, with a pause between two. */
  const worker = Effect.gen(function*() {
    while (counts.issued < settings.requests) {
      yield* send(++counts.issued)
      yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(30, 70)))
    }
  })

  // ---- faults ---------------------------------------------------------------------------------------------------
  const faultLog: Array<{ readonly atMillis: number; readonly fault: string }> = []
  const fault = (text: string) =>
    Effect.sync(() => {
      log.add(`▶ ${text}`, "fault")
      faultLog.push({ atMillis: elapsed(), fault: text })
      if (mode === "plain") console.log(`${stamp()}  ${text}`)
    })
  const whenDone = (share: number) =>
    waitFor(Effect.sync(() => counts.done + counts.failed >= share * settings.requests))

  /**
   * The outage, from the pool's own stats: open attempts while the server was down (failed opens, and any that
   * succeeded), and the time from the server's return to a full pool (8 connections open, all healthy).
   */
  const outage = { downMillis: 0, openAttempts: 0, fullPoolMillisAfterReturn: Number.NaN }
  const attemptsSoFar = Effect.map(pool.stats, (stats) => stats.openFailures + stats.created)

  const faults = Effect.gen(function*() {
    yield* whenDone(settings.dropAt)
    yield* fault("the server drops every connection")
    yield* server.drop
    yield* whenDone(settings.killAt)
    yield* fault(`the server process (pid ${server.pid}) is killed`)
    serverUp = false
    const attemptsBefore = yield* attemptsSoFar
    yield* server.kill
    const killedAt = Date.now()
    yield* Effect.sleep(settings.downFor)
    yield* fault("the server is started again on the same path")
    server = yield* Scope.extend(ServerProcess.start(path), restartScope)
    serverUp = true
    const backAt = Date.now()
    outage.downMillis = backAt - killedAt
    outage.openAttempts = (yield* attemptsSoFar) - attemptsBefore
    yield* waitFor(
      Effect.map(pool.stats, (stats) => stats.total === settings.connections && stats.healthy === stats.total)
    )
    outage.fullPoolMillisAfterReturn = Date.now() - backAt
    yield* fault(
      `the server is back (pid ${server.pid}), ${((Date.now() - killedAt) / 1000).toFixed(1)}s after the kill`
    )
  })

  // ---- what is shown --------------------------------------------------------------------------------------------
  const rate: Array<readonly [number, number]> = []
  const snapshot = Effect.gen(function*() {
    const now = Date.now()
    rate.push([now, counts.done])
    while (rate.length > 1 && rate[0]![0] < now - 1000) rate.shift()
    const [since, doneThen] = rate[0]!
    return {
      elapsedMillis: now - started,
      address: IpcAddress.format({ path }),
      server: serverUp ? `pid ${server.pid}` : "killed; restarting",
      serverUp,
      requests: {
        planned: settings.requests,
        done: counts.done,
        failed: counts.failed,
        retried: counts.failedAttempts - counts.failed,
        perSecond: now > since ? ((counts.done - doneThen) * 1000) / (now - since) : 0
      },
      stats: yield* pool.stats,
      rows: rows.rows(yield* pool.connections, now),
      now,
      log: log.lines
    } satisfies View.Snapshot
  })

  const isBack = (stats: ConnectionPool.PoolStats) =>
    stats.total === settings.connections && stats.healthy === settings.connections && stats.inUse === 0

  const run = Effect.gen(function*() {
    const screen = mode === "live" ? yield* View.terminal : undefined
    const draw = Effect.flatMap(snapshot, (s) =>
      Effect.sync(() => {
        if (screen !== undefined) screen.draw(View.render(s))
        else if (mode === "plain") console.log(View.plainLine(s))
      }))
    const display = yield* Effect.forkScoped(
      Effect.repeat(draw, Schedule.spaced(mode === "live" ? "100 millis" : "1 second"))
    )
    const faulting = yield* Effect.fork(faults)
    yield* Effect.all(Array.from({ length: settings.fibers }, () => worker), { concurrency: "unbounded" })
    yield* Fiber.join(faulting)
    // The pool's maintenance fiber tops it back up to 8 healthy connections; give it a few ticks.
    const recovered = yield* waitFor(Effect.map(pool.stats, isBack)).pipe(
      Effect.timeout("5 seconds"),
      Effect.as(true),
      Effect.orElseSucceed(() => false)
    )
    yield* Fiber.interrupt(display)
    yield* draw
    return recovered
  }).pipe(Effect.scoped)

  const recovered = yield* run
  const stats = yield* pool.stats
  const lost = counts.issued - counts.done

  if (mode === "json") {
    const requests = {
      planned: settings.requests,
      issued: counts.issued,
      done: counts.done,
      failed: counts.failed,
      lost,
      failedAttempts: counts.failedAttempts,
      retried: counts.failedAttempts - counts.failed,
      mismatched: counts.mismatched
    }
    const connections = yield* pool.connections
    console.log(JSON.stringify(
      { durationMillis: elapsed(), recovered, requests, faults: faultLog, outage, events, stats, connections },
      null,
      2
    ))
  } else {
    console.log("")
    console.log(
      `${counts.done} of ${counts.issued} requests answered, ${counts.failed} failed, ${counts.mismatched} mismatched; ` +
        `${counts.failedAttempts - counts.failed} failed attempts were retried by the policy`
    )
    for (const { atMillis, fault } of faultLog) console.log(`fault at t+${(atMillis / 1000).toFixed(1)}s: ${fault}`)
    console.log(
      `outage: ${outage.openAttempts} open attempts in ${(outage.downMillis / 1000).toFixed(1)}s with the server ` +
        `down; a full pool ${outage.fullPoolMillisAfterReturn} ms after it was back`
    )
    console.log(
      recovered
        ? `recovered: ${stats.total} of ${stats.maxConnections} connections open, all healthy`
        : `not recovered within 5 seconds of the last request: ${stats.total} open, ${stats.healthy} healthy`
    )
    console.log(stats.summary)
  }
  if (lost > 0 || counts.mismatched > 0) {
    return yield* Effect.dieMessage(`${lost} request(s) lost, ${counts.mismatched} reply(ies) mismatched`)
  }
})

NodeRuntime.runMain(
  program.pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, logger))),
  { disablePrettyLogger: true }
)
