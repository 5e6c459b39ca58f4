import { PoolError } from "@connection-pool/core"
import { IpcError } from "@connection-pool/platform-node"
import { assert, describe, it } from "@effect/vitest"

/** One error of each class of the module. */
const everyError: ReadonlyArray<IpcError.IpcError> = [
  new IpcError.SocketError({ reason: "Reset", address: "tcp:127.0.0.1:1", code: "ECONNRESET" }),
  new IpcError.ProtocolError({ reason: "MalformedFrame", direction: "receive", detail: "bad magic byte" }),
  new IpcError.RemoteError({ reason: "HandlerFailed", detail: "no such key" }),
  new IpcError.InvalidIpcOptions({ reason: "InvalidValue", issues: [{ field: "noDelay", value: 1, message: "m" }] }),
  new IpcError.ServerError({ reason: "AddressInUse", address: "unix:/tmp/x.sock", code: "EADDRINUSE" })
]

describe("IpcError", () => {
  it("every error is recognised by isIpcError (and not as a pool error), named by its tag, with its message", () => {
    for (const error of everyError) {
      assert.isTrue(IpcError.isIpcError(error), error._tag)
      assert.isFalse(PoolError.isPoolError(error), error._tag)
      assert.strictEqual(error.name, error._tag)
      assert.isTrue(error.message.length > 0, error._tag)
    }
    assert.sameMembers(everyError.map((error) => error._tag), [
      "SocketError",
      "ProtocolError",
      "RemoteError",
      "InvalidIpcOptions",
      "ServerError"
    ])
    assert.isFalse(IpcError.isIpcError(new PoolError.PoolClosedError({ reason: "PoolClosed", pool: "p" })))
    assert.isFalse(IpcError.isIpcError({ _tag: "SocketError" }))
  })

  it("isConnectionFault: socket errors and received protocol errors only", () => {
    assert.deepStrictEqual(everyError.map(IpcError.isConnectionFault), [true, true, false, false, false])
    const sendTooLarge = new IpcError.ProtocolError({ reason: "FrameTooLarge", direction: "send", detail: "big" })
    const undecodable = new IpcError.ProtocolError({ reason: "DecodeFailed", direction: "receive", detail: "json" })
    assert.isFalse(IpcError.isConnectionFault(sendTooLarge))
    assert.isFalse(IpcError.isConnectionFault(undecodable))
  })
})
