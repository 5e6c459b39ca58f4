import { IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { bytes, tempSocketPath, text } from "./utils.js"

/** Runs `self` with the process umask set to `mask`, restored after. The umask is per process: tests here run one at a time. */
const withUmask = (mask: number) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(() => process.umask(mask)), () => self, (previous) =>
    Effect.sync(() => {
      process.umask(previous)
    }))

const modeOf = (path: string): number => fs.statSync(path).mode & 0o777

describe("IpcServer socket file mode", () => {
  it.scopedLive("is 0600 by default, even when started under umask 000", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("mode-default")
      yield* IpcServer.make({ path, handler: IpcServer.echoHandler }).pipe(withUmask(0o000))
      assert.strictEqual(modeOf(path).toString(8), "600")
      // The owner still connects.
      const connection = yield* IpcConnection.connect({ path })
      assert.strictEqual(text(yield* connection.request(bytes("mine")).pipe(within("2 seconds", "reply"))), "mine")
    }))

  it.scopedLive("is the mode option when given", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("mode-group")
      yield* IpcServer.make({ path, handler: IpcServer.echoHandler, mode: 0o660 }).pipe(withUmask(0o077))
      assert.strictEqual(modeOf(path).toString(8), "660")
    }))

  it.effect("mode is validated, naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        IpcServer.make({ path: "/tmp/never-bound.sock", handler: IpcServer.echoHandler, mode: 0o1777 })
      ).pipe(Effect.scoped)
      assert.deepStrictEqual(error._tag === "InvalidIpcOptions" && error.fields, ["mode"])
    }))
})
