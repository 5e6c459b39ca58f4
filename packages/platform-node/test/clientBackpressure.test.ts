import { Frame, IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { fork, poll, soleFailure } from "@connection-pool/test-kit/internal/edge/effect"
import { callback, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import * as net from "node:net"
import { bytes, tempSocketPath, text } from "./utils.js"

/**
 * A server that accepts connections and reads nothing until `startReading`; then it answers every request with
 * its own payload.
 */
const stalledServer = (path: string) =>
  Effect.acquireRelease(
    callback<{ readonly server: net.Server; readonly sockets: Array<net.Socket> }>((resume) => {
      const sockets: Array<net.Socket> = []
      const server = net.createServer((socket) => {
        socket.pause()
        socket.on("error", () => {})
        sockets.push(socket)
      })
      server.listen(path, () => resume(Exit.succeed({ server, sockets })))
    }),
    ({ server, sockets }) =>
      callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Exit.void))
      })
  ).pipe(Effect.map(({ sockets }) => ({
    sockets,
    startReading: () => {
      for (const socket of sockets) {
        const decoder = Frame.makeDecoder()
        socket.on("data", (chunk: Buffer) =>
          decoder.push(chunk, (type, id, payload) => {
            if (type === Frame.FrameType.Request) socket.write(Frame.encode(Frame.FrameType.Reply, id, payload))
          }))
        socket.resume()
      }
    }
  })))

const payloadSize = 64 * 1024
const requests = 2_000

describe("IpcConnection write backpressure", () => {
  it.scopedLive("a server that stops reading: requests wait for drain instead of queueing (2,000 x 64 KiB), and resume when it reads", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("client-backpressure")
      const server = yield* stalledServer(path)
      const connection = yield* IpcConnection.connect({ path })
      const payload = new Uint8Array(payloadSize).fill(7)
      const before = process.memoryUsage().arrayBuffers
      // Forked from the test's own fiber, one after another (forking is instant): a fiber forked inside a worker of
      // a concurrent forEach is interrupted when that worker ends, in Effect 4.
      const fibers = yield* Effect.forEach(
        Array.from({ length: requests }),
        () => fork(connection.request(payload))
      )
      yield* eventually(() => connection.pendingRequests === requests, "every request to be pending")
      yield* Effect.sleep("100 millis")
      // Without backpressure every frame is copied into the socket's buffer: 2,000 x 64 KiB = 125 MiB.
      const grown = process.memoryUsage().arrayBuffers - before
      assert.isBelow(grown, 16 * 1024 * 1024, `buffers grew by ${grown} bytes`)
      assert.isTrue(connection.isOpen)
      // The server reads again: every request is sent and answered, in full.
      server.startReading()
      const replies = yield* Fiber.joinAll(fibers).pipe(
        Effect.andThen(Effect.forEach(fibers, Fiber.join)),
        within("30 seconds", "every reply")
      )
      assert.strictEqual(replies.length, requests)
      assert.isTrue(replies.every((reply) => reply.length === payloadSize && reply[0] === 7))
      assert.strictEqual(connection.pendingRequests, 0)
    }))

  it.scopedLive("a request interrupted while it waits for drain leaves nothing behind: the connection stays open", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("client-backpressure-interrupt")
      const server = yield* stalledServer(path)
      const connection = yield* IpcConnection.connect({ path })
      const payload = new Uint8Array(payloadSize).fill(1)
      // Fill the socket until requests start waiting.
      const sent = yield* Effect.forEach(Array.from({ length: 200 }), () => fork(connection.request(payload)))
      yield* eventually(() => connection.pendingRequests === 200, "the requests to be pending")
      const waiting = yield* Effect.forEach(Array.from({ length: 50 }), () => fork(connection.request(payload)))
      yield* eventually(() => connection.pendingRequests === 250, "the waiters to be pending")
      yield* Fiber.interruptAll(waiting).pipe(within("2 seconds", "the waiters to stop"))
      // Never sent, so nothing to abandon: the connection is intact and the first 200 are still pending.
      assert.isTrue(connection.isOpen)
      assert.strictEqual(connection.pendingRequests, 200)
      server.startReading()
      yield* Effect.forEach(sent, Fiber.join).pipe(within("10 seconds", "the sent requests' replies"))
      const reply = yield* connection.request(bytes("after")).pipe(within("2 seconds", "one more"))
      assert.strictEqual(text(reply), "after")
    }))

  it.scopedLive("requests waiting for drain on a server that never reads end with ReplyTimeout, bounded by requestTimeout", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("client-backpressure-timeout")
      yield* stalledServer(path)
      const connection = yield* IpcConnection.connect({ path, requestTimeout: "300 millis" })
      const payload = new Uint8Array(payloadSize)
      const exits = yield* Effect.forEach(
        Array.from({ length: 300 }),
        () => Effect.exit(connection.request(payload)),
        { concurrency: "unbounded" }
      ).pipe(within("5 seconds", "every request to end"))
      const reasons = new Set(
        exits.map((exit) =>
          Exit.isFailure(exit) && soleFailure(exit.cause) !== undefined
            ? `${soleFailure(exit.cause)!._tag}:${soleFailure(exit.cause)!.reason}`
            : "?"
        )
      )
      assert.deepStrictEqual([...reasons], ["ProtocolError:ReplyTimeout"])
      assert.isFalse(connection.isOpen)
    }))
})

describe("IpcServer handles one connection's requests concurrently", () => {
  it.scopedLive("a fast request sent after a slow one on the same connection is answered first", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("out-of-order")
      const release = yield* Deferred.make<void>()
      const server = yield* IpcServer.make({
        path,
        handler: (payload) =>
          text(payload) === "slow" ? Effect.as(Deferred.await(release), payload) : Effect.succeed(payload)
      })
      const connection = yield* IpcConnection.connect({ path })
      const slow = yield* fork(connection.request(bytes("slow")))
      yield* eventually(() => Effect.map(server.stats, (stats) => stats.requests === 1), "the slow request to start")
      const fast = yield* connection.request(bytes("fast")).pipe(within("2 seconds", "the fast reply"))
      assert.strictEqual(text(fast), "fast")
      // The slow one is still being handled: its reply comes after, on the same connection.
      assert.isTrue(Option.isNone(yield* poll(slow)))
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(text(yield* Fiber.join(slow).pipe(within("2 seconds", "the slow reply"))), "slow")
    }))
})
