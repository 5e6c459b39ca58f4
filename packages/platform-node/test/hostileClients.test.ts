import { Frame, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { rawClient } from "./rawClient.js"
import { tempSocketPath, text } from "./utils.js"

describe("IpcServer against careless or hostile clients", () => {
  describe("a protocol violation", () => {
    it.scopedLive("is answered with an error frame, then the socket is destroyed while the client keeps writing", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("violation")
        const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        // Half-open allowed: the client does not close its side when the server ends its own, and keeps writing.
        const client = yield* rawClient({ path }, { allowHalfOpen: true })
        client.socket.write("GET / HTTP/1.1\r\n\r\n")
        // Wait for the error frame before writing more: a write that fails once the server is gone makes Node
        // destroy the client's socket before it has read what arrived.
        yield* eventually(() => client.frames.length > 0, "the error frame", "2 seconds")
        const writer = setInterval(() => client.socket.writable && client.socket.write("more bytes"), 10)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(writer)))

        yield* Deferred.await(client.closed).pipe(within("3 seconds", "the server to destroy the connection"))
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("1 second", "the server to drop it"))
        assert.strictEqual(client.frames.length, 1)
        const [frame] = client.frames
        assert.strictEqual(frame!.type, Frame.FrameType.Error)
        assert.strictEqual(frame!.id, 0)
        assert.strictEqual(frame!.payload[0], Frame.ErrorCode.ProtocolViolation)
        assert.include(text(frame!.payload.subarray(1)), "bad magic byte")
        assert.strictEqual((yield* server.stats).closed.ProtocolViolation, 1)
      }))

    it.scopedLive("from a client that never reads is still closed, within the flush bound", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("violation-unread")
        const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        const client = yield* rawClient({ path }, { allowHalfOpen: true, read: false })
        client.socket.write(Buffer.alloc(16, 0x41))
        // The client reads nothing, so it cannot see the close: the server's side says it.
        yield* eventually(
          () => Effect.map(server.stats, (stats) => stats.open === 0 && stats.closed.ProtocolViolation === 1),
          "the violation to be counted and the connection gone",
          "3 seconds"
        )
      }))
  })
})
