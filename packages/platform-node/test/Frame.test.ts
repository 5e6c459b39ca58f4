import type { IpcError } from "@connection-pool/platform-node"
import { Frame } from "@connection-pool/platform-node"
import { assert, describe, it } from "@effect/vitest"

interface Decoded {
  readonly type: Frame.FrameType
  readonly id: number
  readonly payload: string
}

const collect = (decoder: Frame.Decoder, chunks: ReadonlyArray<Uint8Array>) => {
  const frames: Array<Decoded> = []
  let error: IpcError.ProtocolError | undefined
  for (const chunk of chunks) {
    error = decoder.push(chunk, (type, id, payload) => {
      frames.push({ type, id, payload: Buffer.from(payload).toString("latin1") })
    })
    if (error !== undefined) break
  }
  return { frames, error }
}

const frame = (type: Frame.FrameType, id: number, payload: string) =>
  Frame.encode(type, id, Buffer.from(payload, "latin1"))

const concat = (...parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts)

describe("Frame", () => {
  it("lays out length, magic, type, id and payload as documented", () => {
    const encoded = frame(Frame.FrameType.Request, 0x01020304, "hi")
    assert.deepStrictEqual(Array.from(encoded), [0, 0, 0, 2, 0xec, 1, 1, 2, 3, 4, 0x68, 0x69])
    assert.strictEqual(Frame.HEADER_SIZE, 10)
    assert.strictEqual(Frame.DEFAULT_MAX_FRAME_SIZE, 16 * 1024 * 1024)
  })

  it("decodes frames coalesced in one chunk, in order", () => {
    const { error, frames } = collect(Frame.makeDecoder(), [
      concat(
        frame(Frame.FrameType.Reply, 1, "one"),
        frame(Frame.FrameType.Pong, 2, ""),
        frame(Frame.FrameType.Error, 0xffffffff, "three")
      )
    ])
    assert.isUndefined(error)
    assert.deepStrictEqual(frames, [
      { type: Frame.FrameType.Reply, id: 1, payload: "one" },
      { type: Frame.FrameType.Pong, id: 2, payload: "" },
      { type: Frame.FrameType.Error, id: 0xffffffff, payload: "three" }
    ])
  })

  it("decodes frames split at every byte", () => {
    const stream = concat(frame(Frame.FrameType.Reply, 7, "split me"), frame(Frame.FrameType.Reply, 8, "and me"))
    const decoder = Frame.makeDecoder()
    const { error, frames } = collect(decoder, Array.from(stream, (byte) => Uint8Array.of(byte)))
    assert.isUndefined(error)
    assert.deepStrictEqual(frames, [
      { type: Frame.FrameType.Reply, id: 7, payload: "split me" },
      { type: Frame.FrameType.Reply, id: 8, payload: "and me" }
    ])
    assert.strictEqual(decoder.bufferedBytes, 0)
    assert.isUndefined(decoder.end())
  })

  it("decodes a large frame arriving in many chunks", () => {
    const payload = Buffer.alloc(3 * 1024 * 1024)
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff
    const encoded = Frame.encode(Frame.FrameType.Reply, 9, payload)
    const chunks: Array<Uint8Array> = []
    for (let offset = 0; offset < encoded.length; offset += 65536) chunks.push(encoded.subarray(offset, offset + 65536))
    let received: Uint8Array | undefined
    const decoder = Frame.makeDecoder()
    for (const chunk of chunks) {
      assert.isUndefined(decoder.push(chunk, (_type, _id, body) => {
        received = body
      }))
    }
    assert.isDefined(received)
    assert.isTrue(Buffer.from(received!).equals(payload))
  })

  it("refuses a bad magic byte as a malformed frame", () => {
    const { error } = collect(Frame.makeDecoder(), [Buffer.from("HTTP/1.1 400 Bad Request\r\n")])
    assert.strictEqual(error?._tag, "ProtocolError")
    assert.strictEqual(error?.reason, "MalformedFrame")
    assert.strictEqual(error?.direction, "receive")
  })

  it("refuses an unknown frame type as a malformed frame", () => {
    const bad = frame(Frame.FrameType.Reply, 1, "x")
    bad[5] = 42
    const { error } = collect(Frame.makeDecoder(), [bad])
    assert.strictEqual(error?.reason, "MalformedFrame")
    assert.include(error?.message, "unknown frame type 42")
  })

  it("refuses a frame above the limit from its header, before the body arrives", () => {
    const header = frame(Frame.FrameType.Reply, 1, "x".repeat(101)).subarray(0, Frame.HEADER_SIZE)
    const { error, frames } = collect(Frame.makeDecoder(100), [header.subarray(0, 3), header.subarray(3, 6)])
    assert.deepStrictEqual(frames, [])
    assert.strictEqual(error?.reason, "FrameTooLarge")
    assert.strictEqual(error?.size, 101)
    assert.strictEqual(error?.limit, 100)
  })

  it("accepts a frame exactly at the limit", () => {
    const { error, frames } = collect(Frame.makeDecoder(100), [frame(Frame.FrameType.Reply, 1, "x".repeat(100))])
    assert.isUndefined(error)
    assert.strictEqual(frames[0]?.payload.length, 100)
  })

  it("reports a stream that ends inside a frame as truncated", () => {
    const encoded = frame(Frame.FrameType.Reply, 3, "cut short")
    const decoder = Frame.makeDecoder()
    assert.isUndefined(decoder.push(encoded.subarray(0, 14), () => assert.fail("no whole frame was sent")))
    const error = decoder.end()
    assert.strictEqual(error?._tag, "ProtocolError")
    assert.strictEqual(error?.reason, "TruncatedFrame")
  })

  it("names every error frame code", () => {
    assert.deepStrictEqual(Frame.ErrorCode, {
      HandlerFailed: 1,
      HandlerDefect: 2,
      ReplyTooLarge: 3,
      ProtocolViolation: 4,
      Unauthorized: 5
    })
  })
})
