/**
 * Shared lending over real sockets (issue 15): several borrowers on one IPC connection at once, when the server
 * drops that connection, when the server process is killed under shared load, and when the pool closes with
 * shared loans outstanding.
 */
import { IpcError, IpcPool, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import type { IpcConnection } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { fork, inScope, isInterrupted, isTimeoutError } from "@connection-pool/test-kit/internal/edge/effect"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schedule, Scope } from "effect"
import { bytes, forkServer, openFds, tempSocketPath, text } from "./utils.js"

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) as { readonly _tag: string; readonly reason?: string } : undefined

describe("shared lending over real sockets", () => {
  it.scopedLive("the server drops a connection with 10 requests in flight: 10 typed failures, retired once, replaced", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("shared-drop")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const pool = yield* IpcPool.make({ path }, { maxConnections: 1, concurrency: 10 })
      // warm: one connection open, client and server side; the descriptors with it are the baseline
      assert.strictEqual(text(yield* IpcPool.request(pool, bytes("warm")).pipe(within("2 seconds", "a reply"))), "warm")
      const fdsWarm = openFds()
      const seen = new Set<IpcConnection.IpcConnection>()
      // Forked from the test's own fiber (see clientBackpressure.test.ts): not inside a concurrent forEach's workers.
      const requests = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) =>
          fork(pool.use((connection) => {
            seen.add(connection)
            return connection.request(bytes(`sleep:60000:${i}`))
          }))
      )
      yield* eventually(() => seen.size === 1 && [...seen][0]!.pendingRequests === 10, "10 requests on one connection")
      const [info] = yield* pool.connections
      assert.strictEqual(info!.borrowers, 10)
      assert.strictEqual((yield* pool.stats).loans, 10)

      assert.strictEqual(yield* server.closeConnections, 1)
      const exits = yield* Effect.forEach(requests, Fiber.await).pipe(within("2 seconds", "10 failures"))
      for (const exit of exits) {
        const error = failureOf(exit)
        assert.strictEqual(error?._tag, "SocketError", String(exit))
        assert.oneOf(error?.reason, ["Closed", "Reset"])
      }
      yield* eventually(() => Effect.map(pool.stats, (s) => s.closed === 1 && s.total === 0), "the connection retired")
      const stats = yield* pool.stats
      assert.strictEqual(stats.closedByReason.disconnected, 1)
      assert.strictEqual(stats.loans, 0)
      // the ten faults counted once against it
      // replaced: the next request opens a new connection and is answered
      assert.strictEqual(
        text(yield* IpcPool.request(pool, bytes("again")).pipe(within("2 seconds", "a reply"))),
        "again"
      )
      assert.strictEqual((yield* pool.stats).created, 2)
      assert.strictEqual((yield* pool.stats).closed, 1)
      // no descriptor leaked: the dropped connection's are gone, the new one's replace them
      yield* eventually(() => openFds() === fdsWarm, `descriptors back to ${fdsWarm}`)
    }))

  it.scopedLive("a borrower that times out fails nobody else on its connection: its late reply is dropped", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("shared-timeout")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const pool = yield* IpcPool.make({ path }, { maxConnections: 1, concurrency: 10 })
      assert.strictEqual(text(yield* IpcPool.request(pool, bytes("warm")).pipe(within("2 seconds", "a reply"))), "warm")
      // 9 borrowers wait 300 ms for their replies; one gives up after 50 ms on a reply due at 200 ms
      const patient = yield* Effect.forEach(
        Array.from({ length: 9 }, (_, i) => i),
        (i) => fork(IpcPool.request(pool, bytes(`sleep:300:${i}`)).pipe(Effect.map(text)))
      )
      const impatient = yield* Effect.exit(
        IpcPool.request(pool, bytes("sleep:200:late")).pipe(Effect.timeout("50 millis"))
      )
      assert.isTrue(isTimeoutError(failureOf(impatient)))
      const replies = yield* Effect.forEach(patient, Fiber.join).pipe(within("3 seconds", "9 replies"))
      assert.deepStrictEqual(replies, Array.from({ length: 9 }, (_, i) => String(i)))
      const stats = yield* pool.stats
      assert.strictEqual(stats.closed, 0, "the connection was kept")
      assert.strictEqual(stats.created, 1)
      assert.strictEqual(yield* server.totalAccepted, 1)
    }))

  it.scopedLive("SIGKILL of the server under shared load: with openRetry and a retry on connection faults, no request is lost", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("shared-kill")
      const firstScope = yield* Scope.make()
      const first = yield* inScope(forkServer(["--path", path, "--handler", "scripted"]), firstScope)
      // The retry policy the package documents: the pool retries opens while borrowers wait (openRetry), and a
      // request in flight on a connection that broke is retried on another (IpcError.isConnectionFault).
      const pool = yield* IpcPool.make({ path }, {
        maxConnections: 4,
        openRetry: Schedule.spaced("50 millis"),
        connectionTimeout: "60 seconds"
      })
      const request = (i: number) =>
        IpcPool.request(pool, bytes(`sleep:5:${i}`)).pipe(
          Effect.map(text),
          Effect.retry({ while: IpcError.isConnectionFault, schedule: Schedule.spaced("20 millis"), times: 50 })
        )
      let answered = 0
      const load = yield* fork(
        Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          (i) => Effect.tap(request(i), () => Effect.sync(() => answered++)),
          { concurrency: 50 }
        )
      )
      yield* eventually(() => answered >= 50, "the load to run")
      const poolStats = yield* pool.stats
      assert.isAbove(poolStats.loans, poolStats.inUse, "connections are shared")
      assert.strictEqual(yield* first.kill("SIGKILL"), "SIGKILL")
      yield* Effect.sleep("200 millis")
      const second = yield* forkServer(["--path", path, "--handler", "scripted"])
      assert.notStrictEqual(second.pid, first.pid)
      const replies = yield* Fiber.join(load).pipe(within("90 seconds", "every request to be answered"))
      assert.deepStrictEqual(replies, Array.from({ length: 400 }, (_, i) => String(i)))
      const stats = yield* pool.stats
      assert.isAtLeast(stats.closedByReason.disconnected, 1)
      assert.strictEqual(stats.loans, 0)
      yield* Scope.close(firstScope, Exit.void)
    }))

  it.scopedLive("the pool closes with shared loans outstanding: shutdownTimeout is honoured per loan", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("shared-shutdown")
      const server = yield* IpcServer.make({ path, handler: IpcServerFaults.scriptedHandler })
      const poolScope = yield* Scope.make()
      const pool = yield* inScope(
        IpcPool.make({ path }, { maxConnections: 2, concurrency: 8, shutdownTimeout: "300 millis" }),
        poolScope
      )
      const stuck = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) => fork(IpcPool.request(pool, bytes(`sleep:60000:stuck ${i}`)))
      )
      const quick = yield* Effect.forEach(
        Array.from({ length: 4 }, (_, i) => i),
        (i) => fork(IpcPool.request(pool, bytes(`sleep:100:quick ${i}`)))
      )
      yield* eventually(() => Effect.map(pool.stats, (s) => s.loans === 16 && s.inUse === 2), "16 loans on 2")
      const started = Date.now()
      yield* Scope.close(poolScope, Exit.void).pipe(within("3 seconds", "the pool to close"))
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, 250, "closed before shutdownTimeout")
      // the quick ones came back in time with their replies; the others were interrupted, each of them
      const quickExits = yield* Effect.forEach(quick, Fiber.await)
      assert.deepStrictEqual(
        quickExits.map((exit) => Exit.isSuccess(exit) ? text(exit.value) : String(exit)),
        [0, 1, 2, 3].map((i) => `quick ${i}`)
      )
      for (const fiber of stuck) assert.isTrue(isInterrupted(yield* Fiber.await(fiber)))
      const stats = yield* pool.stats
      assert.strictEqual(stats.interruptedAtShutdown, 12)
      assert.strictEqual(stats.total, 0)
      yield* server.awaitOpenConnections((open) => open === 0).pipe(within("2 seconds", "the server to see the closes"))
    }))
})
