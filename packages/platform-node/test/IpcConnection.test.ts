import { IpcConnection, IpcConnector, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { eventually, Timeout, within } from "@connection-pool/test-kit"
import { fork, inScope, soleFailure, withMinimumLogLevel } from "@connection-pool/test-kit/internal/edge/effect"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schema, Scope } from "effect"
import * as fs from "node:fs"
import { bytes, freePort, tempSocketPath, text } from "./utils.js"

/** The typed error an effect failed with; a bounded wait that ran out fails the test with what it waited for. */
const failure = <A, E>(exit: Exit.Exit<A, E>): Exclude<E, Timeout> => {
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${String(exit.value)}`)
  const error = soleFailure(exit.cause)
  if (error === undefined) return assert.fail(`expected a typed failure, got ${String(exit.cause)}`)
  if (error instanceof Timeout) return assert.fail(error.message)
  return error as Exclude<E, Timeout>
}

describe("IpcConnection", () => {
  describe("request and reply", () => {
    it.scopedLive("over a Unix socket path", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("echo")
        const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        assert.deepStrictEqual(server.address, { path })
        const connection = yield* IpcConnection.connect({ path })
        const reply = yield* connection.request(bytes("hello")).pipe(within("1 second", "the reply"))
        assert.strictEqual(text(reply), "hello")
        const empty = yield* connection.request(new Uint8Array(0)).pipe(within("1 second", "the reply"))
        assert.strictEqual(empty.length, 0)
        assert.isTrue(connection.isOpen)
        assert.strictEqual(connection.pendingRequests, 0)
      }))

    it.scopedLive("over TCP on port 0, exposing the port actually bound", () =>
      Effect.gen(function*() {
        const server = yield* IpcServer.make({ port: 0, handler: IpcServer.echoHandler })
        assert.isTrue("port" in server.address && server.address.port > 0)
        assert.strictEqual("host" in server.address && server.address.host, "127.0.0.1")
        const connection = yield* IpcConnection.connect({ ...server.address, keepAlive: true, noDelay: true })
        const reply = yield* IpcConnection.request(connection, bytes("over tcp")).pipe(within("1 second", "the reply"))
        assert.strictEqual(text(reply), "over tcp")
      }))

    it.scopedLive("concurrent requests on one connection are matched by id, never crossed", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("pipeline")
        // Later requests finish first, so replies come back in another order than the requests went out.
        yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
        const connection = yield* IpcConnection.connect({ path })
        const replies = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.map(connection.request(bytes(`sleep:${(200 - i) % 7}:request ${i}`)), text),
          { concurrency: "unbounded" }
        ).pipe(within("5 seconds", "200 pipelined replies"))
        assert.deepStrictEqual(replies, Array.from({ length: 200 }, (_, i) => `request ${i}`))
      }))

    it.scopedLive("a typed request encodes and decodes JSON with a Schema", () =>
      Effect.gen(function*() {
        const Sum = { request: Schema.Struct({ a: Schema.Number, b: Schema.Number }), response: Schema.Number }
        const path = yield* tempSocketPath("schema")
        yield* IpcServer.make({ path, handler: IpcServer.schemaHandler(Sum, ({ a, b }) => Effect.succeed(a + b)) })
        const connection = yield* IpcConnection.connect({ path })
        const add = IpcConnection.requestSchema(Sum)
        assert.strictEqual(yield* add(connection, { a: 2, b: 40 }).pipe(within("1 second", "the sum")), 42)

        // The server cannot decode this request: its handler fails, the error comes back in an error frame.
        const mismatched = IpcConnection.requestSchema({ request: Schema.String, response: Schema.Number })
        const remote = failure(yield* Effect.exit(mismatched(connection, "not a pair")))
        assert.strictEqual(remote._tag, "RemoteError")
        assert.strictEqual(remote.reason, "HandlerFailed")
        assert.include(remote.message, "DecodeFailed")

        // The reply does not match the expected schema: a DecodeFailed here, and the connection is fine.
        const wrongReply = IpcConnection.requestSchema({ request: Sum.request, response: Schema.String })
        const decodeFailed = failure(yield* Effect.exit(wrongReply(connection, { a: 1, b: 1 })))
        assert.strictEqual(decodeFailed._tag, "ProtocolError")
        assert.strictEqual(decodeFailed.reason, "DecodeFailed")
        assert.isTrue(connection.isOpen)
        assert.strictEqual(yield* add(connection, { a: 1, b: 2 }).pipe(within("1 second", "the sum")), 3)
      }))
  })

  describe("errors from the handler", () => {
    it.scopedLive("a failure or defect comes back as a RemoteError and leaves the connection open", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("remote")
        yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler }).pipe(
          withMinimumLogLevel("None") // the server logs defects; this one is on purpose
        )
        const connection = yield* IpcConnection.connect({ path })
        const failed = failure(
          yield* Effect.exit(connection.request(bytes("fail")).pipe(within("2 seconds", "the reply")))
        )
        assert.strictEqual(failed._tag, "RemoteError")
        assert.strictEqual(failed.reason, "HandlerFailed")
        assert.include(failed.message, "the handler refused")
        const died = failure(
          yield* Effect.exit(connection.request(bytes("die")).pipe(within("2 seconds", "the reply")))
        )
        assert.strictEqual(died._tag, "RemoteError")
        assert.strictEqual(died.reason, "HandlerDefect")
        assert.isTrue(connection.isOpen)
        assert.strictEqual(
          text(yield* connection.request(bytes("still here")).pipe(within("2 seconds", "the reply"))),
          "still here"
        )
      }))
    it.scopedLive("a handler that throws, or replies with something other than bytes, is a HandlerDefect", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("loose")
        const server = yield* IpcServer.make({
          path,
          handler: (payload) => {
            if (text(payload) === "throw") throw new Error("thrown, not failed")
            return Effect.succeed("a string" as unknown as Uint8Array)
          },
          exposeDefects: true // the defect's own message reaches the client only when asked for
        }).pipe(withMinimumLogLevel("None")) // the server logs defects; this one is on purpose
        const connection = yield* IpcConnection.connect({ path })
        const thrown = failure(yield* Effect.exit(connection.request(bytes("throw")).pipe(within("1 second", "reply"))))
        assert.strictEqual(thrown._tag === "RemoteError" && thrown.reason, "HandlerDefect")
        assert.include(thrown.message, "thrown, not failed")
        const loose = failure(yield* Effect.exit(connection.request(bytes("string")).pipe(within("1 second", "reply"))))
        assert.strictEqual(loose._tag === "RemoteError" && loose.reason, "HandlerDefect")
        assert.include(loose.message, "not bytes")
        assert.isTrue(connection.isOpen)
        assert.strictEqual(yield* server.openConnections, 1)
      }))
  })

  describe("frame size limit", () => {
    it.scopedLive("a payload above maxFrameSize is refused before sending; the connection stays usable", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("send-limit")
        const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        const connection = yield* IpcConnection.connect({ path, maxFrameSize: 1024 })
        const error = failure(yield* Effect.exit(connection.request(new Uint8Array(1025))))
        assert.strictEqual(error._tag, "ProtocolError")
        assert.strictEqual(error.reason, "FrameTooLarge")
        assert.strictEqual(error._tag === "ProtocolError" && error.direction, "send")
        assert.strictEqual(error._tag === "ProtocolError" && error.size, 1025)
        assert.isTrue(connection.isOpen)
        assert.strictEqual(
          (yield* connection.request(new Uint8Array(1024)).pipe(within("2 seconds", "the reply"))).length,
          1024
        )
        assert.strictEqual((yield* server.stats).requests, 1)
      }))

    it.scopedLive("a real reply above maxFrameSize is refused on receipt and closes the connection", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("receive-limit")
        const server = yield* IpcServer.make({
          path,
          handler: () => Effect.succeed(new Uint8Array(2 * 1024 * 1024))
        })
        const connection = yield* IpcConnection.connect({ path, maxFrameSize: 1024 * 1024 })
        const error = failure(
          yield* Effect.exit(connection.request(bytes("big please")).pipe(within("2 seconds", "the reply")))
        )
        assert.strictEqual(error._tag, "ProtocolError")
        assert.strictEqual(error.reason, "FrameTooLarge")
        assert.strictEqual(error._tag === "ProtocolError" && error.direction, "receive")
        assert.strictEqual(error._tag === "ProtocolError" && error.limit, 1024 * 1024)
        assert.isFalse(connection.isOpen)
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to drop it"))
      }))

    it.scopedLive("a reply above the server's maxFrameSize is answered with ReplyTooLarge", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("reply-limit")
        yield* IpcServer.make({ path, maxFrameSize: 100, handler: () => Effect.succeed(new Uint8Array(101)) })
        const connection = yield* IpcConnection.connect({ path })
        const error = failure(yield* Effect.exit(connection.request(bytes("x")).pipe(within("2 seconds", "the reply"))))
        assert.strictEqual(error._tag, "RemoteError")
        assert.strictEqual(error.reason, "ReplyTooLarge")
        assert.isTrue(connection.isOpen)
      }))

    it.scopedLive("a request above the server's maxFrameSize is a protocol violation; the server hangs up", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("server-limit")
        const server = yield* IpcServer.make({ path, maxFrameSize: 100, handler: IpcServer.echoHandler })
        const connection = yield* IpcConnection.connect({ path })
        const error = failure(
          yield* Effect.exit(connection.request(new Uint8Array(101)).pipe(within("2 seconds", "the reply")))
        )
        assert.strictEqual(error._tag, "RemoteError")
        assert.strictEqual(error.reason, "ProtocolViolation")
        assert.isFalse(connection.isOpen)
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to hang up"))
      }))
  })

  describe("ping", () => {
    it.scopedLive("is answered with a pong", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("ping")
        yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        const connection = yield* IpcConnection.connect({ path })
        yield* connection.ping.pipe(within("1 second", "the pong"))
        assert.isTrue(connection.isOpen)
      }))

    it.scopedLive("times out after pingTimeout when the server does not answer, closing the connection", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("no-pong")
        const server = yield* IpcServer.make({ path, answerPings: false, handler: IpcServer.echoHandler })
        const connection = yield* IpcConnection.connect({ path, pingTimeout: "100 millis" })
        const error = failure(yield* Effect.exit(connection.ping.pipe(within("2 seconds", "the ping timeout"))))
        assert.strictEqual(error._tag, "ProtocolError")
        assert.strictEqual(error._tag === "ProtocolError" && error.reason, "PingTimeout")
        assert.isFalse(connection.isOpen)
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to see it go"))
      }))
  })

  describe("connecting", () => {
    it.scopedLive("to a path where nothing exists fails with PathNotFound (ENOENT)", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("nobody")
        const error = failure(yield* Effect.exit(IpcConnection.connect({ path }).pipe(within("2 seconds", "ENOENT"))))
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error._tag === "SocketError" && error.reason, "PathNotFound")
        assert.strictEqual(error._tag === "SocketError" && error.code, "ENOENT")
        assert.include(error.message, path)
      }))

    it.scopedLive("to a port nothing listens on fails with ConnectionRefused (ECONNREFUSED)", () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const error = failure(yield* Effect.exit(IpcConnection.connect({ port }).pipe(within("2 seconds", "refusal"))))
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error._tag === "SocketError" && error.reason, "ConnectionRefused")
        assert.strictEqual(error._tag === "SocketError" && error.code, "ECONNREFUSED")
        assert.include(error.message, `127.0.0.1:${port}`)
      }))

    it.scopedLive("closing the scope closes the socket; the server sees it", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("scope")
        const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        const connection = yield* Effect.scoped(
          Effect.tap(IpcConnection.connect({ path }), (connection) =>
            connection.request(bytes("x")).pipe(within("2 seconds", "the reply")))
        )
        assert.isFalse(connection.isOpen)
        const error = failure(yield* Effect.exit(connection.request(bytes("after close"))))
        assert.strictEqual(error._tag === "SocketError" && error.reason, "ClosedLocally")
        yield* server.awaitOpenConnections((open) =>
          open === 0
        ).pipe(within("2 seconds", "the server to see it go"))
        assert.strictEqual(yield* server.totalAccepted, 1)
      }))
  })

  describe("options", () => {
    const rejects = (options: IpcConnector.Options) =>
      Effect.map(Effect.exit(IpcConnector.make(options)), (exit) => {
        const error = failure(exit)
        assert.strictEqual(error._tag, "InvalidIpcOptions")
        return error
      })

    it.live("an out-of-range port is refused, naming the value", () =>
      Effect.gen(function*() {
        for (const port of [70000, -1, 0, 1.5, Number.NaN]) {
          const error = yield* rejects({ port })
          assert.strictEqual(error.reason, "InvalidAddress")
          assert.deepStrictEqual(error.fields, ["port"])
          assert.deepStrictEqual(error.issues[0]?.value, port)
          assert.include(error.message, `port (${port})`)
        }
      }))

    it.live("a path and a port together, neither, or an unusable path are refused", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual((yield* rejects({ path: "/tmp/x.sock", port: 1 })).fields, ["port"])
        assert.deepStrictEqual((yield* rejects({})).fields, ["port"])
        assert.deepStrictEqual((yield* rejects({ path: "" })).fields, ["path"])
        const long = `/tmp/${"x".repeat(200)}.sock`
        const tooLong = yield* rejects({ path: long })
        assert.strictEqual(tooLong.reason, "InvalidAddress")
        assert.include(tooLong.message, "at most")
      }))

    it.live("other bad values are all named at once", () =>
      Effect.gen(function*() {
        const error = yield* rejects({
          path: "/tmp/x.sock",
          maxFrameSize: 0,
          connectTimeout: -5,
          pingTimeout: "soon" as never,
          keepAlive: "yes" as unknown as boolean
        })
        assert.strictEqual(error.reason, "InvalidValue")
        assert.deepStrictEqual([...error.fields].sort(), ["connectTimeout", "keepAlive", "maxFrameSize", "pingTimeout"])
      }))

    it.live("a duration above 2^31-1 ms (about 24.8 days) or infinite is refused, naming the option", () =>
      Effect.gen(function*() {
        for (const field of ["connectTimeout", "keepAliveInitialDelay", "pingTimeout"] as const) {
          for (const value of ["30 days", 2 ** 31, Duration.infinity] as const) {
            const error = yield* rejects({ path: "/tmp/x.sock", [field]: value })
            assert.strictEqual(error.reason, "InvalidValue")
            assert.deepStrictEqual(error.fields, [field])
            assert.deepStrictEqual(error.issues[0]?.value, value)
            assert.include(error.message, "at most 2^31-1 ms")
          }
        }
        const longest = yield* Effect.exit(
          IpcConnector.make({ path: "/tmp/x.sock", connectTimeout: 2 ** 31 - 1, pingTimeout: "24 days" })
        )
        assert.isTrue(Exit.isSuccess(longest))
      }))

    it.live("the server refuses bad options too", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(IpcServer.make({ port: 70000, handler: IpcServer.echoHandler })))
        const error = failure(exit)
        assert.strictEqual(error._tag, "InvalidIpcOptions")
        assert.strictEqual(error._tag === "InvalidIpcOptions" && error.reason, "InvalidAddress")
        assert.include(error.message, "70000")
      }))
  })

  describe("server listening", () => {
    it.scopedLive("a live server's address is not taken over", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("in-use")
        yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
        const error = failure(
          yield* Effect.exit(Effect.scoped(IpcServer.make({ path, handler: IpcServer.echoHandler })))
        )
        assert.strictEqual(error._tag, "ServerError")
        assert.strictEqual(error._tag === "ServerError" && error.reason, "AddressInUse")

        const first = yield* IpcServer.make({ port: 0, handler: IpcServer.echoHandler })
        const port = "port" in first.address ? first.address.port : -1
        const tcp = failure(yield* Effect.exit(Effect.scoped(IpcServer.make({ port, handler: IpcServer.echoHandler }))))
        assert.strictEqual(tcp._tag === "ServerError" && tcp.reason, "AddressInUse")
        assert.strictEqual(tcp._tag === "ServerError" && tcp.code, "EADDRINUSE")
      }))

    it.scopedLive("closing the server's scope closes its connections and removes the socket file", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("shutdown")
        const serverScope = yield* Scope.make()
        yield* inScope(IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler }), serverScope)
        const connection = yield* IpcConnection.connect({ path })
        assert.strictEqual(text(yield* connection.request(bytes("x")).pipe(within("2 seconds", "the reply"))), "x")
        // A handler in progress is interrupted, and its request fails instead of hanging.
        const pending = yield* fork(connection.request(bytes("sleep:60000:never")))
        yield* eventually(() => connection.pendingRequests === 1, "the request to be sent")
        yield* Scope.close(serverScope, Exit.void).pipe(within("2 seconds", "the server to close"))
        assert.isFalse(fs.existsSync(path))
        const error = failure(yield* Fiber.await(pending).pipe(within("2 seconds", "the pending request to fail")))
        // A Unix socket closed by its peer with data in flight reads as a reset or as an end, depending on timing.
        assert.strictEqual(error._tag, "SocketError")
        assert.oneOf(error._tag === "SocketError" ? error.reason : undefined, ["Closed", "Reset"])
        assert.isFalse(connection.isOpen)
      }))
  })
})
