import { Frame, IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { Decoder } from "../src/internal/frame.js"
import { rawClient, requestFrame } from "./rawClient.js"
import { bytes, tempSocketPath, text } from "./utils.js"

const noFrame: Frame.FrameHandler = () => assert.fail("no frame is complete yet")

describe("decoder buffering", () => {
  it("costs about one byte per byte received in 1-byte chunks, and a header alone reserves nothing", () => {
    const decoder = new Decoder(16 * 1024 * 1024)
    // A header announcing 16 MiB - 1: a slow sender must not make the decoder reserve what it announces.
    assert.isUndefined(decoder.push(
      Frame.encode(Frame.FrameType.Request, 1, new Uint8Array(0)).fill(0xff, 0, 4)
        .fill(0x00, 0, 1),
      noFrame
    ))
    assert.isAtMost(decoder.retainedBytes, Frame.HEADER_SIZE)
    for (let i = 0; i < 50_000; i++) {
      assert.isUndefined(decoder.push(Buffer.from([i & 0xff]), noFrame))
      if (i % 997 === 0) assert.isAtMost(decoder.retainedBytes, 2 * decoder.bufferedBytes + 4096, `after ${i} bytes`)
    }
    assert.strictEqual(decoder.bufferedBytes, Frame.HEADER_SIZE + 50_000)
    assert.isAtMost(decoder.retainedBytes, 2 * decoder.bufferedBytes)
  })

  it("delivers a frame sent one byte at a time, intact, and payloads handed out are never overwritten", () => {
    const decoder = new Decoder(1024 * 1024)
    const payloads = [Buffer.alloc(10_000, 0x61), Buffer.alloc(3, 0x62), Buffer.alloc(0), Buffer.alloc(70_000, 0x63)]
    const stream = Buffer.concat(payloads.map((payload, i) => Frame.encode(Frame.FrameType.Request, i + 1, payload)))
    const received: Array<{ id: number; payload: Uint8Array }> = []
    for (let i = 0; i < stream.length; i++) {
      assert.isUndefined(
        decoder.push(stream.subarray(i, i + 1), (_type, id, payload) => received.push({ id, payload }))
      )
    }
    assert.deepStrictEqual(received.map(({ id }) => id), [1, 2, 3, 4])
    received.forEach(({ payload }, i) => assert.isTrue(Buffer.from(payload).equals(payloads[i]!), `payload ${i + 1}`))
    assert.strictEqual(decoder.retainedBytes, 0)
  })

  it.scopedLive("a server fed one byte per write answers correctly, and holds the partial frame in one buffer", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("one-byte")
      const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
      const client = yield* rawClient({ path })
      const frame = requestFrame(9, bytes("sent a byte at a time"))
      for (const byte of frame) {
        client.socket.write(Uint8Array.of(byte))
        yield* Effect.sleep("1 millis")
      }
      yield* eventually(() => client.frames.length === 1, "the reply", "3 seconds")
      assert.strictEqual(client.frames[0]!.id, 9)
      assert.strictEqual(text(client.frames[0]!.payload), "sent a byte at a time")
      // And the connection goes on as a normal one.
      const connection = yield* IpcConnection.connect({ path })
      assert.strictEqual(text(yield* connection.request(bytes("next")).pipe(within("2 seconds", "reply"))), "next")
      assert.strictEqual((yield* server.stats).requests, 2)
    }))
})
