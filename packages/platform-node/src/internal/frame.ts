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

/**
 * Writes one frame: copied into one buffer when small, header and payload under `cork` when large. Returns what
 * the socket's `write` did: false once its buffer is above its high-water mark (wait for `drain`).
 */
export const writeFrame = (
  socket: { write(chunk: Uint8Array): boolean; cork(): void; uncork(): void },
  type: FrameType,
  id: number,
  payload: Uint8Array
): boolean => {
  if (payload.length <= COPY_LIMIT) return socket.write(encode(type, id, payload))
  socket.cork()
  socket.write(encodeHeader(type, id, payload.length))
  const below = socket.write(payload)
  socket.uncork()
  return below
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

/** The smallest buffer a partial frame's body starts in (a header alone takes its 10 bytes). */
const MIN_PARTIAL_CAPACITY = 4096

/**
 * An incremental frame decoder. Bytes arrive in chunks of any size; whole frames are handed to the callback
 * in order, payloads as views into the received chunks (no copy unless a frame spans chunks).
 *
 * A frame that spans chunks is copied into one buffer that grows as its bytes arrive, to at most twice what
 * has arrived (and never beyond the frame's size): buffering costs about one byte per byte received, whatever
 * the chunk size, and a header alone never reserves the size it announces. Growing by doubling keeps a large
 * frame's copying linear. A buffer that has delivered a frame is never written again (the payload handed out is
 * a view into it).
 */
export class Decoder implements Frame.Decoder {
  private pending: Buffer | undefined = undefined
  private buffered = 0
  /** Bytes needed before the next frame can make progress: a header, or the whole frame once the header is known. */
  private needed = HEADER_SIZE

  constructor(readonly maxFrameSize: number) {}

  get bufferedBytes(): number {
    return this.buffered
  }

  /** The bytes held for the partial frame, spare capacity included. */
  get retainedBytes(): number {
    return this.pending === undefined ? 0 : this.pending.length
  }

  /** Decodes what `input` completes; returns the error that makes the stream undecodable, if any. */
  push(input: Uint8Array, onFrame: Frame.FrameHandler): ProtocolError | undefined {
    let offset = 0
    if (this.buffered > 0) {
      // Complete the partial frame from the front of `input`, copying no more than it needs.
      while (true) {
        const take = Math.min(this.needed - this.buffered, input.length - offset)
        this.append(input, offset, take)
        offset += take
        if (this.buffered < this.needed) {
          // The header may already be complete enough to reject the frame before its body arrives.
          return this.needed === HEADER_SIZE
            ? checkHeader(this.pending!, 0, this.buffered, this.maxFrameSize)
            : undefined
        }
        if (this.needed !== HEADER_SIZE) break
        const error = checkHeader(this.pending!, 0, HEADER_SIZE, this.maxFrameSize)
        if (error !== undefined) return error
        const total = HEADER_SIZE + readUInt32(this.pending!, 0)
        if (total === HEADER_SIZE) break
        this.needed = total
      }
      const frame = this.pending!
      const total = this.buffered
      this.pending = undefined
      this.buffered = 0
      this.needed = HEADER_SIZE
      onFrame(frame[5] as FrameType, readUInt32(frame, 6), frame.subarray(HEADER_SIZE, total))
    }
    while (true) {
      const available = input.length - offset
      if (available === 0) return undefined
      const error = checkHeader(input, offset, available, this.maxFrameSize)
      if (error !== undefined) return error
      if (available < HEADER_SIZE) break
      const total = HEADER_SIZE + readUInt32(input, offset)
      if (available < total) {
        this.needed = total
        break
      }
      onFrame(
        input[offset + 5] as FrameType,
        readUInt32(input, offset + 6),
        input.subarray(offset + HEADER_SIZE, offset + total)
      )
      offset += total
    }
    // A partial frame at the end: copied, so that the chunk it came in is not retained for its sake.
    this.append(input, offset, input.length - offset)
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

  private append(input: Uint8Array, offset: number, length: number): void {
    const required = this.buffered + length
    let pending = this.pending
    if (pending === undefined || pending.length < required) {
      // Up to the header, the header's size; then up to twice what has arrived, never beyond the frame.
      const capacity = required <= HEADER_SIZE
        ? HEADER_SIZE
        : Math.min(this.needed, Math.max(2 * required, MIN_PARTIAL_CAPACITY))
      const grown = Buffer.allocUnsafe(capacity)
      if (pending !== undefined) pending.copy(grown, 0, 0, this.buffered)
      this.pending = pending = grown
    }
    pending.set(input.subarray(offset, offset + length), this.buffered)
    this.buffered = required
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
  ProtocolViolation: 4,
  Unauthorized: 5
}

export type ErrorCode = keyof typeof ErrorCode

const errorCodeNames: ReadonlyArray<ErrorCode | undefined> = [
  undefined,
  "HandlerFailed",
  "HandlerDefect",
  "ReplyTooLarge",
  "ProtocolViolation",
  "Unauthorized"
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
