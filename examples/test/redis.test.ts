/**
 * The Redis example against the real server: the example runs to completion with its one command and in process,
 * and the connections of `@connection-pool/redis` it runs on behave as the example relies on (large values and
 * pipelines whole and in order, error replies that leave the connection usable, interruption that closes the
 * connection rather than shift replies, server kills as typed faults).
 */
import { RedisConnection, RedisError } from "@connection-pool/redis"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path_ from "node:path"
import { fileURLToPath } from "node:url"
import { address, killClientsNamed, main, RedisPoolLive } from "../redis.js"
import { redisUnavailable, requireServer, skipWithout } from "./realServers.js"

const unavailable = await redisUnavailable()
const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

const key = (name: string) => `examples-redis-test:${process.pid}:${name}`

/** A TCP port nothing listens on: bound to find it, then released. */
const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Exit.succeed(port)))
  })
})

describe.skipIf(skipWithout("Redis", unavailable))("Redis example", () => {
  it("runs to completion with its one command: no request lost after the server killed the pool's connections", async () => {
    if (unavailable !== undefined) assert.fail(`REQUIRE_SERVICES=1 but ${unavailable}`)
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          tsx,
          ["examples/redis.ts"],
          { cwd: root, timeout: 50_000 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout, stderr })
        )
      }
    )
    assert.strictEqual(code, 0, stdout + stderr)
    const killed = /the server killed (\d+) of the pool's connections/.exec(stdout)
    assert.isNotNull(killed, stdout)
    assert.isAbove(Number(killed![1]), 0)
    assert.include(stdout, "2000 of 2000 requests answered, 2000 distinct counter values")
    assert.match(stdout, /pool "examples-redis-\d+": 8\/8 open/)
  })

  it.live("runs in process: its main effect returns what happened", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const outcome = yield* main.pipe(Effect.provide(RedisPoolLive))
      assert.strictEqual(outcome.answered, outcome.requests)
      assert.strictEqual(outcome.killed, 8)
      assert.isAtLeast(outcome.counter, outcome.requests)
      // The killed connections were replaced; the pool closed none other.
      assert.strictEqual(outcome.stats.closed, 8)
      assert.strictEqual(outcome.stats.created - outcome.stats.closed, outcome.stats.total)
    }))

  it.scopedLive("a 1 MB value and 1,000 pipelined commands come back whole and in order", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const redis = yield* RedisConnection.connect(address)
      const big = "x".repeat(1 << 20)
      yield* Effect.addFinalizer(() => Effect.ignore(redis.command("DEL", key("big"), key("count"))))
      assert.strictEqual(yield* redis.command("SET", key("big"), big), "OK")
      assert.strictEqual(yield* redis.command("GET", key("big")), big)
      const replies = yield* redis.run((client) => {
        const pipeline = client.multi()
        for (let i = 0; i < 1000; i++) pipeline.incr(key("count"))
        return pipeline.execAsPipeline()
      })
      assert.deepStrictEqual<ReadonlyArray<unknown>>(replies, Array.from({ length: 1000 }, (_, i) => i + 1))
    }))

  it.scopedLive("an error reply fails the command with RedisCommandError, not a fault, and the connection goes on", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const redis = yield* RedisConnection.connect(address)
      const exit = yield* Effect.exit(redis.command("NOSUCHCOMMAND"))
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<unknown, RedisError.RedisError>).cause)
      assert.instanceOf(error, RedisError.RedisCommandError)
      assert.strictEqual((error as RedisError.RedisCommandError).code, "ERR")
      assert.isFalse(RedisError.isFault((exit as Exit.Failure<unknown, RedisError.RedisError>).cause))
      assert.isTrue(redis.isOpen)
      assert.strictEqual(yield* redis.command("ECHO", "still here"), "still here")
    }))

  it.scopedLive("an interrupted command's late reply goes nowhere: its connection closes, a new one gets its own", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const redis = yield* RedisConnection.connect(address)
      // BLPOP on an empty list answers nil after 0.2 s; the caller gives up after 20 ms.
      const gaveUp = yield* Effect.timeout(redis.command("BLPOP", key("empty"), "0.2"), "20 millis").pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(gaveUp))
      // The connection may still owe the BLPOP's reply: it is closed rather than trusted (a pool replaces it).
      assert.isFalse(redis.isOpen)
      const next = yield* RedisConnection.connect(address)
      assert.strictEqual(yield* next.command("ECHO", "mine"), "mine")
    }))

  it.scopedLive("a connection the server kills fails its pending command with a typed fault and reports closed", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const name = `examples-redis-test-${process.pid}-kill`
      const redis = yield* RedisConnection.connect({ ...address, clientName: name })
      const admin = yield* RedisConnection.connect(address)
      const pending = yield* Effect.fork(Effect.exit(redis.command("BLPOP", key("never"), "5")))
      yield* Effect.sleep("20 millis") // lets the BLPOP reach the server (a bounded wait, not a timing rule)
      assert.strictEqual(yield* killClientsNamed(admin, name), 1)
      const exit = yield* pending.await.pipe(Effect.flatten)
      assert.isTrue(Exit.isFailure(exit))
      const cause = (exit as Exit.Failure<unknown, RedisError.RedisError>).cause
      assert.instanceOf(Cause.squash(cause), RedisError.RedisConnectionError)
      assert.isTrue(RedisError.isFault(cause))
      assert.isFalse(redis.isOpen)
      const next = yield* Effect.exit(redis.command("PING"))
      assert.isTrue(Exit.isFailure(next), "a closed connection fails at once")
    }))
})

describe("Redis connector, without a server", () => {
  it.live("a refused connect and a missing socket path fail with Unreachable", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const refused = yield* Effect.flip(Effect.scoped(RedisConnection.connect({ host: "127.0.0.1", port })))
      assert.strictEqual(refused._tag, "RedisConnectionError")
      assert.deepInclude(refused, { reason: "Unreachable", code: "ECONNREFUSED" })
      const missing = yield* Effect.flip(
        Effect.scoped(RedisConnection.connect({ path: `/tmp/no-redis-${process.pid}.sock` }))
      )
      assert.deepInclude(missing, { reason: "Unreachable", code: "ENOENT" })
    }))

  it.scopedLive("speaks over a Unix socket, and a server sending garbage fails the connection with a typed fault", () =>
    Effect.gen(function*() {
      // A stand-in server on a Unix socket: +OK to every command of the handshake and to PING, then bytes that are
      // not RESP in answer to GET.
      const path = path_.join(os.tmpdir(), `examples-redis-${process.pid}.sock`)
      yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          fs.rmSync(path, { force: true })
          const server = net.createServer((socket) => {
            socket.on("data", (data) => {
              for (const [, name] of data.toString().matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
                socket.write(name === "GET" ? "?garbage\r\n" : "+OK\r\n")
              }
            })
          })
          server.listen(path, () => {
            resume(Exit.succeed(server))
          })
        }),
        (server) =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Exit.void))
          })
      )
      const redis = yield* RedisConnection.connect({ path })
      assert.strictEqual(redis.address, `unix:${path}`)
      yield* redis.ping
      const error = yield* Effect.flip(redis.command("GET", "k")).pipe(Effect.timeout("5 seconds"))
      assert.deepInclude(error, { _tag: "RedisConnectionError", reason: "Closed" })
      assert.include(error.message, "Unknown RESP type")
      assert.isFalse(redis.isOpen)
    }))
})
