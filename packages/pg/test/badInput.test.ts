/**
 * Bad input, live: a server that is not there, one that accepts and never answers, a role and a database that do
 * not exist. Each fails with a typed `PgError` naming the host and the reason, within the connect timeout, and
 * through a pool as the pool's `ConnectionError` carrying it; nothing hangs and nothing is left open.
 *
 * (The local server trusts every local login, so a wrong password cannot be provoked here without changing its
 * configuration; an unknown role and an unknown database are the server's refusals that can.)
 */
import { ConnectionPool } from "@connection-pool/core"
import { PgConnection, PgConnector, PgError, PgPool } from "@connection-pool/pg"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as net from "node:net"
import { eventually, postgresUnavailable, requireServer, scopedLive, server, skipWithout, within } from "./utils.js"

const unavailable = await postgresUnavailable()

/** A TCP server on a free port that accepts connections and never says a word; closed with the scope. */
const silentServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly server: net.Server; readonly port: number; readonly sockets: Set<net.Socket> }>(
      (resolve) => {
        const sockets = new Set<net.Socket>()
        const silent = net.createServer((socket) => {
          sockets.add(socket)
          // Reads (and ignores) what the client sends: a socket never read from would not see the client hang up.
          socket.resume()
          socket.on("close", () => sockets.delete(socket))
        })
        silent.listen(
          0,
          "127.0.0.1",
          () => resolve({ server: silent, port: (silent.address() as net.AddressInfo).port, sockets })
        )
      }
    )
  ),
  ({ server, sockets }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
    )
)

/** A port on the loopback where nothing listens: one the system gave and took back. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })
)

const openError = (config: Parameters<typeof PgConnection.connect>[0]) =>
  Effect.flip(Effect.scoped(PgConnection.connect(config))).pipe(within("15 seconds", "the open to fail"))

describe("bad input: opening a session", () => {
  it.live("a closed port: Unreachable (ECONNREFUSED), naming the host", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* openError({ ...server, host: "127.0.0.1", port })
      assert.deepInclude(error, {
        _tag: "PgError",
        reason: "Unreachable",
        code: "ECONNREFUSED",
        host: `127.0.0.1:${port}`
      })
      assert.include(error.message, `postgres 127.0.0.1:${port}: Unreachable (ECONNREFUSED)`)
      assert.isTrue(error.isConnectionFault)
    }))

  it.live("a host name that does not resolve: Unreachable, naming the host", () =>
    Effect.gen(function*() {
      const error = yield* openError({ ...server, host: "no-such-host.invalid", port: 5432 })
      assert.deepInclude(error, { reason: "Unreachable", host: "no-such-host.invalid:5432" })
      assert.include(["ENOTFOUND", "EAI_AGAIN"], error.code)
    }))

  scopedLive(
    "a server that accepts and never answers: ConnectTimedOut within connectionTimeoutMillis",
    () =>
      Effect.gen(function*() {
        const silent = yield* silentServer
        const error = yield* openError({
          ...server,
          host: "127.0.0.1",
          port: silent.port,
          connectionTimeoutMillis: 300
        })
        assert.deepInclude(error, { reason: "ConnectTimedOut", host: `127.0.0.1:${silent.port}` })
        assert.include(error.message, "ConnectTimedOut")
        // The client hung up: the server sees its side of the socket close.
        yield* eventually(Effect.sync(() => silent.sockets.size === 0), "the client to close its socket")
      })
  )
})

describe.skipIf(skipWithout(unavailable))("bad input: the live server refuses the session", () => {
  it.live("a role that does not exist: Rejected (28000), naming the host and the role", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const role = `no_such_role_${process.pid}`
      const error = yield* openError({ ...server, user: role })
      assert.deepInclude(error, { reason: "Rejected", code: "28000", host: `${server.host}:${server.port}` })
      assert.include(error.message, `role "${role}" does not exist`)
    }))

  it.live("a database that does not exist: Rejected (3D000), naming the host and the database", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const database = `no_such_database_${process.pid}`
      const error = yield* openError({ ...server, database })
      assert.deepInclude(error, { reason: "Rejected", code: "3D000", host: `${server.host}:${server.port}` })
      assert.include(error.message, `database "${database}" does not exist`)
    }))

  it.live("through PgPool.query: the pool's ConnectionError carries the PgError, and the pool keeps nothing open", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const database = `no_such_database_${process.pid}`
      const outcome = yield* Effect.gen(function*() {
        const pg = yield* PgPool.make({ ...server, database, pool: { connectionTimeout: "2 seconds" } })
        const exit = yield* Effect.exit(pg.query("SELECT 1"))
        return { exit, stats: yield* pg.pool.stats }
      }).pipe(Effect.scoped, within("15 seconds", "the query to fail"))
      const error = Cause.squash((outcome.exit as Exit.Failure<unknown, unknown>).cause)
      assert.isTrue(Exit.isFailure(outcome.exit))
      assert.deepInclude(error, { _tag: "ConnectionError", reason: "OpenFailed" })
      const cause = (error as { cause: unknown }).cause
      assert.isTrue(PgError.isPgError(cause))
      assert.deepInclude(cause, { reason: "Rejected", code: "3D000" })
      assert.include(
        String((error as { message?: unknown }).message),
        `postgres ${server.host}:${server.port}: Rejected (3D000)`
      )
      assert.strictEqual(outcome.stats.total, 0)
      assert.isAtLeast(outcome.stats.openFailures, 1)
    }))

  it.live("through a pool with the connector: an unreachable server fails the borrower, typed, not after a hang", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const exit = yield* Effect.gen(function*() {
        const pool = yield* ConnectionPool.make(PgConnector.make({ ...server, host: "127.0.0.1", port }), {
          connectionTimeout: "2 seconds"
        })
        return yield* Effect.exit(pool.use((session) => session.query("SELECT 1")))
      }).pipe(Effect.scoped, within("15 seconds", "the borrow to fail"))
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as Error & { readonly _tag: string }
      assert.include(["ConnectionError", "PoolTimeoutError"], error._tag)
      assert.include(error.message, `127.0.0.1:${port}: Unreachable (ECONNREFUSED)`)
    }))
})
