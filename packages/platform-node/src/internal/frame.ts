import type * as Frame from "../Frame.js"
import { ProtocolError } from "../IpcError.js"

/** The values of the public `Frame.FrameType`, whose type (and meaning) is declared there. */
export const FrameType: typeof Frame.FrameType = {
  Request: 1,
  Reply: 2,
  Ping: 3,
  Pong: 4,
  Error: 5
}

/** `Frame.FrameType`, named here too so that the constant and its type read as one name inside the package. */
export type FrameType = Frame.FrameType

export const MAGIC = 0xec
export const HEADER_SIZE = 10
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024
/** The payload length is a uint32. */
export const FRAME_SIZE_LIMIT = 0xffff_ffff

/** Payloads above this size are written as header + payload under `cork` instead of being copied into one buffer. */
export const COPY_LIMIT = 64 * 1024

const EMPTY = new Uint8Array(0)
export const emptyPayload: Uint8Array = EMPTY

export const encodeHeader = (type: FrameType, id: number, length: number): Buffer => {
  const header = Buffer.allocUnsafe(HEADER_SIZE)
  writeHeader(header, type, id, length)
  return header
}

const writeHeader = (target: Buffer, type: FrameType, id: number, length: number): void => {
  target.writeUInt32BE(length, 0)
  target[4] = MAGIC
  target[5] = type
  target.writeUInt32BE(id, 6)
}

/** Writes one frame: copied into one buffer when small, header and payload under `cork` when large. */
export const writeFrame = (
  socket: { write(chunk: Uint8Array): boolean; cork(): void; uncork(): void },
  type: FrameType,
  id: number,
  payload: Uint8Array
): void => {
  if (payload.length <= COPY_LIMIT) {
    socket.write(encode(type, id, payload))
  } else {
    socket.cork()
    socket.write(encodeHeader(type, id, payload.length))
    socket.write(payload)
    socket.uncork()
  }
}

export const encode = (type: FrameType, id: number, payload: Uint8Array): Buffer => {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length)
  writeHeader(frame, type, id, payload.length)
  frame.set(payload, HEADER_SIZE)
  return frame
}

const readUInt32 = (data: Uint8Array, offset: number): number =>
  data[offset]! * 0x100_0000 + ((data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!)

const isFrameType = (type: number): type is FrameType => type >= FrameType.Request && type <= FrameType.Error

/**
 * An incremental frame decoder. Bytes arrive in chunks of any size; whole frames are handed to the callback
 * in order, payloads as views into the received chunks (no copy unless a frame spans chunks).
 *
 * Partial input is kept as a list of chunks and joined once, when enough has arrived for the next header or
 * the whole frame: joining on every chunk would make a large frame cost quadratic copying.
 */
export class Decoder implements Frame.Decoder {
  private chunks: Array<Uint8Array> = []
  private buffered = 0
  /** Bytes needed before the next frame can make progress: a header, or the whole frame once the header is known. */
  private needed = HEADER_SIZE

  constructor(readonly maxFrameSize: number) {}

  get bufferedBytes(): number {
    return this.buffered
  }

  /** Decodes what `input` completes; returns the error that makes the stream undecodable, if any. */
  push(input: Uint8Array, onFrame: Frame.FrameHandler): ProtocolError | undefined {
    let data: Uint8Array
    if (this.buffered === 0) {
      data = input
    } else {
      this.chunks.push(input)
      this.buffered += input.length
      if (this.buffered < this.needed) {
        // The header may already be complete enough to reject the frame before its body arrives.
        return this.needed === HEADER_SIZE ? this.checkPartialHeader() : undefined
      }
      data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
      this.chunks = []
      this.buffered = 0
    }
    let offset = 0
    while (true) {
      const available = data.length - offset
      if (available === 0) {
        this.needed = HEADER_SIZE
        return undefined
      }
      const error = checkHeader(data, offset, available, this.maxFrameSize)
      if (error !== undefined) return error
      if (available < HEADER_SIZE) {
        this.needed = HEADER_SIZE
        break
      }
      const total = HEADER_SIZE + readUInt32(data, offset)
      if (available < total) {
        this.needed = total
        break
      }
      onFrame(
        data[offset + 5] as FrameType,
        readUInt32(data, offset + 6),
        data.subarray(offset + HEADER_SIZE, offset + total)
      )
      offset += total
    }
    const rest = offset === 0 ? data : data.subarray(offset)
    this.chunks = [rest]
    this.buffered = rest.length
    return undefined
  }

  /** The stream ended: anything buffered is a frame cut short. */
  end(): ProtocolError | undefined {
    if (this.buffered === 0) return undefined
    return new ProtocolError({
      reason: "TruncatedFrame",
      direction: "receive",
      detail: `the stream ended ${this.buffered} byte(s) into a frame of ${
        this.needed === HEADER_SIZE ? "unknown size" : `${this.needed} bytes`
      }`
    })
  }

  private checkPartialHeader(): ProtocolError | undefined {
    if (this.buffered < 6) return undefined
    const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
    this.chunks = [head]
    return checkHeader(head, 0, head.length, this.maxFrameSize)
  }
}

/**
 * Rejects a header as soon as its first 6 bytes are in: the magic byte and the type come before the length is
 * trusted, so that stray bytes (text, another protocol) read as malformed rather than as a huge frame.
 */
const checkHeader = (
  data: Uint8Array,
  offset: number,
  available: number,
  maxFrameSize: number
): ProtocolError | undefined => {
  if (available < 6) return undefined
  if (data[offset + 4] !== MAGIC) {
    return new ProtocolError({
      reason: "MalformedFrame",
      direction: "receive",
      detail: `bad magic byte 0x${data[offset + 4]!.toString(16).padStart(2, "0")} (expected 0x${MAGIC.toString(16)})`
    })
  }
  const type = data[offset + 5]!
  if (!isFrameType(type)) {
    return new ProtocolError({ reason: "MalformedFrame", direction: "receive", detail: `unknown frame type ${type}` })
  }
  const length = readUInt32(data, offset)
  if (length > maxFrameSize) {
    return new ProtocolError({
      reason: "FrameTooLarge",
      direction: "receive",
      size: length,
      limit: maxFrameSize,
      detail: `a frame of ${length} bytes exceeds the limit of ${maxFrameSize}`
    })
  }
  return undefined
}

export const frameTooLargeToSend = (size: number, limit: number): ProtocolError =>
  new ProtocolError({
    reason: "FrameTooLarge",
    direction: "send",
    size,
    limit,
    detail: `a payload of ${size} bytes exceeds the limit of ${limit}; nothing was sent`
  })

// ---- error frames ------------------------------------------------------------------------------------------------

/** The first byte of an error frame's payload; the rest is a UTF-8 message. Its type is declared in `Frame`. */
export const ErrorCode: typeof Frame.ErrorCode = {
  HandlerFailed: 1,
  HandlerDefect: 2,
  ReplyTooLarge: 3,
  ProtocolViolation: 4
}

export type ErrorCode = keyof typeof ErrorCode

const errorCodeNames: ReadonlyArray<ErrorCode | undefined> = [
  undefined,
  "HandlerFailed",
  "HandlerDefect",
  "ReplyTooLarge",
  "ProtocolViolation"
]

export const encodeErrorPayload = (code: ErrorCode, message: string, maxFrameSize: number): Uint8Array => {
  const text = Buffer.from(message, "utf8")
  const length = Math.min(text.length, Math.max(0, maxFrameSize - 1))
  const payload = Buffer.allocUnsafe(1 + length)
  payload[0] = ErrorCode[code]
  text.copy(payload, 1, 0, length)
  return payload
}

export const decodeErrorPayload = (payload: Uint8Array): { readonly code: ErrorCode; readonly message: string } => ({
  code: (payload.length > 0 ? errorCodeNames[payload[0]!] : undefined) ?? "HandlerFailed",
  message: payload.length > 1
    ? Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString("utf8")
    : ""
})
