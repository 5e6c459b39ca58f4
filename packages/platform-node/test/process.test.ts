import { type IpcConnection, IpcPool } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { failureOption, fork, inScope } from "@connection-pool/test-kit/internal/edge/effect"
import { callback, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schedule, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { bytes, forkServer, tempSocketPath, text } from "./utils.js"

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${String(exit.value)}`)
  const failure = failureOption(exit.cause)
  if (failure._tag === "None") return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** Connects raw sockets until one does not complete within `patience`: the listener's accept queue is full. */
const fillAcceptQueue = (port: number, patience: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sockets: Array<net.Socket> = []
      for (let attempt = 0; attempt < 16; attempt++) {
        const socket = net.createConnection({ host: "127.0.0.1", port })
        sockets.push(socket)
        socket.on("error", () => {})
        const connected = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), patience)
          socket.once("connect", () => {
            clearTimeout(timer)
            resolve(true)
          })
        })
        if (!connected) return { sockets, full: true }
      }
      return { sockets, full: false }
    }),
    ({ sockets }) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
  )

describe("a server in its own process", () => {
  it.scopedLive("serves a pool; killed with SIGKILL and restarted on the same path, the pool recovers", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("process")
      const firstScope = yield* Scope.make()
      const first = yield* inScope(forkServer(["--path", path, "--handler", "scripted"]), firstScope)
      assert.deepStrictEqual(first.address, { path })
      assert.notStrictEqual(first.pid, process.pid)

      const pool = yield* IpcPool.make({ path }, { maxConnections: 3 })
      const seen = new Set<IpcConnection.IpcConnection>()
      const replies = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) =>
          pool.use((connection) => {
            seen.add(connection)
            return Effect.map(connection.request(bytes(`sleep:1:${i}`)), text)
          }),
        { concurrency: 6 }
      ).pipe(within("10 seconds", "30 requests"))
      assert.deepStrictEqual(replies, Array.from({ length: 30 }, (_, i) => String(i)))
      assert.isAtMost(seen.size, 3)

      // A request in flight when the server dies fails with a typed error instead of hanging.
      let inFlight: IpcConnection.IpcConnection | undefined
      const pending = yield* fork(pool.use((connection) => {
        inFlight = connection
        return connection.request(bytes("sleep:60000:never"))
      }))
      yield* eventually(() => inFlight?.pendingRequests === 1, "the request to be sent")
      assert.strictEqual(yield* first.kill("SIGKILL"), "SIGKILL")
      const error = typedFailure(yield* Fiber.await(pending).pipe(within("2 seconds", "the in-flight failure")))
      assert.strictEqual(error._tag, "SocketError")
      assert.oneOf(error._tag === "SocketError" ? error.reason : undefined, ["Closed", "Reset"])
      yield* eventually(() => [...seen].every((connection) => !connection.isOpen), "every connection to notice")

      // Killed, it left its socket file behind: connecting is refused rather than not found.
      assert.isTrue(fs.existsSync(path))
      const down = typedFailure(
        yield* Effect.exit(IpcPool.request(pool, bytes("anyone?"))).pipe(within("2 seconds", "a prompt failure"))
      )
      assert.strictEqual(down._tag, "ConnectionError")
      assert.strictEqual(down._tag === "ConnectionError" && down.reason, "OpenFailed")
      const cause = down._tag === "ConnectionError" ? down.cause as { _tag: string; reason: string } : undefined
      assert.strictEqual(cause?._tag, "SocketError")
      assert.strictEqual(cause?.reason, "ConnectionRefused")

      // Restarted on the same path (it removes the stale socket file): the same pool serves again.
      const second = yield* forkServer(["--path", path, "--handler", "scripted"])
      assert.notStrictEqual(second.pid, first.pid)
      const back = yield* IpcPool.request(pool, bytes("back")).pipe(within("2 seconds", "a reply after restart"))
      assert.strictEqual(text(back), "back")
      yield* Scope.close(firstScope, Exit.void)
    }))

  it.scopedLive("SIGTERM stops it cleanly: exit code 0, socket file removed, clients see the close", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("sigterm")
      const server = yield* forkServer(["--path", path])
      const pool = yield* IpcPool.make({ path }, { maxConnections: 1 })
      const connection = yield* pool.use((connection) => Effect.as(connection.request(bytes("x")), connection)).pipe(
        within("2 seconds", "a reply")
      )
      assert.strictEqual(yield* server.kill("SIGTERM").pipe(within("10 seconds", "the server to exit")), "0")
      assert.isFalse(fs.existsSync(path))
      yield* eventually(() => !connection.isOpen, "the client to see the close")
    }))

  it.scopedLive("exits by itself when the parent that forked it disconnects", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("orphan")
      const server = yield* forkServer(["--path", path])
      const exited = callback<string>((resume) => {
        server.child.once("exit", (code, signal) => resume(Exit.succeed(String(signal ?? code))))
      })
      server.child.disconnect()
      assert.strictEqual(yield* exited.pipe(within("10 seconds", "the server to exit")), "0")
      assert.isFalse(fs.existsSync(path))
    }))

  it.scopedLive("a server that accepts nothing makes connects time out; once it resumes, the pool serves", () =>
    Effect.gen(function*() {
      const server = yield* forkServer(["--port", "0", "--backlog", "1"])
      const port = "port" in server.address ? server.address.port : -1
      assert.isAbove(port, 0)
      // A stopped process accepts nothing; once its accept queue is full the kernel ignores new connections.
      server.child.kill("SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => server.child.kill("SIGCONT")))
      const queue = yield* fillAcceptQueue(port, 200)
      assert.isTrue(queue.full)

      const pool = yield* IpcPool.make({ port, connectTimeout: "200 millis" }, { maxConnections: 1 })
      const started = Date.now()
      const error = typedFailure(
        yield* Effect.exit(IpcPool.request(pool, bytes("hello"))).pipe(within("3 seconds", "the connect timeout"))
      )
      assert.isBelow(Date.now() - started, 2000)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(error._tag === "ConnectionError" && error.reason, "OpenFailed")
      const cause = error._tag === "ConnectionError" ? error.cause as { _tag: string; reason: string } : undefined
      assert.strictEqual(cause?._tag, "SocketError")
      assert.strictEqual(cause?.reason, "ConnectTimeout")

      server.child.kill("SIGCONT")
      // Until the resumed server has drained its queue, a new connect can still be ignored and time out; a
      // caller retries that, as a program would (spaced: after a failed open the pool pauses opens, and a borrower
      // arriving in the pause gets the last error at once).
      const reply = yield* IpcPool.request(pool, bytes("resumed")).pipe(
        Effect.retry({
          schedule: Schedule.spaced("250 millis"),
          times: 12,
          while: (error) => error._tag === "ConnectionError"
        }),
        within("5 seconds", "a reply once resumed")
      )
      assert.strictEqual(text(reply), "resumed")
    }))
})
