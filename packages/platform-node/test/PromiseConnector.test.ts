import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { callback, intersectSchedules, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as net from "node:net"

// Core's Connector.fromPromise over a real TCP socket: a client written with plain promises, as a user
// would wrap a Node client, against a line echo server in this process.

/** Resolves once connected; rejects with the socket's error (ECONNREFUSED, ...). */
const connectSocket = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("error", reject)
    socket.once("connect", () => {
      socket.off("error", reject)
      // An idle socket the server resets must not crash the process; isOpen reports it.
      socket.on("error", () => {})
      resolve(socket)
    })
  })

const request = (socket: net.Socket, text: string) =>
  new Promise<string>((resolve, reject) => {
    socket.once("data", (data) => resolve(data.toString()))
    socket.once("close", () => reject(Object.assign(new Error("socket closed"), { code: "ECONNRESET" })))
    socket.write(text)
  })

const socketConnector = (port: number) =>
  Connector.fromPromise({
    connect: () => connectSocket(port),
    close: (socket) => new Promise<void>((resolve) => socket.end(resolve)),
    isOpen: (socket) => !socket.destroyed && socket.readyState === "open",
    isFault: (error) => error instanceof Error && "code" in error && error.code === "ECONNRESET"
  })

/** A line echo server on a free port, closed with the scope; it keeps its sockets to drop them on demand. */
const echoServer = Effect.acquireRelease(
  callback<{ readonly server: net.Server; readonly port: number; readonly sockets: Set<net.Socket> }>(
    (resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        socket.on("data", (data) => socket.write(data))
      })
      server.listen(
        0,
        "127.0.0.1",
        () => resume(Effect.succeed({ server, port: (server.address() as net.AddressInfo).port, sockets }))
      )
    }
  ),
  ({ server, sockets }) =>
    callback<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

/** A port nothing listens on: bound once, then released. */
const freePort = callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Polls with the real clock until `condition` holds, for at most 5 seconds. */
const waitFor = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry(intersectSchedules(Schedule.spaced("10 millis"), Schedule.recurs(500))),
    Effect.mapError(() => new Error(`condition not reached within 5 s: ${condition.toString()}`)),
    Effect.orDie
  )

describe("Connector.fromPromise over a real socket", () => {
  it.scopedLive("requests go through pooled sockets, and closing the pool closes every socket", () =>
    Effect.gen(function*() {
      const { port, sockets } = yield* echoServer
      const replies = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* ConnectionPool.make(socketConnector(port), { maxConnections: 2 })
        return yield* Effect.forEach(
          ["a", "b", "c", "d"],
          (text) => pool.use((socket) => Effect.tryPromise(() => request(socket, text))),
          { concurrency: 4 }
        )
      })).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(replies, ["a", "b", "c", "d"])
      yield* waitFor(() => sockets.size === 0)
    }))

  it.scopedLive("a refused connection reaches the borrower as a ConnectionError with the socket's error", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const pool = yield* ConnectionPool.make(socketConnector(port), { name: "refused", maxConnections: 1 })
      const error = (yield* Effect.flip(pool.use(() => Effect.void)).pipe(
        Effect.timeout("5 seconds")
      )) as PoolError.ConnectionError
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error.reason, "OpenFailed")
      assert.strictEqual((error.cause as NodeJS.ErrnoException).code, "ECONNREFUSED")
    }))

  it.scopedLive("a socket the server dropped is retired, and the next borrow connects again", () =>
    Effect.gen(function*() {
      const { port, sockets } = yield* echoServer
      const pool = yield* ConnectionPool.make(socketConnector(port), { maxConnections: 1 })
      const first = yield* pool.use((socket) => Effect.succeed(socket.localPort))
      for (const socket of sockets) socket.destroy()
      const again = yield* pool.use((socket) => Effect.tryPromise(() => request(socket, "again"))).pipe(
        Effect.retry({ times: 3 }),
        Effect.timeout("5 seconds")
      )
      assert.strictEqual(again, "again")
      const second = yield* pool.use((socket) => Effect.succeed(socket.localPort))
      assert.notStrictEqual(second, first)
      assert.isAtLeast((yield* pool.stats).closed, 1)
    }))
})
