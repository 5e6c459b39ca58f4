import { IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { rawClient, requestFrame } from "./rawClient.js"
import { bytes, tempSocketPath, text } from "./utils.js"

const MiB = 1024 * 1024

describe("IpcServer write backpressure", () => {
  it.scopedLive("a client that sends 1 MiB echo requests and never reads: the server stops reading it, its queued bytes stay bounded", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("no-read")
      const server = yield* IpcServer.make({
        path,
        handler: IpcServer.echoHandler,
        writeHighWaterMark: 256 * 1024,
        maxFrameSize: 2 * MiB,
        maxQueuedBytes: 8 * MiB
      })
      const client = yield* rawClient({ path }, { read: false })
      const sent = 48
      for (let i = 1; i <= sent; i++) client.socket.write(requestFrame(i, new Uint8Array(MiB).fill(i)))
      yield* eventually(
        () => Effect.map(server.stats, (stats) => stats.backpressurePauses >= 1),
        "a pause",
        "5 seconds"
      )
      // Give the server time to read on if it were going to: it must not.
      yield* Effect.sleep("300 millis")
      const stats = yield* server.stats
      assert.isBelow(stats.requests, sent, "the server stopped reading the requests it cannot answer")
      assert.isAtMost(stats.peakQueuedBytes, 8 * MiB)
      assert.isAtMost(stats.queuedBytes, 8 * MiB)
      assert.strictEqual(stats.open, 1)
      assert.strictEqual(stats.closed.WriteQueueFull, 0)
      // Others are served meanwhile.
      const other = yield* IpcConnection.connect({ path })
      assert.strictEqual(text(yield* other.request(bytes("hello")).pipe(within("2 seconds", "reply"))), "hello")

      // Once the client reads, the queue drains and the server reads its remaining requests: all are answered.
      let received = 0
      client.socket.on("data", (chunk: Buffer) => {
        received += chunk.length
      })
      client.socket.resume()
      const expected = sent * (10 + MiB)
      yield* eventually(() => received === expected, `all ${sent} replies`, "10 seconds")
      assert.strictEqual((yield* server.stats).requests, sent + 1)
    }))

  it.scopedLive("replies already under way past maxQueuedBytes close the connection as WriteQueueFull", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("queue-full")
      const server = yield* IpcServer.make({
        path,
        handler: () => Effect.succeed(new Uint8Array(MiB)),
        writeHighWaterMark: 64 * 1024,
        maxFrameSize: MiB,
        maxQueuedBytes: 4 * MiB
      })
      const client = yield* rawClient({ path }, { read: false })
      // Fifty small requests in one write: all are read at once, before any pause can help; their replies are not.
      client.socket.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => requestFrame(i + 1, bytes("big")))))
      yield* eventually(
        () => Effect.map(server.stats, (stats) => stats.closed.WriteQueueFull === 1 && stats.open === 0),
        "the connection closed as WriteQueueFull",
        "5 seconds"
      )
      const stats = yield* server.stats
      assert.isAtMost(stats.peakQueuedBytes, 4 * MiB)
      assert.strictEqual(stats.queuedBytes, 0)
    }))

  it.effect("writeHighWaterMark and maxQueuedBytes are validated, naming the field", () =>
    Effect.gen(function*() {
      const bad = (options: Partial<IpcServer.Options>) =>
        Effect.flip(IpcServer.make({ port: 0, handler: IpcServer.echoHandler, ...options })).pipe(Effect.scoped)
      const zero = yield* bad({ writeHighWaterMark: 0 })
      assert.deepStrictEqual(zero._tag === "InvalidIpcOptions" && zero.fields, ["writeHighWaterMark"])
      const belowFrame = yield* bad({ maxFrameSize: 1024, maxQueuedBytes: 1000 })
      assert.deepStrictEqual(belowFrame._tag === "InvalidIpcOptions" && belowFrame.fields, ["maxQueuedBytes"])
      const belowMark = yield* bad({ writeHighWaterMark: 4096, maxFrameSize: 100, maxQueuedBytes: 4000 })
      assert.deepStrictEqual(belowMark._tag === "InvalidIpcOptions" && belowMark.fields, ["maxQueuedBytes"])
      assert.include(belowMark.message, "at least writeHighWaterMark")
    }))
})
