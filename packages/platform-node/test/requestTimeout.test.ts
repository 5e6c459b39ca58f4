import { IpcConnection, IpcConnector, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { soleFailure } from "@connection-pool/test-kit/internal/edge/effect"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { bytes, tempSocketPath, text } from "./utils.js"

describe("IpcConnector requestTimeout", () => {
  it.scopedLive("a server that never answers fails the request with ReplyTimeout and the connection is closed, with no Effect.timeout", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("silent")
      yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const connection = yield* IpcConnection.connect({ path, requestTimeout: "300 millis" })
      // The bound below is the test's backstop only: the request must end by itself, well before it.
      const exit = yield* Effect.exit(
        connection.request(bytes("silent")).pipe(within("5 seconds", "the request to end"))
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? soleFailure(exit.cause) : undefined
      assert.strictEqual(error?._tag, "ProtocolError")
      assert.strictEqual(error?._tag === "ProtocolError" && error.reason, "ReplyTimeout")
      assert.isFalse(connection.isOpen)
    }))

  it.scopedLive("an idle connection outlives it, and a slow reply within it is fine", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("idle-client")
      yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const connection = yield* IpcConnection.connect({ path, requestTimeout: "300 millis" })
      yield* Effect.sleep("700 millis")
      assert.isTrue(connection.isOpen)
      const reply = yield* connection.request(bytes("sleep:150:slow")).pipe(within("3 seconds", "the reply"))
      assert.strictEqual(text(reply), "slow")
      assert.isTrue(connection.isOpen)
    }))

  it.effect("requestTimeout is validated, naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(IpcConnector.make({ path: "/tmp/x.sock", requestTimeout: -5 }))
      assert.deepStrictEqual(error.fields, ["requestTimeout"])
    }))
})
