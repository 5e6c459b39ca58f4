import { IpcPool, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { fork, inScope, Service, soleFailure, yieldNow } from "@connection-pool/test-kit/internal/edge/effect"
import { callback, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { bytes, openFds, tempSocketPath, text } from "./utils.js"

class Pool extends Service<Pool, IpcPool.IpcPool>()("test/IpcPool") {}

/** Whether a client can connect to `path` now: "connected" (then it hangs up at once) or "refused". */
const connectOutcome = (path: string) =>
  callback<"connected" | "refused">((resume) => {
    const socket = net.createConnection({ path })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed("connected"))
    })
    socket.once("error", () => {
      socket.destroy()
      resume(Effect.succeed("refused"))
    })
  })

describe("IpcPool", () => {
  it.scopedLive("never opens more than maxConnections under concurrent load, and closes all with its scope", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("bound")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const poolScope = yield* Scope.make()
      // exclusive lending: 50 fibers need every connection (shared, 16 each, they would need 4)
      const pool = yield* inScope(IpcPool.make({ path }, { maxConnections: 5, concurrency: 1 }), poolScope)

      // Sample the pool's own count while the load runs, next to the server's exact peak.
      let poolPeak = 0
      const sampler = yield* fork(Effect.forever(Effect.andThen(
        Effect.map(pool.stats, (stats) => {
          poolPeak = Math.max(poolPeak, stats.total)
        }),
        Effect.sleep("1 millis")
      )))
      const replies = yield* Effect.forEach(
        Array.from({ length: 300 }, (_, i) => i),
        (i) => Effect.map(IpcPool.request(pool, bytes(`sleep:2:${i}`)), text),
        { concurrency: 50 }
      ).pipe(within("20 seconds", "300 requests"))
      yield* Fiber.interrupt(sampler)
      assert.deepStrictEqual(replies, Array.from({ length: 300 }, (_, i) => String(i)))

      const stats = yield* server.stats
      // Exactly the bound: the load needed every connection, and none was ever opened beyond it or replaced.
      assert.strictEqual(stats.peakOpen, 5)
      assert.strictEqual(stats.accepted, 5)
      assert.strictEqual(stats.open, 5)
      assert.isAtMost(poolPeak, 5)

      yield* Scope.close(poolScope, Exit.void).pipe(within("5 seconds", "the pool to close"))
      yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "every connection to close"))
    }))

  it.scopedLive("10,000 requests over 10 connections from 100 fibers: every reply matches its request", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("crosstalk")
      // The handler answers out of order: some replies wait a turn, so fibers finish in shuffled order.
      const server = yield* IpcServer.make({
        path,
        handler: (payload) =>
          payload[payload.length - 1]! % 3 === 0 ? Effect.as(yieldNow, payload) : Effect.succeed(payload)
      })
      const pool = yield* IpcPool.make({ path }, { maxConnections: 10 })
      const salt = Math.random().toString(36).slice(2)
      const results = yield* Effect.forEach(
        Array.from({ length: 10_000 }, (_, i) => i),
        (i) => {
          const sent = `${i}:${salt}:${"x".repeat(i % 50)}`
          return Effect.map(IpcPool.request(pool, bytes(sent)), (reply) => text(reply) === sent)
        },
        { concurrency: 100 }
      ).pipe(within("40 seconds", "10,000 requests"))
      assert.strictEqual(results.length, 10_000)
      assert.strictEqual(results.filter((matched) => !matched).length, 0)
      const stats = yield* server.stats
      assert.strictEqual(stats.requests, 10_000)
      assert.isAtMost(stats.peakOpen, 10)
      assert.isAtMost(stats.accepted, 10)
    }))

  it.scopedLive("the process's file descriptors are the same before a pool is built and after it closes, 100 times", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("fds")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const cycle = Effect.scoped(Effect.gen(function*() {
        const pool = yield* IpcPool.make({ path }, { maxConnections: 4 })
        yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => IpcPool.request(pool, bytes(`sleep:1:${i}`)),
          { concurrency: 6, discard: true }
        )
        return (yield* pool.stats).total
      }))
      const before = openFds()
      const after: Array<number> = []
      let opened = 0
      for (let i = 0; i < 100; i++) {
        opened += yield* cycle.pipe(within("5 seconds", `cycle ${i}`))
        // At once: none of the pool's sockets is left; only server-side ones that have not seen the hang-up yet.
        const serverSide = yield* server.openConnections
        assert.isAtMost(openFds(), before + serverSide, `cycle ${i}: client descriptors left open`)
        // The client's sockets are released when the pool's scope closes; the server (in this same process)
        // releases its side when it reads the hang-up, which is what this waits for.
        yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server side to close"))
        after.push(openFds())
      }
      assert.isAtLeast(opened, 100)
      assert.deepStrictEqual(after, Array.from({ length: 100 }, () => before))
      assert.isAtLeast(yield* server.totalAccepted, 100)
    }))

  it.scopedLive("the server's error replies do not count against a healthy connection; broken ones retire it", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("faults")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const pool = yield* IpcPool.make({ path }, { maxConnections: 1, maxErrors: 2 })
      // Core's default would count every failure and retire the connection after `maxErrors`.
      for (let i = 0; i < 5; i++) {
        const exit = yield* Effect.exit(IpcPool.request(pool, bytes("fail")).pipe(within("2 seconds", "the reply")))
        assert.isTrue(Exit.isFailure(exit))
      }
      const [record] = yield* pool.connections
      assert.strictEqual(record?.errorCount, 0)
      assert.strictEqual(record?.healthScore, 100)
      assert.strictEqual(yield* server.totalAccepted, 1)

      const garbage = yield* Effect.exit(IpcPool.request(pool, bytes("garbage")).pipe(within("2 seconds", "the reply")))
      assert.isTrue(Exit.isFailure(garbage))
      assert.strictEqual((yield* pool.stats).closed, 1)
    }))

  it.scopedLive("typed requests on a pool", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("typed")
      const Greeting = {
        request: Schema.Struct({ name: Schema.String }),
        response: Schema.Struct({ greeting: Schema.String })
      }
      yield* IpcServer.make({
        path,
        handler: IpcServer.schemaHandler(Greeting, ({ name }) => Effect.succeed({ greeting: `hello ${name}` }))
      })
      const pool = yield* IpcPool.make({ path })
      const greet = IpcPool.requestSchema(Greeting)
      const reply = yield* greet(pool, { name: "pool" }).pipe(within("2 seconds", "the reply"))
      assert.deepStrictEqual(reply, { greeting: "hello pool" })
    }))

  it.live("as layers: a server and a pool provided to a program, both closed with it", () =>
    Effect.gen(function*() {
      const path = yield* Effect.scoped(tempSocketPath("layers"))
      const ServerLive = IpcServer.layer({ path, handler: IpcServer.echoHandler })
      const PoolLive = IpcPool.layer(Pool, { path }, { maxConnections: 2 })
      const fdsBefore = openFds()
      const program = Effect.gen(function*() {
        const pool = yield* Pool
        const server = yield* IpcServer.IpcServer
        const reply = yield* IpcPool.request(pool, bytes("via layers"))
        return { reply: text(reply), open: yield* server.openConnections, name: pool.name, pool, server }
      })
      const { pool, server, ...result } = yield* program.pipe(
        Effect.provide(Layer.merge(PoolLive, ServerLive)),
        within("5 seconds", "the program")
      )
      assert.deepStrictEqual(result, { reply: "via layers", open: 1, name: `unix:${path}` })

      // The program has ended: the pool is closed, its one connection closed with it...
      const stats = yield* pool.stats
      assert.strictEqual(stats.total, 0)
      assert.strictEqual(stats.created, 1)
      assert.strictEqual(stats.closed, 1)
      assert.strictEqual(stats.closedByReason.shutdown, 1)
      const late = yield* Effect.flip(IpcPool.request(pool, bytes("too late")))
      assert.strictEqual(late._tag, "PoolClosedError")
      // ...the server saw the pool's connection close and no longer listens: its socket file is gone and a connect
      // is refused...
      yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to see it close"))
      assert.isFalse(fs.existsSync(path), "the server's socket file is left behind")
      assert.strictEqual(yield* connectOutcome(path), "refused")
      // ...and every socket of both, the listener included, is released.
      yield* eventually(() => openFds() === fdsBefore, "the sockets to be released", "2 seconds")
    }))

  it.live("bad pool or connector options fail the build with both errors typed", () =>
    Effect.gen(function*() {
      const badConnector = yield* Effect.exit(Effect.scoped(IpcPool.make({ port: -1 })))
      assert.isTrue(Exit.isFailure(badConnector))
      const connectorError = Exit.isFailure(badConnector) ? soleFailure(badConnector.cause) : undefined
      if (connectorError !== undefined) {
        assert.strictEqual(connectorError._tag, "InvalidIpcOptions")
      } else {
        assert.fail("expected InvalidIpcOptions")
      }
      const badPool = yield* Effect.exit(Effect.scoped(IpcPool.make({ port: 1 }, { maxConnections: 0 })))
      const poolError = Exit.isFailure(badPool) ? soleFailure(badPool.cause) : undefined
      if (poolError !== undefined) {
        assert.strictEqual(poolError._tag, "InvalidPoolOptions")
      } else {
        assert.fail("expected InvalidPoolOptions")
      }
    }))
})
