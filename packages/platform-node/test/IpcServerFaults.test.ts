import { IpcConnection, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { failureOption, withMinimumLogLevel } from "@connection-pool/test-kit/internal/edge/effect"
import { diedWith, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import { bytes, forkServer, tempSocketPath, text } from "./utils.js"

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${String(exit.value)}`)
  const failure = failureOption(exit.cause)
  if (failure._tag === "None") return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** The error frame a request is answered with, as the client's `RemoteError`. */
const remoteError = (connection: IpcConnection.IpcConnection, command: string) =>
  Effect.gen(function*() {
    const error = typedFailure(
      yield* Effect.exit(connection.request(bytes(command)).pipe(within("2 seconds", command)))
    )
    if (error._tag !== "RemoteError") return assert.fail(`${command}: expected a RemoteError, got ${error._tag}`)
    return error
  })

/** Commands the scripted handler cannot carry out; the first three once killed the server (a throw on reply). */
const invalidCommands = [
  "oversized:-1",
  "oversized:4294967296",
  "oversized:5e9",
  "oversized:5000000000",
  "oversized:",
  "oversized:1.5",
  "sleep",
  "sleep:soon",
  "sleep:-5:x",
  "sleep:2147483648:x"
]

describe("IpcServerFaults", () => {
  it("the production IpcServer module carries no fault injection", () => {
    for (const name of ["scriptedHandler", "ScriptedFailure", "garbage", "truncated", "oversized", "noReply"]) {
      assert.notProperty(IpcServer, name)
      assert.property(IpcServerFaults, name)
    }
    assert.notProperty(IpcServer, "closeConnection")
    assert.notProperty(IpcServer, "resetConnection")
  })

  describe("scriptedHandler", () => {
    it.scopedLive("refuses a command it cannot carry out with a typed error naming it; the connection goes on", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("invalid-command")
        const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
        const connection = yield* IpcConnection.connect({ path })
        for (const command of invalidCommands) {
          const error = yield* remoteError(connection, command)
          assert.strictEqual(error.reason, "HandlerFailed", command)
          assert.include(error.detail, "ScriptedFailure", command)
          assert.include(error.detail, `invalid command ${JSON.stringify(command)}`, command)
          assert.isTrue(connection.isOpen, command)
        }
        const reply = yield* connection.request(bytes("still here")).pipe(within("2 seconds", "the reply"))
        assert.strictEqual(text(reply), "still here")
        assert.strictEqual(yield* server.openConnections, 1)
      }))

    it.effect("a ScriptedFailure says what was wrong", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          IpcServerFaults.scriptedHandler(bytes("oversized:-1"), { connectionId: 1, requestId: 1 })
        )
        const error = typedFailure(exit)
        assert.strictEqual(error._tag, "ScriptedFailure")
        assert.strictEqual(error.reason, "InvalidCommand")
        assert.include(error.message, "\"oversized:-1\"")
        assert.include(error.message, "from 0 to 4294967295")
        const refused = typedFailure(
          yield* Effect.exit(IpcServerFaults.scriptedHandler(bytes("fail:no"), { connectionId: 1, requestId: 2 }))
        )
        assert.deepInclude(refused, { _tag: "ScriptedFailure", reason: "Scripted", detail: "no" })
      }))

    it.scopedLive("the bin in its test mode survives oversized:-1, 2^32 and 5e9 and answers the next request", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("bin-invalid")
        const server = yield* forkServer(["--path", path, "--handler", "scripted"])
        const connection = yield* IpcConnection.connect({ path })
        for (const command of ["oversized:-1", "oversized:4294967296", "oversized:5e9"]) {
          const error = yield* remoteError(connection, command)
          assert.strictEqual(error.reason, "HandlerFailed", command)
          assert.include(error.detail, `invalid command ${JSON.stringify(command)}`, command)
        }
        const reply = yield* connection.request(bytes("next")).pipe(within("2 seconds", "the next reply"))
        assert.strictEqual(text(reply), "next")
        assert.isNull(server.child.exitCode)
        assert.isNull(server.child.signalCode)
      }))
  })

  describe("handler", () => {
    it.scopedLive("a fault that cannot be written is a HandlerDefect naming it; the connection goes on", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("unwritable")
        yield* IpcServer.make({
          path,
          handler: IpcServerFaults.handler((payload) =>
            Effect.succeed(text(payload) === "bad" ? IpcServerFaults.oversized(-1) : payload)
          ),
          exposeDefects: true // the defect's own message reaches the client only when asked for
        }).pipe(withMinimumLogLevel("None")) // the server logs defects; this one is on purpose
        const connection = yield* IpcConnection.connect({ path })
        const error = yield* remoteError(connection, "bad")
        assert.strictEqual(error.reason, "HandlerDefect")
        assert.include(error.detail, "an Oversized fault of -1 bytes")
        assert.strictEqual(text(yield* connection.request(bytes("good")).pipe(within("2 seconds", "reply"))), "good")
      }))

    it.effect("dies, saying why, on a request that no IpcServer passed", () =>
      Effect.gen(function*() {
        const faulty = IpcServerFaults.handler(() => Effect.succeed(IpcServerFaults.noReply))
        const exit = yield* Effect.exit(faulty(bytes("x"), { connectionId: 1, requestId: 1 }))
        const defect = diedWith(exit)
        assert.isTrue(Option.isSome(defect))
        assert.include(String(Option.getOrUndefined(defect)), "a request that an IpcServer passed to its handler")
        // Bytes pass through as they are.
        const echo = IpcServerFaults.handler((payload) => Effect.succeed(payload))
        assert.strictEqual(text(yield* echo(bytes("plain"), { connectionId: 1, requestId: 1 })), "plain")
      }))
  })

  describe("the server's reply path", () => {
    it.scopedLive("a failure or defect that cannot be described still gets an error frame; the server goes on", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("undescribable")
        const unprintable = {
          get message(): string {
            throw new Error("a message getter that throws")
          },
          toString(): string {
            throw new Error("a toString that throws")
          },
          toJSON(): unknown {
            throw new Error("a toJSON that throws")
          }
        }
        const server = yield* IpcServer.make({
          path,
          handler: (payload) => {
            switch (text(payload)) {
              case "fail":
                return Effect.fail(unprintable)
              case "die":
                return Effect.die(unprintable)
              default:
                return Effect.succeed(payload)
            }
          },
          exposeDefects: true // the defect's own description reaches the client only when asked for
        }).pipe(withMinimumLogLevel("None")) // the server logs defects; this one is on purpose
        const connection = yield* IpcConnection.connect({ path })
        const failed = yield* remoteError(connection, "fail")
        assert.strictEqual(failed.reason, "HandlerFailed")
        assert.strictEqual(failed.detail, "a value that could not be described")
        const died = yield* remoteError(connection, "die")
        assert.strictEqual(died.reason, "HandlerDefect")
        assert.strictEqual(died.detail, "a value that could not be described")
        assert.strictEqual(text(yield* connection.request(bytes("after")).pipe(within("2 seconds", "reply"))), "after")
        assert.strictEqual(yield* server.openConnections, 1)
      }))

    it.scopedLive("a handler sees its request's connectionId and requestId as own properties", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("request-info")
        const seen: Array<unknown> = []
        yield* IpcServer.make({
          path,
          handler: (payload, request) => {
            seen.push({ ...request })
            return Effect.succeed(bytes(JSON.stringify(request)))
          }
        })
        const connection = yield* IpcConnection.connect({ path })
        const first = JSON.parse(text(yield* connection.request(bytes("a")).pipe(within("2 seconds", "reply"))))
        const second = JSON.parse(text(yield* connection.request(bytes("b")).pipe(within("2 seconds", "reply"))))
        assert.deepStrictEqual(seen, [first, second])
        assert.deepStrictEqual(Object.keys(first).sort(), ["connectionId", "requestId"])
        assert.strictEqual(first.connectionId, 1)
        assert.strictEqual(second.connectionId, 1)
        assert.notStrictEqual(first.requestId, second.requestId)
      }))
  })
})
