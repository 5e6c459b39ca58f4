import { IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { fork, soleFailure } from "@connection-pool/test-kit/internal/edge/effect"
import { it, loggerLayer } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Exit } from "effect"
import { bytes, tempSocketPath, text } from "./utils.js"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: number; readonly password: string }> {
  override get message(): string {
    return `no user ${this.id}`
  }
}

interface LoggedLine {
  readonly message: string
  readonly cause: string
  readonly correlationId: string | undefined
}

/** A logger that keeps what the server logs, with the correlation id it annotates. */
const captureLogs = () => {
  const lines: Array<LoggedLine> = []
  const layer = loggerLayer(({ annotations, cause, message }) => {
    const correlationId = annotations.correlationId
    lines.push({
      message: String(Array.isArray(message) ? message[0] : message),
      cause: Cause.pretty(cause),
      correlationId: typeof correlationId === "string" ? correlationId : undefined
    })
  })
  return { lines, layer }
}

const secret = "hunter2-secret"

/** The handler's ways of going wrong, each carrying the same secret. */
const leakyHandler: IpcServer.Handler<unknown> = (payload) => {
  switch (text(payload)) {
    case "tagged":
      return Effect.fail(new NotFound({ id: 7, password: secret }))
    case "untagged":
      return Effect.fail({ user: "root", password: secret })
    case "die-object":
      return Effect.die({ user: "root", password: secret })
    case "die-error":
      return Effect.die(new Error(`could not connect to postgres://root:${secret}@db`))
    case "throw":
      throw new Error(`thrown with ${secret}`)
    case "not-bytes":
      return Effect.succeed({ password: secret } as unknown as Uint8Array)
    default:
      return Effect.succeed(payload)
  }
}

const remoteError = (connection: IpcConnection.IpcConnection, command: string) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(connection.request(bytes(command)).pipe(within("2 seconds", command)))
    const error = Exit.isFailure(exit) ? soleFailure(exit.cause) : undefined
    if (error === undefined || error._tag !== "RemoteError") {
      return assert.fail(`expected a RemoteError for ${command}, got ${String(exit)}`)
    }
    return error
  })

const correlationIdIn = (detail: string): string | undefined => /correlation id ([0-9a-f-]{36})/.exec(detail)?.[1]

describe("IpcServer error frames", () => {
  it.scopedLive("carry a typed failure's tag and message, and nothing else of it", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("exposed")
      yield* IpcServer.make({ path, handler: leakyHandler })
      const connection = yield* IpcConnection.connect({ path })
      const error = yield* remoteError(connection, "tagged")
      assert.strictEqual(error.reason, "HandlerFailed")
      assert.strictEqual(error.detail, "NotFound: no user 7")
    }))

  it.scopedLive("never carry a planted secret: untagged failures and defects get a generic message and a correlation id the server's log also carries", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const path = yield* tempSocketPath("secret")
      yield* IpcServer.make({ path, handler: leakyHandler }).pipe(Effect.provide(logs.layer))
      const connection = yield* IpcConnection.connect({ path })
      const cases = [
        ["untagged", "HandlerFailed"],
        ["die-object", "HandlerDefect"],
        ["die-error", "HandlerDefect"],
        ["throw", "HandlerDefect"],
        ["not-bytes", "HandlerDefect"]
      ] as const
      for (const [command, reason] of cases) {
        const error = yield* remoteError(connection, command)
        assert.strictEqual(error.reason, reason, command)
        assert.notInclude(error.detail, secret, command)
        assert.notInclude(error.detail, "password", command)
        const id = correlationIdIn(error.detail)
        assert.isDefined(id, `${command}: ${error.detail}`)
        // The operator finds the details under the same id in the server's log.
        const line = logs.lines.find((line) => line.correlationId === id)
        assert.isDefined(line, `${command}: no log line with correlation id ${id}`)
        assert.include(line!.cause, secret, command)
      }
      // The connection was never at fault.
      assert.strictEqual(text(yield* connection.request(bytes("after")).pipe(within("2 seconds", "reply"))), "after")
    })
  })

  it.scopedLive("describe defects in full only with exposeDefects, for development", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("expose-defects")
      yield* IpcServer.make({ path, handler: leakyHandler, exposeDefects: true }).pipe(
        Effect.provide(loggerLayer(() => {})) // the server logs defects; these are on purpose
      )
      const connection = yield* IpcConnection.connect({ path })
      assert.include((yield* remoteError(connection, "die-error")).detail, `postgres://root:${secret}@db`)
      assert.include((yield* remoteError(connection, "die-object")).detail, secret)
    }))

  it.scopedLive("a handler interrupted because the server closes is not logged as a defect", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const path = yield* tempSocketPath("interrupted")
      const started = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        yield* IpcServer.make({
          path,
          handler: () => Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
        })
        const connection = yield* IpcConnection.connect({ path })
        yield* fork(connection.request(bytes("hang")))
        yield* Deferred.await(started).pipe(within("2 seconds", "the handler to start"))
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
      assert.deepStrictEqual(logs.lines.map((line) => line.message), [])
    })
  })

  it.effect("exposeDefects must be a boolean", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        IpcServer.make({ port: 0, handler: IpcServer.echoHandler, exposeDefects: "yes" as unknown as boolean })
      ).pipe(Effect.scoped)
      assert.strictEqual(error._tag, "InvalidIpcOptions")
      assert.deepStrictEqual(error._tag === "InvalidIpcOptions" && error.fields, ["exposeDefects"])
    }))
})
