import { Frame } from "@connection-pool/platform-node"
import { callback, completeDeferred } from "@connection-pool/test-kit/internal/edge/platformNode"
import { Deferred, Effect, Exit } from "effect"
import * as net from "node:net"

/** A frame as a raw client received it. */
export interface ReceivedFrame {
  readonly type: Frame.FrameType
  readonly id: number
  readonly payload: Uint8Array
}

/**
 * A plain socket speaking to a server the way a careless or hostile client would: it writes what the test
 * says, and records what it receives (or reads nothing at all when `read` is false). Destroyed with the scope.
 */
export interface RawClient {
  readonly socket: net.Socket
  /** Frames received so far (empty when not reading). */
  readonly frames: Array<ReceivedFrame>
  /** Completes when the socket is closed, by either side. */
  readonly closed: Deferred.Deferred<void>
}

export const rawClient = (
  address: { readonly path: string } | { readonly host: string; readonly port: number },
  options: { readonly allowHalfOpen?: boolean; readonly read?: boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const closed = yield* Deferred.make<void>()
      const socket = yield* callback<net.Socket, Error>((resume) => {
        const socket = net.createConnection({ ...address, allowHalfOpen: options.allowHalfOpen ?? false })
        socket.once("connect", () => resume(Exit.succeed(socket)))
        socket.once("error", (error) => resume(Exit.fail(error)))
      })
      // Writes after the server hung up fail with EPIPE or ECONNRESET: expected here, and seen through `closed`.
      socket.on("error", () => {})
      socket.on("close", () => completeDeferred(closed, Exit.void))
      const frames: Array<ReceivedFrame> = []
      if (options.read === false) {
        socket.pause()
      } else {
        const decoder = Frame.makeDecoder()
        socket.on("data", (chunk: Buffer) => {
          decoder.push(chunk, (type, id, payload) => frames.push({ type, id, payload: Uint8Array.from(payload) }))
        })
      }
      return { socket, frames, closed } satisfies RawClient
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/** A request frame as bytes. */
export const requestFrame = (id: number, payload: Uint8Array): Uint8Array =>
  Frame.encode(Frame.FrameType.Request, id, payload)
