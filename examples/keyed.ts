/**
 * Keyed pool: one pool per socket path, for a program that talks to several workers (a daemon per shard, per
 * tenant, per GPU).
 *
 * Three IPC servers stand for the workers. A `KeyedConnectionPool` keyed by socket path makes each worker's pool
 * on first use, with at most 2 connections per worker and 5 across all of them (`maxTotal`). Jobs are routed to
 * their shard's worker by key; the program prints each key's stats and what each worker served. Then one worker
 * is left alone past `keyIdleTimeout`: its pool is closed and forgotten, and made again on the next job for it.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/keyed.ts
 */
import { Connector, KeyedConnectionPool } from "@connection-pool/core"
import { IpcAddress, IpcConnection, IpcError, IpcServer } from "@connection-pool/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Schedule } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const workerNames = ["worker-1", "worker-2", "worker-3"] as const

/** A worker answers `<name>: <job>` after a few milliseconds of work. */
const worker = (name: string) =>
  Effect.gen(function*() {
    const path = yield* IpcAddress.localPath(`connection-pool-keyed-${process.pid}-${name}`)
    const server = yield* IpcServer.make({
      path,
      handler: (payload) => Effect.as(Effect.sleep("3 millis"), encoder.encode(`${name}: ${decoder.decode(payload)}`))
    })
    return { name, path, server }
  })

/** How to reach the worker at `path`: an IPC connection, pinged as its health check. */
const connectorFor = (path: string) =>
  Connector.make({
    open: IpcConnection.connect({ path }),
    check: (connection) => connection.ping,
    isOpen: (connection) => connection.isOpen,
    isFault: IpcError.causeIsConnectionFault
  })

const program = Effect.gen(function*() {
  const workers = yield* Effect.all(workerNames.map(worker))
  const nameOf = (path: string) => workers.find((w) => w.path === path)?.name ?? path
  yield* Console.log(
    `${workers.length} workers listening: ${
      workers.map((w) => `${w.name} (${IpcAddress.format(w.server.address)})`).join(", ")
    }`
  )

  const pools = yield* KeyedConnectionPool.make(connectorFor, {
    name: "workers",
    keyName: (path) => `workers:${nameOf(path)}`,
    maxConnections: 2, // per worker
    maxTotal: 5, // across the workers: fewer than 3 x 2
    keyIdleTimeout: "1 second",
    openTimeout: "2 seconds"
  })

  /** Sends job `n` to its shard's worker, by key. */
  const job = (n: number) => {
    const path = workers[n % workers.length]!.path
    return pools.use(path, (connection) => connection.request(encoder.encode(`job ${n}`))).pipe(
      Effect.map((reply) => decoder.decode(reply)),
      Effect.retry({ schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered), times: 3 })
    )
  }

  // ---- 600 jobs from 30 fibers, routed by key --------------------------------------------------------------------
  let mostOpen = 0
  const sampler = yield* Effect.fork(
    Effect.repeat(
      Effect.map(pools.totalConnections, (open) => {
        mostOpen = Math.max(mostOpen, open)
      }),
      Schedule.spaced("5 millis")
    )
  )
  const replies = yield* Effect.forEach(Array.from({ length: 600 }, (_, n) => n), job, { concurrency: 30 })
  yield* Fiber.interrupt(sampler)
  const misrouted = replies.filter((reply, n) => reply !== `${workerNames[n % workerNames.length]}: job ${n}`)
  yield* Console.log(`600 jobs from 30 fibers: ${600 - misrouted.length} answered by their own worker`)
  yield* Console.log(
    `at most ${mostOpen} connections open at once across the workers (maxTotal 5; maxConnections 2 per worker)`
  )

  const table = Effect.gen(function*() {
    const rows = [["key", "open", "in use", "created", "closed", "served", "peak open"]]
    for (const [path, stats] of yield* pools.stats) {
      const served = yield* workers.find((w) => w.path === path)!.server.stats
      rows.push([stats.name, stats.total, stats.inUse, stats.created, stats.closed, served.requests, served.peakOpen]
        .map(String))
    }
    return rows.map((row) => `  ${row[0]!.padEnd(18)}${row.slice(1).map((cell) => cell.padStart(10)).join("")}`)
      .join("\n")
  })
  yield* Console.log(`per key (served and peak open as each worker counts them):\n${yield* table}`)

  // ---- one worker left idle past keyIdleTimeout ------------------------------------------------------------------
  const [first, second, third] = workers
  yield* Console.log(`for 1.5 s only ${first!.name} and ${second!.name} get jobs; ${third!.name} is left idle...`)
  const deadline = Date.now() + 1500
  const keepBusy = (path: string) =>
    Effect.gen(function*() {
      for (let n = 0; Date.now() < deadline; n++) {
        yield* pools.use(path, (connection) => connection.request(encoder.encode(`job ${n}`)))
        yield* Effect.sleep("10 millis")
      }
    })
  yield* Effect.all([keepBusy(first!.path), keepBusy(second!.path)], { concurrency: 2 })
  // The key was due to close 1 second after its last job; allow its close a moment to finish.
  yield* Effect.repeat(pools.keys, {
    until: (keys) => !keys.includes(third!.path),
    schedule: Schedule.spaced("10 millis")
  }).pipe(Effect.timeout("2 seconds"), Effect.ignore)
  const keys = (yield* pools.keys).map(nameOf)
  const closedOnServer = third!.server.awaitOpenConnections((open) => open === 0).pipe(
    Effect.timeout("2 seconds"),
    Effect.orElse(() => third!.server.openConnections)
  )
  yield* Console.log(
    keys.includes(third!.name)
      ? `keys now: ${keys.join(", ")}; ${third!.name}'s pool is still open`
      : `keys now: ${keys.join(", ")}; ${third!.name}'s pool was closed and forgotten ` +
        `(its server has ${yield* closedOnServer} connections open)`
  )

  const again = yield* job(2)
  const remade = (yield* pools.stats).find(([path]) => path === third!.path)![1]
  yield* Console.log(
    `one more job for ${third!.name}: "${again}", on a new pool for its key (created ${remade.created}, ` +
      `keys: ${(yield* pools.keys).map(nameOf).join(", ")})`
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
