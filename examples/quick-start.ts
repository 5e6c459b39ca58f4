/**
 * Quick start: an IPC server, a pool of connections to it, and many fibers sending requests through the
 * pool. Then the server drops every connection, and the pool recovers on its own. Prints the pool's stats
 * as it goes.
 *
 *   npx --yes pnpm@10.34.8 start
 */
import { ConnectionPool } from "@connection-pool/core"
import { IpcAddress, IpcPool, IpcServer } from "@connection-pool/platform-node"
import { Effect, Schedule } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const program = Effect.gen(function*() {
  // A local daemon to talk to: an echo server on a Unix socket (a named pipe on Windows).
  const path = IpcAddress.localPath(`connection-pool-quick-start-${process.pid}`)
  const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
  yield* Effect.log(`server listening on ${IpcAddress.format(server.address)}`)

  // A pool of at most 4 connections to it, health-checked every 30 seconds.
  const pool = yield* IpcPool.make({ path }, { name: "quick-start", maxConnections: 4 })

  // 1,000 requests from 50 fibers, each borrowing a connection, sending, and returning it.
  const send = (i: number) =>
    pool.use((connection) => connection.request(encoder.encode(`hello ${i}`))).pipe(
      Effect.map((reply) => decoder.decode(reply) === `hello ${i}`)
    )
  const matched = yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), send, { concurrency: 50 })
  yield* Effect.log(`${matched.filter(Boolean).length} of 1000 replies matched their requests`)
  yield* Effect.log((yield* pool.stats).summary)

  // The server drops every connection. Requests that meet a dead connection fail with a typed error;
  // a retry policy composed around them makes them succeed on a fresh connection.
  const dropped = yield* server.closeConnections
  yield* Effect.log(`server dropped ${dropped} connection(s)`)
  const retried = yield* Effect.forEach(
    Array.from({ length: 100 }, (_, i) => i),
    (i) => send(i).pipe(Effect.retry({ schedule: Schedule.exponential("5 millis"), times: 3 })),
    { concurrency: 20 }
  )
  yield* Effect.log(`after the drop: ${retried.filter(Boolean).length} of 100 requests served`)

  const stats = yield* pool.stats
  yield* Effect.log(ConnectionPool.summary(stats))
}).pipe(Effect.scoped)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
