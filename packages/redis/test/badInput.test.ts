/**
 * Bad input, live: an unreachable server, a server that never answers, credentials the real server refuses, a
 * database it does not have. Each is a typed `RedisConnectionError` naming the server and the reason, within
 * `connectTimeout`, never a hang; through a pool, the borrower gets the pool's `ConnectionError` carrying it.
 */
import type { ConnectionPool } from "@connection-pool/core"
import { RedisConnection, RedisPool } from "@connection-pool/redis"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as net from "node:net"
import {
  address,
  freePort,
  redisUnavailable,
  requireServer,
  scopedLive,
  silentServer,
  skipWithout,
  within
} from "./utils.js"

const unavailable = await redisUnavailable()

const openFailure = (options: RedisConnection.RedisOptions) =>
  Effect.flip(Effect.scoped(RedisConnection.connect(options))).pipe(within("5 seconds", "the connect to fail"))

describe("bad input, no server needed", () => {
  it.live("a closed port: Unreachable (ECONNREFUSED), naming host and port", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const error = yield* openFailure({ host: "127.0.0.1", port, connectTimeout: "2 seconds" })
      assert.deepInclude(error, {
        _tag: "RedisConnectionError",
        reason: "Unreachable",
        code: "ECONNREFUSED",
        address: `127.0.0.1:${port}`
      })
      assert.match(error.message, new RegExp(`^redis 127\\.0\\.0\\.1:${port}: Unreachable`))
    }))

  it.live("a socket path with nothing there: Unreachable (ENOENT), naming the path", () =>
    Effect.gen(function*() {
      const path = `/tmp/no-redis-${process.pid}.sock`
      const error = yield* openFailure({ path })
      assert.deepInclude(error, { reason: "Unreachable", code: "ENOENT", address: `unix:${path}` })
    }))

  scopedLive(
    "a server that accepts and never answers: ConnectTimeout within connectTimeout, not a hang",
    () =>
      Effect.gen(function*() {
        const port = yield* silentServer
        const error = yield* openFailure({ host: "127.0.0.1", port, connectTimeout: "300 millis" })
        assert.deepInclude(error, { reason: "ConnectTimeout", address: `127.0.0.1:${port}` })
        assert.include(error.message, "within 300ms")
      })
  )

  scopedLive(
    "a server answering bytes that are not RESP: the command fails with a connection error, no hang",
    () =>
      Effect.gen(function*() {
        // A stand-in server: +OK to each command of the handshake and to PING, then garbage in answer to GET.
        const server = yield* Effect.acquireRelease(
          Effect.promise(() =>
            new Promise<net.Server>((resolve) => {
              const server = net.createServer((socket) =>
                socket.on("data", (data) => {
                  for (const [, name] of data.toString().matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
                    socket.write(name === "GET" ? "?garbage\r\n" : "+OK\r\n")
                  }
                })
              )
              server.listen({ host: "127.0.0.1", port: 0 }, () => resolve(server))
            })
          ),
          (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
        )
        const port = (server.address() as net.AddressInfo).port
        const redis = yield* RedisConnection.connect({ host: "127.0.0.1", port })
        yield* redis.ping
        const error = yield* Effect.flip(redis.command("GET", "k")).pipe(within("5 seconds", "the GET to fail"))
        assert.deepInclude(error, { _tag: "RedisConnectionError", reason: "Closed", address: `127.0.0.1:${port}` })
        assert.include(error.message, "Unknown RESP type")
        assert.isFalse(redis.isOpen)
      })
  )

  it.live("a url is read by node-redis and named in errors", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const error = yield* openFailure({ url: `redis://127.0.0.1:${port}/0` })
      assert.deepInclude(error, { reason: "Unreachable", address: `127.0.0.1:${port}` })
    }))

  scopedLive(
    "through a pool: the borrower fails with ConnectionError carrying the Redis error, at once",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const pool = yield* RedisPool.make({ port }, { name: "unreachable", connectionTimeout: "10 seconds" })
        const error = yield* Effect.flip(pool.run((client) => client.ping())).pipe(within("5 seconds", "the borrow"))
        assert.strictEqual(error._tag, "ConnectionError")
        const cause = (error as ConnectionPool.BorrowError & { cause: unknown }).cause
        assert.deepInclude(cause, { _tag: "RedisConnectionError", reason: "Unreachable", code: "ECONNREFUSED" })
      })
  )
})

describe.skipIf(skipWithout(unavailable))("bad input against the real server", () => {
  it.live("a user that does not exist: AuthFailed (WRONGPASS), naming the server", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const error = yield* openFailure({ ...address, username: `nobody-${process.pid}`, password: "wrong" })
      assert.deepInclude(error, { reason: "AuthFailed", code: "WRONGPASS", address: `${address.host}:${address.port}` })
      assert.include(error.message, "WRONGPASS invalid username-password pair")
    }))

  scopedLive(
    "AUTH with a password on a server that has none: the server's ERR reply, typed, not a fault",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        // The handshake (HELLO 3 AUTH default <password>) is accepted: the default user has no password to check.
        // The one-argument AUTH is what this server refuses.
        const redis = yield* RedisConnection.connect({ ...address, password: "wrong" })
        const exit = yield* Effect.exit(redis.command("AUTH", "wrong"))
        assert.isTrue(Exit.isFailure(exit))
        const cause = (exit as Exit.Failure<unknown, unknown>).cause
        assert.deepInclude(Cause.squash(cause), { _tag: "RedisCommandError", reason: "ErrorReply", code: "ERR" })
        assert.include((Cause.squash(cause) as Error).message, "called without any password configured")
        assert.isTrue(redis.isOpen)
      })
  )

  it.live("a database the server does not have: HandshakeFailed, naming the server's reason", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const error = yield* openFailure({ ...address, database: 100_000 })
      assert.deepInclude(error, { reason: "HandshakeFailed", code: "ERR" })
      assert.include(error.message, "DB index is out of range")
    }))

  it.live("a client name with a space: HandshakeFailed from CLIENT SETNAME", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const error = yield* openFailure({ ...address, clientName: "has a space" })
      assert.deepInclude(error, { reason: "HandshakeFailed", code: "ERR" })
    }))
})
