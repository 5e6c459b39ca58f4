import { Frame, IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { soleFailure } from "@connection-pool/test-kit/internal/edge/effect"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Redacted } from "effect"
import { rawClient, requestFrame } from "./rawClient.js"
import { bytes, tempSocketPath, text } from "./utils.js"

const token = "s3cret-token-0123456789abcdef"
const wrongToken = "s3cret-token-0123456789abcdeX"

/** An echo handler that records every payload it is given, to show that no token ever reaches a handler. */
const recordingEcho = () => {
  const seen: Array<string> = []
  const handler: IpcServer.Handler = (payload) =>
    Effect.sync(() => {
      seen.push(text(payload))
      return payload
    })
  return { seen, handler }
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  const error = Exit.isFailure(exit) ? soleFailure(exit.cause) : undefined
  if (error === undefined) return assert.fail(`expected a typed failure, got ${exit}`)
  return error
}

describe("IpcServer auth: a shared token on the first frame", () => {
  it.scopedLive("the right token: requests are served over TCP and Unix sockets, and the handler never sees it", () =>
    Effect.gen(function*() {
      const { handler, seen } = recordingEcho()
      const tcp = yield* IpcServer.make({ port: 0, handler, auth: { token } })
      const path = yield* tempSocketPath("auth")
      const unix = yield* IpcServer.make({ path, handler, auth: { token: Redacted.make(token) } })
      for (const server of [tcp, unix]) {
        const connection = yield* IpcConnection.connect({ ...server.address, auth: { token } })
        // Several at once, written right behind the token.
        const replies = yield* Effect.all(
          ["a", "b", "c"].map((name) => connection.request(bytes(name))),
          { concurrency: "unbounded" }
        ).pipe(within("2 seconds", "the replies"))
        assert.deepStrictEqual(replies.map(text), ["a", "b", "c"])
        assert.strictEqual((yield* server.stats).closed.Unauthorized, 0)
      }
      assert.deepStrictEqual(seen.sort(), ["a", "a", "b", "b", "c", "c"])
    }))

  it.scopedLive("a wrong or missing token: the connection is closed with Unauthorized, counted, and nothing is handled", () =>
    Effect.gen(function*() {
      const { handler, seen } = recordingEcho()
      const server = yield* IpcServer.make({ port: 0, handler, auth: { token } })
      const wrong = yield* IpcConnection.connect({ ...server.address, auth: { token: wrongToken } })
      const wrongError = failureOf(yield* Effect.exit(wrong.request(bytes("x")).pipe(within("2 seconds", "refusal"))))
      assert.strictEqual(wrongError._tag === "RemoteError" && wrongError.reason, "Unauthorized")
      assert.isFalse(wrong.isOpen)

      const missing = yield* IpcConnection.connect({ ...server.address })
      const missingError = failureOf(
        yield* Effect.exit(missing.request(bytes("y")).pipe(within("2 seconds", "refusal")))
      )
      assert.strictEqual(missingError._tag === "RemoteError" && missingError.reason, "Unauthorized")

      yield* eventually(() => Effect.map(server.stats, (stats) => stats.open === 0), "both closed")
      const stats = yield* server.stats
      assert.strictEqual(stats.closed.Unauthorized, 2)
      assert.strictEqual(stats.requests, 0)
      assert.deepStrictEqual(seen, [])
    }))

  it.scopedLive("the token is never echoed: a client sending a wrong one receives only a generic refusal", () =>
    Effect.gen(function*() {
      const server = yield* IpcServer.make({ port: 0, handler: IpcServer.echoHandler, auth: { token } })
      const client = yield* rawClient(server.address as { host: string; port: number })
      const received: Array<Buffer> = []
      client.socket.on("data", (chunk: Buffer) => received.push(chunk))
      client.socket.write(requestFrame(0, bytes(wrongToken)))
      yield* Deferred.await(client.closed).pipe(within("3 seconds", "the refusal"))
      const all = Buffer.concat(received)
      assert.isFalse(all.includes(wrongToken), "the wrong token is not sent back")
      assert.isFalse(all.includes(token), "the right token is not sent")
      assert.strictEqual(client.frames.length, 1)
      assert.strictEqual(client.frames[0]!.type, Frame.FrameType.Error)
      assert.strictEqual(client.frames[0]!.id, 0)
      assert.strictEqual(client.frames[0]!.payload[0], Frame.ErrorCode.Unauthorized)
    }))

  it.scopedLive("a client that sends nothing is closed at the frame deadline and counted", () =>
    Effect.gen(function*() {
      const server = yield* IpcServer.make({
        port: 0,
        handler: IpcServer.echoHandler,
        auth: { token },
        frameDeadline: "200 millis"
      })
      const silent = yield* rawClient(server.address as { host: string; port: number })
      yield* Deferred.await(silent.closed).pipe(within("3 seconds", "the silent client to be closed"))
      const stats = yield* server.stats
      assert.strictEqual(stats.closed.Unauthorized, 1)
      assert.strictEqual(stats.closed.IdleTimeout, 0)
    }))

  it.scopedLive("a token sent to a server that takes none is refused as a protocol violation, unseen by the handler", () =>
    Effect.gen(function*() {
      const { handler, seen } = recordingEcho()
      const server = yield* IpcServer.make({ port: 0, handler })
      const connection = yield* IpcConnection.connect({ ...server.address, auth: { token } })
      const error = failureOf(yield* Effect.exit(connection.request(bytes("x")).pipe(within("2 seconds", "refusal"))))
      assert.strictEqual(error._tag === "RemoteError" && error.reason, "ProtocolViolation")
      assert.deepStrictEqual(seen, [])
    }))

  it.effect("a token out of bounds is refused naming the field, never showing the token", () =>
    Effect.gen(function*() {
      const short = "short-secret"
      const serverError = yield* Effect.flip(
        IpcServer.make({ port: 0, handler: IpcServer.echoHandler, auth: { token: short } })
      ).pipe(Effect.scoped)
      assert.deepStrictEqual(serverError._tag === "InvalidIpcOptions" && serverError.fields, ["auth"])
      assert.notInclude(serverError.message, short)
      assert.notInclude(JSON.stringify(serverError), short)
      const clientError = yield* Effect.flip(IpcConnection.connect({ port: 1, auth: { token: short } })).pipe(
        Effect.scoped
      )
      assert.deepStrictEqual(clientError._tag === "InvalidIpcOptions" && clientError.fields, ["auth"])
      assert.notInclude(JSON.stringify(clientError), short)
    }))
})
