import type { ConnectionPool } from "@connection-pool/core"
import { type IpcConnection, IpcPool, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { failureOption, fork, inScope, isTimeoutError } from "@connection-pool/test-kit/internal/edge/effect"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import { maxAbandoned } from "../src/internal/connection.js"
import { bytes, freePort, tempSocketPath, text } from "./utils.js"

type Transport = "path" | "tcp"

/** A scripted server and a pool of at most `maxConnections` on it, both in the test's scope. */
const setup = (transport: Transport, poolOptions?: ConnectionPool.Options) =>
  Effect.gen(function*() {
    const server = transport === "path"
      ? yield* IpcServer.make({ path: yield* tempSocketPath("fault"), handler: IpcServerFaults.scriptedHandler })
      : yield* IpcServer.make({ port: 0, handler: IpcServerFaults.scriptedHandler })
    const pool = yield* IpcPool.make(server.address, { maxConnections: 1, ...poolOptions })
    return { server, pool }
  })

/** Sends one request and returns the connection it went over, still open. */
const warmConnection = (pool: IpcPool.IpcPool) =>
  pool.use((connection) =>
    Effect.map(connection.request(bytes("warm")), (reply) => {
      assert.strictEqual(text(reply), "warm")
      assert.isTrue(connection.isOpen)
      return connection
    })
  ).pipe(within("2 seconds", "the first request"))

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${String(exit.value)}`)
  const failure = failureOption(exit.cause)
  if (failure._tag === "None") return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** Whatever broke `connection`: a request on a broken connection fails at once with the error that broke it. */
const brokenBy = (connection: IpcConnection.IpcConnection) =>
  Effect.map(Effect.exit(connection.request(bytes("anything"))), typedFailure)

/**
 * After a fault on the pool's only connection: the server sees it gone, the connection is retired, and the next
 * request gets a fresh connection that works. A connection that broke while lent is retired when given back;
 * one that broke while idle stays in the pool until the next borrow finds it closed and retires it instead of
 * lending it.
 */
const assertRecovered = (
  server: IpcServer.IpcServer,
  pool: IpcPool.IpcPool,
  broken: IpcConnection.IpcConnection,
  brokeWhile: "lent" | "idle" = "lent"
) =>
  Effect.gen(function*() {
    assert.isFalse(broken.isOpen)
    yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to drop it"))
    if (brokeWhile === "lent") {
      yield* eventually(
        () => Effect.map(pool.stats, (stats) => stats.total === 0 && stats.closed === 1),
        "the pool to retire the connection"
      )
    }
    const replacement = yield* pool.use((connection) =>
      Effect.map(connection.request(bytes("after")), (reply) => {
        assert.strictEqual(text(reply), "after")
        return connection
      })
    ).pipe(within("2 seconds", "a request after the fault"))
    assert.notStrictEqual(replacement, broken)
    assert.isTrue(replacement.isOpen)
    assert.strictEqual(yield* server.totalAccepted, 2)
    assert.strictEqual(yield* server.openConnections, 1)
    const stats = yield* pool.stats
    assert.strictEqual(stats.closed, 1)
    assert.strictEqual(stats.total, 1)
  })

describe("faults, against real sockets", () => {
  describe("the peer closes or resets the connection", () => {
    it.scopedLive("closed while idle: noticed, retired at the next borrow, replaced", () =>
      Effect.gen(function*() {
        const { pool, server } = yield* setup("path")
        const first = yield* warmConnection(pool)
        assert.strictEqual(yield* server.closeConnections, 1)
        yield* eventually(() => !first.isOpen, "the idle connection to notice the close")
        const error = yield* brokenBy(first)
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error._tag === "SocketError" && error.reason, "Closed")
        yield* assertRecovered(server, pool, first, "idle")
      }))

    it.scopedLive("reset while idle (TCP): noticed as Reset, retired, replaced", () =>
      Effect.gen(function*() {
        const { pool, server } = yield* setup("tcp")
        const first = yield* warmConnection(pool)
        assert.strictEqual(yield* server.resetConnections, 1)
        yield* eventually(() => !first.isOpen, "the idle connection to notice the reset")
        const error = yield* brokenBy(first)
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error._tag === "SocketError" && error.reason, "Reset")
        assert.strictEqual(error._tag === "SocketError" && error.code, "ECONNRESET")
        yield* assertRecovered(server, pool, first, "idle")
      }))

    for (const transport of ["path", "tcp"] as const) {
      it.scopedLive(`closed mid-request (${transport}): the request fails with SocketError Closed`, () =>
        Effect.gen(function*() {
          const { pool, server } = yield* setup(transport)
          const first = yield* warmConnection(pool)
          const error = typedFailure(
            yield* Effect.exit(IpcPool.request(pool, bytes("close")).pipe(within("2 seconds", "the failure")))
          )
          assert.strictEqual(error._tag, "SocketError")
          assert.strictEqual(error._tag === "SocketError" && error.reason, "Closed")
          yield* assertRecovered(server, pool, first)
        }))
    }

    it.scopedLive("reset mid-request (TCP): the request fails with SocketError Reset", () =>
      Effect.gen(function*() {
        const { pool, server } = yield* setup("tcp")
        const first = yield* warmConnection(pool)
        const error = typedFailure(
          yield* Effect.exit(IpcPool.request(pool, bytes("reset")).pipe(within("2 seconds", "the failure")))
        )
        assert.strictEqual(error._tag, "SocketError")
        assert.strictEqual(error._tag === "SocketError" && error.reason, "Reset")
        assert.strictEqual(error._tag === "SocketError" && error.code, "ECONNRESET")
        yield* assertRecovered(server, pool, first)
      }))

    it.scopedLive("every connection dropped at once under load: borrowers fail typed, the pool recovers", () =>
      Effect.gen(function*() {
        // exclusive lending, so that the load holds all four connections (shared: sharedLending.test.ts)
        const { pool, server } = yield* setup("path", { maxConnections: 4, concurrency: 1 })
        const load = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) => Effect.exit(IpcPool.request(pool, bytes(`sleep:30:${i}`))),
          { concurrency: 8 }
        ).pipe(fork)
        yield* server.awaitOpenConnections((open) => open === 4).pipe(within("2 seconds", "four connections"))
        yield* server.closeConnections
        const exits = yield* Fiber.await(load).pipe(Effect.flatten, within("10 seconds", "the load to finish"))
        const failures = exits.filter(Exit.isFailure).map(typedFailure)
        assert.isAbove(failures.length, 0)
        for (const error of failures) {
          assert.strictEqual(error._tag, "SocketError")
          assert.oneOf(error._tag === "SocketError" ? error.reason : undefined, ["Closed", "Reset"])
        }
        assert.isAtMost((yield* server.stats).peakOpen, 4)
        assert.strictEqual(
          text(yield* IpcPool.request(pool, bytes("after")).pipe(within("2 seconds", "a reply"))),
          "after"
        )
      }))
  })

  /** A pool's `ConnectionError` `OpenFailed` whose cause is the connector's `SocketError` with this reason and errno. */
  const assertOpenFailedWith = (error: unknown, reason: string, code: string) => {
    const failure = error as { readonly _tag: string; readonly reason: string; readonly cause: unknown }
    assert.strictEqual(failure._tag, "ConnectionError")
    assert.strictEqual(failure.reason, "OpenFailed")
    const cause = failure.cause as { readonly _tag: string; readonly reason: string; readonly code: string }
    assert.strictEqual(cause._tag, "SocketError")
    assert.strictEqual(cause.reason, reason)
    assert.strictEqual(cause.code, code)
  }

  describe("the server is down", () => {
    it.scopedLive("no socket at the path: ConnectionError OpenFailed caused by PathNotFound; serves once it is back", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("down")
        const pool = yield* IpcPool.make({ path }, { maxConnections: 2 })
        const error = typedFailure(
          yield* Effect.exit(IpcPool.request(pool, bytes("hello")).pipe(within("2 seconds", "a prompt failure")))
        )
        assertOpenFailedWith(error, "PathNotFound", "ENOENT")

        // The server comes up: the same pool serves.
        const serverScope = yield* Scope.make()
        const server = yield* inScope(
          IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler }),
          serverScope
        )
        yield* Effect.sleep("500 millis") // the pause after a failed open (reconnect pacing: at most 500 ms)
        const connection = yield* warmConnection(pool)

        // It goes away again (taking its connections), and comes back again.
        yield* Scope.close(serverScope, Exit.void)
        yield* eventually(() => !connection.isOpen, "the idle connection to notice")
        const again = typedFailure(
          yield* Effect.exit(IpcPool.request(pool, bytes("hello")).pipe(within("2 seconds", "a prompt failure")))
        )
        assert.strictEqual(again._tag, "ConnectionError")
        assert.strictEqual(yield* server.openConnections, 0)
        yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
        yield* Effect.sleep("500 millis") // the pause after a failed open (reconnect pacing: at most 500 ms)
        assert.strictEqual(
          text(yield* IpcPool.request(pool, bytes("again")).pipe(within("2 seconds", "a reply"))),
          "again"
        )
      }))

    it.scopedLive("nothing listens on the port: ConnectionError OpenFailed caused by ConnectionRefused; serves once back", () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const pool = yield* IpcPool.make({ port }, { maxConnections: 2 })
        const error = typedFailure(
          yield* Effect.exit(IpcPool.request(pool, bytes("hello")).pipe(within("2 seconds", "a prompt failure")))
        )
        assertOpenFailedWith(error, "ConnectionRefused", "ECONNREFUSED")
        yield* IpcServer.make({ port, handler: IpcServerFaults.scriptedHandler })
        yield* Effect.sleep("500 millis") // the pause after a failed open (reconnect pacing: at most 500 ms)
        assert.strictEqual(
          text(yield* IpcPool.request(pool, bytes("back")).pipe(within("2 seconds", "a reply"))),
          "back"
        )
      }))
  })

  describe("the server answers something that is not a good reply", () => {
    const cases = [
      { command: "garbage", reason: "MalformedFrame" },
      { command: "truncated", reason: "TruncatedFrame" },
      { command: "oversized", reason: "FrameTooLarge" }
    ] as const
    for (const { command, reason } of cases) {
      it.scopedLive(`${command}: ProtocolError ${reason}, the connection retired, the pool recovers`, () =>
        Effect.gen(function*() {
          const { pool, server } = yield* setup("path")
          const first = yield* warmConnection(pool)
          const error = typedFailure(
            yield* Effect.exit(IpcPool.request(pool, bytes(command)).pipe(within("2 seconds", "the failure")))
          )
          assert.strictEqual(error._tag, "ProtocolError")
          assert.strictEqual(error._tag === "ProtocolError" && error.reason, reason)
          assert.strictEqual(error._tag === "ProtocolError" && error.direction, "receive")
          if (reason === "FrameTooLarge" && error._tag === "ProtocolError") {
            assert.strictEqual(error.size, 64 * 1024 * 1024)
            assert.strictEqual(error.limit, 16 * 1024 * 1024)
          }
          yield* assertRecovered(server, pool, first)
        }))
    }

    it.scopedLive("a bad reply on one connection disturbs no other borrower", () =>
      Effect.gen(function*() {
        // exclusive lending: a bad reply on a shared connection fails every request in flight on it
        const { pool, server } = yield* setup("path", { maxConnections: 4, concurrency: 1 })
        const [garbage, others] = yield* Effect.all([
          Effect.exit(IpcPool.request(pool, bytes("garbage"))),
          Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => Effect.map(IpcPool.request(pool, bytes(`sleep:${i % 5}:reply ${i}`)), text),
            { concurrency: 8 }
          )
        ], { concurrency: "unbounded" }).pipe(within("5 seconds", "the requests"))
        const error = typedFailure(garbage)
        assert.strictEqual(error._tag === "ProtocolError" && error.reason, "MalformedFrame")
        assert.deepStrictEqual(others, Array.from({ length: 40 }, (_, i) => `reply ${i}`))
        const stats = yield* server.stats
        assert.isAtMost(stats.peakOpen, 4)
        yield* eventually(() => Effect.map(pool.stats, (s) => s.closed === 1), "only the one connection to be retired")
      }))
  })

  describe("a reply that never comes", () => {
    it.scopedLive("the user's timeout interrupts the request; the connection stays, and its late reply is dropped", () =>
      Effect.gen(function*() {
        const { pool, server } = yield* setup("path")
        const first = yield* warmConnection(pool)
        const started = Date.now()
        const silent = yield* Effect.exit(IpcPool.request(pool, bytes("silent")).pipe(Effect.timeout("200 millis")))
        assert.isBelow(Date.now() - started, 2000)
        assert.isTrue(isTimeoutError(typedFailure(silent)))
        // A reply that comes after its request gave up: dropped, not taken for another request's or a fault.
        const late = yield* Effect.exit(
          IpcPool.request(pool, bytes("sleep:300:late")).pipe(Effect.timeout("50 millis"))
        )
        assert.isTrue(isTimeoutError(typedFailure(late)))
        yield* Effect.sleep("400 millis")
        assert.isTrue(first.isOpen)
        const again = yield* pool.use((connection) =>
          Effect.map(connection.request(bytes("after")), (reply) => ({ connection, reply: text(reply) }))
        ).pipe(within("2 seconds", "a request after the timeouts"))
        assert.strictEqual(again.reply, "after")
        assert.strictEqual(again.connection, first, "the pool kept the connection")
        const stats = yield* pool.stats
        assert.strictEqual(stats.closed, 0)
        assert.strictEqual(yield* server.totalAccepted, 1)
      }))

    it.scopedLive(`past ${maxAbandoned} replies owed to interrupted requests, the connection is given up (Abandoned)`, () =>
      Effect.gen(function*() {
        const { pool, server } = yield* setup("path")
        const first = yield* warmConnection(pool)
        yield* Effect.forEach(
          Array.from({ length: maxAbandoned }),
          () => Effect.exit(first.request(bytes("silent")).pipe(Effect.timeout("1 millis"))),
          { discard: true }
        ).pipe(within("10 seconds", `${maxAbandoned} interrupted requests`))
        assert.isTrue(first.isOpen, `${maxAbandoned} owed replies are remembered`)
        yield* Effect.exit(first.request(bytes("silent")).pipe(Effect.timeout("1 millis")))
        const broken = yield* brokenBy(first)
        assert.strictEqual(broken._tag === "SocketError" && broken.reason, "Abandoned")
        yield* assertRecovered(server, pool, first, "idle")
      }))

    it.scopedLive("the health check's ping times out on a server that never answers pings: the connection goes", () =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("no-pong")
        const server = yield* IpcServer.make({ path, answerPings: false, handler: IpcServerFaults.scriptedHandler })
        const pool = yield* IpcPool.make({ path, pingTimeout: "50 millis" }, {
          maxConnections: 1,
          healthCheckInterval: "100 millis"
        })
        const first = yield* warmConnection(pool)
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("3 seconds", "the check to drop it"))
        assert.isFalse(first.isOpen)
        const stats = yield* pool.stats
        assert.isAtLeast(stats.healthCheckFailures, 1)
        assert.strictEqual(
          text(yield* IpcPool.request(pool, bytes("fresh")).pipe(within("2 seconds", "a reply"))),
          "fresh"
        )
        assert.strictEqual(yield* server.totalAccepted, 2)
      }))
  })
})
