/**
 * The wire format: length-prefixed frames.
 *
 * ```text
 * offset  size  field
 * 0       4     payload length, uint32 big-endian (not counting this 10-byte header)
 * 4       1     magic byte 0xEC
 * 5       1     frame type: 1 request, 2 reply, 3 ping, 4 pong, 5 error
 * 6       4     request id, uint32 big-endian; a reply, pong or error carries the id it answers
 * 10      n     payload
 * ```
 *
 * An error frame's payload is one code byte (1 handler failed, 2 handler defect, 3 reply too large, 4 protocol
 * violation, 5 unauthorized) followed by a UTF-8 message; id 0 means the error concerns the whole connection: the
 * server stops reading it and destroys it once the frame is flushed.
 *
 * Request id 0 is reserved for authentication: a client of a server with a token (`IpcServer` option `auth`)
 * sends a request frame with id 0 whose payload is the token, as its first frame, and gets no reply to it. A server
 * without a token refuses a request with id 0 as a protocol violation, so that a token never reaches a handler.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/frame.js"
import type { ProtocolError } from "./IpcError.js"

/**
 * The frame types, as written in the type byte.
 *
 * @since 0.1.0
 * @category constants
 */
export const FrameType: {
  readonly Request: 1
  readonly Reply: 2
  readonly Ping: 3
  readonly Pong: 4
  readonly Error: 5
} = internal.FrameType

/**
 * A frame type: one of the values of {@link FrameType}.
 *
 * @since 0.1.0
 * @category models
 */
export type FrameType = typeof FrameType[keyof typeof FrameType]

/**
 * The error codes of an error frame, by name.
 *
 * @since 0.1.0
 * @category constants
 */
export const ErrorCode: {
  readonly HandlerFailed: 1
  readonly HandlerDefect: 2
  readonly ReplyTooLarge: 3
  readonly ProtocolViolation: 4
  readonly Unauthorized: 5
} = internal.ErrorCode

/**
 * The byte at offset 4 of every frame.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAGIC: number = internal.MAGIC

/**
 * The header's size in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEADER_SIZE: number = internal.HEADER_SIZE

/**
 * The default `maxFrameSize`: 16 MiB of payload.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_FRAME_SIZE: number = internal.DEFAULT_MAX_FRAME_SIZE

/**
 * Encodes one frame. The payload length is not checked against any limit here.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode: (type: FrameType, id: number, payload: Uint8Array) => Uint8Array = internal.encode

/**
 * Receives each whole frame a decoder finds.
 *
 * @since 0.1.0
 * @category decoding
 */
export type FrameHandler = (type: FrameType, id: number, payload: Uint8Array) => void

/**
 * An incremental decoder for one byte stream. A frame spanning several chunks is held in one buffer that grows
 * as its bytes arrive (to at most twice what has arrived, never to the size its header announces), so buffering
 * costs about one byte per byte received, even in 1-byte chunks.
 *
 * @since 0.1.0
 * @category decoding
 */
export interface Decoder {
  /** The payload limit it enforces. */
  readonly maxFrameSize: number
  /** Bytes received and not yet part of a whole frame. */
  readonly bufferedBytes: number
  /**
   * Decodes what `chunk` completes, calling `onFrame` for each whole frame in order (payloads are views into the
   * received bytes). Returns a `ProtocolError` (`MalformedFrame`, `FrameTooLarge`) when the stream cannot be
   * decoded; it is then unusable. A frame is rejected as soon as its header is in, before its body arrives.
   */
  readonly push: (chunk: Uint8Array, onFrame: FrameHandler) => ProtocolError | undefined
  /** Says the stream ended: a `ProtocolError` of reason `TruncatedFrame` if it ended inside a frame. */
  readonly end: () => ProtocolError | undefined
}

/**
 * A decoder that rejects payloads above `maxFrameSize` bytes.
 *
 * @example
 * ```ts
 * import { Frame } from "@connection-pool/platform-node"
 *
 * const frame = Frame.encode(Frame.FrameType.Request, 1, new TextEncoder().encode("hello"))
 * const onFrame: Frame.FrameHandler = (type, id, payload) => console.log(type, id, new TextDecoder().decode(payload))
 *
 * const decoder = Frame.makeDecoder(1024)
 * decoder.push(frame.subarray(0, 6), onFrame) // half a header: nothing yet
 * decoder.push(frame.subarray(6), onFrame) // logs 1 1 hello
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const makeDecoder = (maxFrameSize: number = internal.DEFAULT_MAX_FRAME_SIZE): Decoder =>
  new internal.Decoder(maxFrameSize)
