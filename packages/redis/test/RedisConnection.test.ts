/**
 * Connections and the pool against the real server: node-redis's typed commands, error replies that leave the
 * connection in the pool, transactions with WATCH, blocking pops, subscribers, and the state a borrower could leave
 * behind (a WATCH, a subscription, an interrupted BLPOP) never reaching the next borrower.
 */
import { ConnectionPool } from "@connection-pool/core"
import { RedisConnection, RedisError, RedisPool } from "@connection-pool/redis"
import { assert, describe } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schedule, Stream } from "effect"
import {
  address,
  clientName,
  countClientsNamed,
  eventually,
  key,
  killClientsNamed,
  redisUnavailable,
  requireServer,
  scopedLive,
  skipWithout,
  within
} from "./utils.js"

const unavailable = await redisUnavailable()

/** A connection outside the pools under test, which removes this test's keys when its scope closes. */
const admin = (...keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* requireServer(unavailable)
    const connection = yield* RedisConnection.connect(address)
    yield* Effect.addFinalizer(() =>
      keys.length === 0 ? Effect.void : Effect.ignore(connection.command("DEL", ...keys))
    )
    return connection
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Cause.squash((exit as Exit.Failure<A, E>).cause) as E
}

describe.skipIf(skipWithout(unavailable))("RedisConnection, live", () => {
  scopedLive("runs node-redis's typed commands and commands by name", () =>
    Effect.gen(function*() {
      const counter = key("typed")
      yield* admin(counter)
      const redis = yield* RedisConnection.connect(address)
      assert.isTrue(RedisConnection.isRedisConnection(redis))
      assert.strictEqual(redis.address, `${address.host}:${address.port}`)
      const first: number = yield* redis.run((client) => client.incr(counter))
      assert.strictEqual(first, 1)
      assert.strictEqual(yield* redis.command("INCRBY", counter, "41"), 42)
      assert.strictEqual(yield* redis.run((client) => client.get(counter)), "42")
    }))

  scopedLive(
    "an error reply fails the command with RedisCommandError, not a fault; the connection goes on",
    () =>
      Effect.gen(function*() {
        const text = key("text")
        yield* admin(text)
        const redis = yield* RedisConnection.connect(address)
        const misspelt = failureOf(yield* Effect.exit(redis.command("INCRR", text)))
        assert.strictEqual(misspelt._tag, "RedisCommandError")
        assert.deepInclude(misspelt, { reason: "ErrorReply", code: "ERR", address: redis.address })
        assert.include(misspelt.message, "unknown command")
        yield* redis.run((client) => client.set(text, "not a number"))
        const wrongValue = yield* Effect.exit(redis.run((client) => client.incr(text)))
        assert.deepInclude(failureOf(wrongValue), { reason: "ErrorReply", code: "ERR" })
        assert.isFalse(RedisError.isFault((wrongValue as Exit.Failure<number, RedisError.RedisError>).cause))
        assert.isTrue(redis.isOpen)
        assert.strictEqual(yield* redis.run((client) => client.echo("still here")), "still here")
      })
  )

  scopedLive(
    "many -ERR replies to a misspelt command do not retire the pooled connection",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const pool = yield* RedisPool.make(address, { maxConnections: 1, maxErrors: 5 })
        const exits = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.exit(pool.command("GETT", "k")))
        for (const exit of exits) assert.deepInclude(failureOf(exit), { _tag: "RedisCommandError", code: "ERR" })
        const [connection] = yield* pool.pool.connections
        assert.strictEqual(connection!.errorCount, 0)
        assert.strictEqual(connection!.healthScore, 100)
        const stats = yield* pool.pool.stats
        assert.strictEqual(stats.created, 1)
        assert.strictEqual(stats.closed, 0)
        assert.strictEqual(yield* pool.run((client) => client.ping()), "PONG")
      })
  )

  scopedLive(
    "WATCH / MULTI / EXEC: a transaction commits, and one whose key another client changed is aborted",
    () =>
      Effect.gen(function*() {
        const balance = key("balance")
        const other = yield* admin(balance)
        yield* other.run((client) => client.set(balance, "10"))
        const redis = yield* RedisConnection.connect(address)
        const double = (meanwhile: Effect.Effect<unknown, RedisError.RedisError>) =>
          redis.watch(
            balance,
            Effect.gen(function*() {
              const value = Number(yield* redis.run((client) => client.get(balance)))
              yield* meanwhile
              return yield* redis.run((client) => client.multi().set(balance, String(value * 2)).exec())
            })
          )
        assert.deepStrictEqual<ReadonlyArray<unknown>>(yield* double(Effect.void), ["OK"])
        assert.strictEqual(yield* other.run((client) => client.get(balance)), "20")

        const aborted = failureOf(yield* Effect.exit(double(other.run((client) => client.set(balance, "7")))))
        assert.deepInclude(aborted, { _tag: "RedisCommandError", reason: "TransactionAborted", code: "EXECABORT" })
        assert.strictEqual(
          yield* other.run((client) => client.get(balance)),
          "7",
          "the aborted transaction wrote nothing"
        )
        assert.isFalse(redis.client.isWatching)
        assert.isTrue(redis.isOpen)
      })
  )

  scopedLive(
    "a transaction body that fails is followed by UNWATCH: the next transaction is not aborted by it",
    () =>
      Effect.gen(function*() {
        const watched = key("watched")
        const other = yield* admin(watched)
        const redis = yield* RedisConnection.connect(address)
        const failed = yield* Effect.exit(redis.watch(watched, Effect.fail("gave up before EXEC" as const)))
        assert.strictEqual(failureOf(failed), "gave up before EXEC")
        assert.isFalse(redis.client.isWatching)
        // Had the WATCH stayed, this change would abort the unrelated transaction below.
        yield* other.run((client) => client.set(watched, "changed"))
        assert.deepStrictEqual<ReadonlyArray<unknown>>(
          yield* redis.run((client) => client.multi().incr(key("unrelated")).exec()),
          [1]
        )
        yield* other.command("DEL", key("unrelated"))
      })
  )

  scopedLive(
    "a pooled transaction retried on TransactionAborted commits every increment exactly once",
    () =>
      Effect.gen(function*() {
        const counter = key("optimistic")
        const other = yield* admin(counter)
        yield* other.run((client) => client.set(counter, "0"))
        const pool = yield* RedisPool.make(address, { maxConnections: 4 })
        let aborted = 0
        const increment = pool.use((redis) =>
          redis.watch(
            counter,
            Effect.gen(function*() {
              const value = Number(yield* redis.run((client) => client.get(counter)))
              return yield* redis.run((client) => client.multi().set(counter, String(value + 1)).exec())
            })
          )
        ).pipe(
          Effect.tapError(() => Effect.sync(() => aborted++)),
          Effect.retry({
            schedule: Schedule.jittered(Schedule.spaced("1 millis")),
            times: 200,
            while: (error) => error._tag === "RedisCommandError" && error.reason === "TransactionAborted"
          })
        )
        yield* Effect.forEach(Array.from({ length: 40 }), () => increment, { concurrency: 8 })
        assert.strictEqual(yield* other.run((client) => client.get(counter)), "40")
        const stats = yield* pool.pool.stats
        assert.strictEqual(stats.closed, 0, `${aborted} aborted transactions retired no connection`)
      })
  )

  scopedLive(
    "BLPOP on a connection of its own receives an element pushed by another client",
    () =>
      Effect.gen(function*() {
        const jobs = key("jobs")
        const other = yield* admin(jobs)
        const pool = yield* RedisPool.make(address, { maxConnections: 2 })
        const waiting = yield* Effect.forkScoped(pool.run((client) => client.blPop(jobs, 5)))
        yield* eventually(Effect.map(pool.pool.stats, (stats) => stats.inUse === 1), "the BLPOP to borrow a connection")
        yield* other.run((client) => client.rPush(jobs, "job-1"))
        const popped = yield* Fiber.join(waiting).pipe(within("5 seconds", "BLPOP to return"))
        assert.deepStrictEqual(popped, { key: jobs, element: "job-1" })
      })
  )

  scopedLive(
    "a BLPOP interrupted in flight closes its connection; the pool replaces it, no one inherits it",
    () =>
      Effect.gen(function*() {
        const name = clientName("blpop")
        const jobs = key("never")
        const other = yield* admin(jobs)
        const pool = yield* RedisPool.make({ ...address, clientName: name }, { maxConnections: 1 })
        const blocked = yield* Effect.forkScoped(pool.run((client) => client.blPop(jobs, 0)))
        yield* eventually(
          Effect.map(
            other.run((client) => client.clientList()),
            (clients) => clients.some((info) => info.name === name && info.cmd === "blpop")
          ),
          "the BLPOP to block on the server"
        )
        yield* Fiber.interrupt(blocked)
        // BLPOP 0 blocks forever: had the connection been lent again, this push would go to the abandoned BLPOP and
        // the ECHO below would wait behind it.
        yield* other.run((client) => client.rPush(jobs, "lost?"))
        assert.strictEqual(
          yield* pool.run((client) => client.echo("mine")).pipe(within("5 seconds", "the next borrower's ECHO")),
          "mine"
        )
        assert.strictEqual(yield* other.run((client) => client.lLen(jobs)), 1, "the element is still in the list")
        const stats = yield* pool.pool.stats
        assert.strictEqual(stats.created, 2)
        assert.strictEqual(stats.closed, 1)
        yield* eventually(Effect.map(countClientsNamed(other, name), (n) => n === 1), "the server to drop the first")
      })
  )

  scopedLive(
    "a subscriber receives what is published, then unsubscribes and its connection is lent again",
    () =>
      Effect.gen(function*() {
        const channel = key("news")
        const other = yield* admin()
        const pool = yield* RedisPool.make(address, { maxConnections: 1 })
        let taken = false
        const received = yield* Effect.forkScoped(
          pool.subscribe(channel).pipe(
            Stream.take(3),
            Stream.runCollect,
            Effect.ensuring(Effect.sync(() => {
              taken = true
            }))
          )
        )
        // Publish until the subscriber has taken three: each PUBLISH says how many subscribers received it.
        yield* eventually(
          Effect.map(other.run((client) => client.publish(channel, "hello")), () => taken),
          "three messages to reach the subscriber"
        )
        const messages = yield* Fiber.join(received)
        assert.deepStrictEqual(Array.from(messages), Array(3).fill({ channel, message: "hello" }))
        assert.strictEqual(yield* pool.run((client) => client.ping()), "PONG")
        const stats = yield* pool.pool.stats
        assert.strictEqual(stats.closed, 0, "unsubscribed, the connection went back to the pool")
      })
  )

  scopedLive(
    "a subscriber whose connection the server kills fails with RedisConnectionError",
    () =>
      Effect.gen(function*() {
        const name = clientName("subscriber")
        const other = yield* admin()
        const pool = yield* RedisPool.make({ ...address, clientName: name }, { maxConnections: 1 })
        const subscriber = yield* Effect.forkScoped(pool.subscribe(key("quiet")).pipe(Stream.runDrain, Effect.exit))
        yield* eventually(Effect.map(pool.pool.stats, (stats) => stats.inUse === 1), "the subscriber to borrow")
        yield* eventually(
          Effect.map(other.run((client) => client.pubSubNumSub(key("quiet"))), (counts) => counts[key("quiet")] === 1),
          "the subscription to reach the server"
        )
        assert.strictEqual(yield* killClientsNamed(other, name), 1)
        const exit = yield* Fiber.join(subscriber).pipe(within("5 seconds", "the stream to fail"))
        assert.deepInclude(failureOf(exit), { _tag: "RedisConnectionError", reason: "Closed" })
        assert.isTrue(RedisError.isFault((exit as Exit.Failure<void, unknown>).cause))
      })
  )

  scopedLive(
    "a connection returned still WATCHing (the helper bypassed) is retired, not lent again",
    () =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const pool = yield* RedisPool.make(address, { maxConnections: 1 })
        yield* pool.run((client) => client.watch(key("raw-watch")))
        assert.isFalse(yield* pool.run((client) => Promise.resolve(client.isWatching)))
        const stats = yield* pool.pool.stats
        assert.strictEqual(stats.closed, 1)
      })
  )

  scopedLive("the layer: RedisPool.run and RedisPool.command from a program's services", () =>
    Effect.gen(function*() {
      const greeting = key("greeting")
      yield* admin(greeting)
      const program = Effect.gen(function*() {
        yield* RedisPool.run((client) => client.set(greeting, "hello"))
        const value = yield* RedisPool.command("GET", greeting)
        const { pool } = yield* RedisPool.RedisPool
        return { value, stats: yield* pool.stats }
      })
      const { stats, value } = yield* program.pipe(Effect.provide(RedisPool.layer(address, { name: "layer-test" })))
      assert.strictEqual(value, "hello")
      assert.strictEqual(stats.created, 1)
      assert.match(stats.summary, /^pool "layer-test": 1\/10 open/)
    }))
})

describe.skipIf(skipWithout(unavailable))("RedisConnection, connector for a pool", () => {
  scopedLive("its check is PING and it judges faults by tag", () =>
    Effect.gen(function*() {
      yield* requireServer(unavailable)
      const connector = RedisConnection.connector(address)
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      const connection = yield* pool.use((redis) => Effect.succeed(redis))
      yield* connector.check(connection)
      const reply = new RedisError.RedisCommandError({ reason: "ErrorReply", address: "a", code: "ERR", cause: "x" })
      const broken = new RedisError.RedisConnectionError({ reason: "Closed", address: "a", cause: "x" })
      assert.isFalse(connector.isFault(Cause.fail(reply)))
      assert.isTrue(connector.isFault(Cause.fail(broken)))
      assert.isTrue(connector.isFault(Cause.die(broken)))
      assert.isFalse(connector.isFault(Cause.fail("the borrower's own error")))
      assert.isTrue(RedisError.isRedisError(reply))
      yield* connection.close
      assert.isFalse(connection.isOpen)
      assert.isFalse(connector.isOpen(connection))
      const closed = failureOf(yield* Effect.exit(connection.command("PING")))
      assert.deepInclude(closed, { _tag: "RedisConnectionError", reason: "Closed" })
    }))
})
