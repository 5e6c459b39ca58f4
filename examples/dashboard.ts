/**
 * Web dashboard: a pool's connections and health, live in the browser.
 *
 * An IPC server runs in this process, with a pool of connections to it health-checked every second, and a few
 * fibers send it a steady stream of requests. Every few seconds a fault is injected, in turn: the server drops
 * every connection (the pool retires them as `disconnected` and opens new ones), or the server's health endpoint
 * fails for a while (checks fail, scores fall, some connections are retired as `unhealthy`, the others climb back).
 * A page served by @effect/platform's HTTP server shows one row per connection (state, health score as a bar,
 * errors, uses, last used), the pool's totals and closes by reason, and the pool's events as they happen; it polls
 * `/api/pool` (the snapshot as JSON) twice a second. Its buttons inject either fault at once.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/dashboard.ts
 *
 * It listens on 127.0.0.1, on `PORT` or a free port, prints the URL and runs until interrupted (Ctrl-C). Options:
 * `--for <seconds>` stops it by itself; `--fault-every <seconds>` sets the fault period (default 6, 0 for none).
 */
import { ConnectionPool, Connector, PoolEvent } from "@connection-pool/core"
import { IpcAddress, IpcConnector, IpcServer } from "@connection-pool/platform-node"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Clock, Data, Duration, Effect, Layer, Logger, Random, Ref, Schedule, Stream } from "effect"
import * as http from "node:http"
import { page } from "./dashboard/page.js"
import type { FeedEntry, Snapshot } from "./dashboard/snapshot.js"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The request the pool's health check sends: a real service's health endpoint, which can fail while it is up. */
const healthRequest = encoder.encode("health")

const workloadFibers = 6
const feedLength = 12
/** How long a degradation lasts: three health ticks or so. */
const degradedFor = Duration.seconds(3)

export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly flag: string
  readonly value: string | undefined
}> {
  override get message(): string {
    return `${this.flag} needs a number of seconds, 0 or more; got ${this.value ?? "nothing"}`
  }
}

export class HealthEndpointDegraded extends Data.TaggedError("HealthEndpointDegraded")<{}> {
  override get message(): string {
    return "the health endpoint is degraded"
  }
}

/** `--flag <seconds>` from the command line, or `fallback` when absent. */
const secondsFlag = (flag: string, fallback: number | undefined) =>
  Effect.suspend(() => {
    const at = process.argv.indexOf(flag)
    if (at === -1) return Effect.succeed(fallback)
    const value = process.argv[at + 1]
    const seconds = Number(value)
    return value === undefined || value.trim() === "" || !Number.isFinite(seconds) || seconds < 0
      ? Effect.fail(new InvalidArgument({ flag, value }))
      : Effect.succeed(seconds)
  })

const port = Effect.suspend(() => {
  const value = process.env.PORT
  if (value === undefined || value === "") return Effect.succeed(0)
  const number = Number(value)
  return Number.isInteger(number) && number >= 0 && number <= 65535
    ? Effect.succeed(number)
    : Effect.fail(new InvalidArgument({ flag: "PORT", value }))
})

/** A pool event as a line of the page's activity feed. */
const describe = (event: PoolEvent.PoolEvent, at: number): FeedEntry =>
  PoolEvent.$match(event, {
    Opened: (e): FeedEntry => ({
      at,
      kind: "opened",
      text: `#${e.connectionId} opened in ${e.openMillis.toFixed(0)} ms`
    }),
    OpenFailed: (e): FeedEntry => ({ at, kind: "open-failed", text: `open failed: ${e.error.message}` }),
    Closed: (e): FeedEntry => ({ at, kind: "closed", text: `#${e.connectionId} closed: ${e.reason}` }),
    HealthChanged: (e): FeedEntry => ({
      at,
      kind: "health",
      text: `#${e.connectionId} health ${e.previousScore} → ${e.healthScore} (${e.errorCount} ${
        e.errorCount === 1 ? "error" : "errors"
      })`
    }),
    Timeout: (e): FeedEntry => ({
      at,
      kind: "timeout",
      text: `a borrower gave up after ${e.waitedMillis.toFixed(0)} ms`
    })
  })

const program = Effect.gen(function*() {
  const runFor = yield* secondsFlag("--for", undefined)
  const faultEvery = (yield* secondsFlag("--fault-every", 6))!
  const startedAt = yield* Clock.currentTimeMillis
  const feed = yield* Ref.make<ReadonlyArray<FeedEntry>>([])
  const note = (entry: FeedEntry) => Ref.update(feed, (entries) => [entry, ...entries].slice(0, feedLength))

  // The server: echoes requests after a short random delay (so connections are seen in use), and answers the
  // health request, except while degraded. Then the first health request fails, and every third one succeeds,
  // so that scores spread out instead of all falling together.
  const degradedUntil = yield* Ref.make(0)
  const degradedChecks = yield* Ref.make(0)
  const handler: IpcServer.Handler<HealthEndpointDegraded> = (payload) =>
    decoder.decode(payload) === "health"
      ? Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (now >= (yield* Ref.get(degradedUntil))) return encoder.encode("ok")
        const n = yield* Ref.getAndUpdate(degradedChecks, (n) => n + 1)
        return n % 3 === 2 ? encoder.encode("ok") : yield* new HealthEndpointDegraded()
      })
      : Effect.as(Effect.flatMap(Random.nextIntBetween(5, 120), (millis) => Effect.sleep(millis)), payload)
  const path = yield* IpcAddress.localPath(`connection-pool-dashboard-${process.pid}`)
  const server = yield* IpcServer.make({ path, handler })

  // The IPC connector, with the health endpoint as its check (after the ping), so that a check can fail on a
  // connection that is still open: its score falls and climbs back, as with a database's `SELECT 1`.
  const ipc = yield* IpcConnector.make({ path, connectTimeout: "2 seconds" })
  const connector = Connector.make({
    open: ipc.open,
    check: (connection) => Effect.zipRight(ipc.check(connection), connection.request(healthRequest)),
    isOpen: ipc.isOpen,
    isFault: ipc.isFault
  })
  const pool = yield* ConnectionPool.make(connector, {
    name: "dashboard",
    maxConnections: 6,
    minConnections: 2,
    healthCheckInterval: "1 second",
    connectionTimeout: "2 seconds"
  })
  yield* pool.events.pipe(
    Stream.runForEach((event) => Effect.flatMap(Clock.currentTimeMillis, (at) => note(describe(event, at)))),
    Effect.forkScoped
  )

  // The workload: fibers that each send a request, retrying on a fresh connection when one was dropped under
  // it, then pause a little.
  const succeeded = yield* Ref.make(0)
  const failed = yield* Ref.make(0)
  const send = (fiber: number, i: number) =>
    pool.use((connection) => connection.request(encoder.encode(`fiber ${fiber} request ${i}`))).pipe(
      Effect.timeout("1 second"),
      Effect.retry({ schedule: Schedule.exponential("10 millis"), times: 3 })
    )
  const worker = (fiber: number) =>
    Effect.iterate(0, {
      while: () => true,
      body: (i) =>
        send(fiber, i).pipe(
          Effect.matchEffect({
            onFailure: () => Ref.update(failed, (n) => n + 1),
            onSuccess: () => Ref.update(succeeded, (n) => n + 1)
          }),
          Effect.zipRight(Effect.flatMap(Random.nextIntBetween(50, 400), (millis) => Effect.sleep(millis))),
          Effect.as(i + 1)
        )
    })
  for (let fiber = 1; fiber <= workloadFibers; fiber++) yield* Effect.forkScoped(worker(fiber))

  // The faults, also run by the page's buttons.
  const drops = yield* Ref.make(0)
  const degradations = yield* Ref.make(0)
  const drop = Effect.gen(function*() {
    const dropped = yield* server.closeConnections
    yield* Ref.update(drops, (n) => n + 1)
    const message = `fault: the server dropped ${dropped} connection(s)`
    yield* note({ at: yield* Clock.currentTimeMillis, kind: "fault", text: message })
    yield* Effect.log(message)
    return { message, dropped }
  })
  const degrade = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    yield* Ref.set(degradedChecks, 0)
    yield* Ref.set(degradedUntil, now + Duration.toMillis(degradedFor))
    yield* Ref.update(degradations, (n) => n + 1)
    const message = `fault: the health endpoint fails for ${Duration.toSeconds(degradedFor)} s`
    yield* note({ at: now, kind: "fault", text: message })
    yield* Effect.log(message)
    return { message, until: now + Duration.toMillis(degradedFor) }
  })
  if (faultEvery > 0) {
    yield* Effect.iterate(0, {
      while: () => true,
      body: (n) =>
        Effect.delay(n % 2 === 0 ? Effect.asVoid(drop) : Effect.asVoid(degrade), Duration.seconds(faultEvery)).pipe(
          Effect.as(n + 1)
        )
    }).pipe(Effect.forkScoped)
  }

  const snapshot = Effect.gen(function*() {
    // Read without yielding to another fiber in between, so that the totals and the rows describe the same
    // instant (one row per open connection: `stats.total` rows).
    const [stats, connections, now] = yield* Effect.all([pool.stats, pool.connections, Clock.currentTimeMillis]).pipe(
      Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER)
    )
    const result: Snapshot = {
      now,
      startedAt,
      server: IpcAddress.format(server.address),
      serverStats: yield* server.stats,
      stats,
      connections,
      workload: { fibers: workloadFibers, succeeded: yield* Ref.get(succeeded), failed: yield* Ref.get(failed) },
      faults: {
        drops: yield* Ref.get(drops),
        degradations: yield* Ref.get(degradations),
        degradedUntil: yield* Ref.get(degradedUntil)
      },
      feed: yield* Ref.get(feed)
    }
    return result
  })

  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/", HttpServerResponse.html(page)),
    HttpRouter.get("/api/pool", Effect.map(snapshot, (body) => HttpServerResponse.unsafeJson(body))),
    HttpRouter.post("/api/fault/drop", Effect.map(drop, (body) => HttpServerResponse.unsafeJson(body))),
    HttpRouter.post("/api/fault/degrade", Effect.map(degrade, (body) => HttpServerResponse.unsafeJson(body)))
  )
  yield* HttpServer.serveEffect(router)
  yield* HttpServer.addressWith((address) =>
    Effect.log(`dashboard on http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}/`)
  )

  if (runFor === undefined) return yield* Effect.never
  yield* Effect.sleep(Duration.seconds(runFor))
  yield* Effect.log((yield* pool.stats).summary)
}).pipe(Effect.scoped)

/**
 * One line per log entry, without causes' stack traces: a failed health check is logged by the pool as a warning
 * with its error, and during a degradation there are many; the page shows them, the terminal only lists them.
 */
const oneLineLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ date, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const text = parts.map((part) => part instanceof Error ? part.message : String(part)).join(": ")
    globalThis.console.log(`[${date.toISOString().slice(11, 23)}] ${logLevel.label} ${text}`)
  })
)

const HttpLive = Layer.unwrapEffect(
  Effect.map(port, (port) => NodeHttpServer.layer(() => http.createServer(), { port, host: "127.0.0.1" }))
)

NodeRuntime.runMain(program.pipe(Effect.provide([HttpLive, oneLineLogger])), { disablePrettyLogger: true })
