/**
 * Redis: a pool of connections to a real Redis server with `@connection-pool/redis` (node-redis underneath, `PING`
 * as the health check). Twenty fibers send 2,000 `INCR`s through the pool; halfway through, the server kills every
 * connection of the pool (`CLIENT KILL`, sent from a separate connection). The requests that meet a killed
 * connection fail with a typed `RedisConnectionError`; a retry policy composed by the program (`Effect.retry` with
 * `Schedule.exponential` and jitter, bounded, retrying only connection errors) sends them again on fresh
 * connections, so no request is lost. It ends with the pool's stats.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/redis.ts
 *
 * The server is `REDIS_HOST`:`REDIS_PORT` (default 127.0.0.1:6379), or the Unix socket `REDIS_PATH` if set.
 */
import type { ConnectionPool } from "@connection-pool/core"
import { RedisConnection, type RedisError, RedisPool } from "@connection-pool/redis"
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Effect, Fiber, Schedule } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

export const poolName = `examples-redis-${process.pid}`

export const address: RedisConnection.RedisOptions = process.env.REDIS_PATH !== undefined
  ? { path: process.env.REDIS_PATH }
  : { host: process.env.REDIS_HOST ?? "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) }

// The client name shows in `CLIENT LIST`: it is how the server finds this pool's connections below.
export const RedisPoolLive = RedisPool.layer(
  { ...address, clientName: poolName },
  { name: poolName, maxConnections: 8, connectionTimeout: "5 seconds", healthCheckInterval: "1 second" }
)

/**
 * The retry policy: connection failures (a killed connection, or a replacement that could not be opened) are
 * retried after 10, 20, 40, ... ms with jitter, at most 6 times; anything else (an error reply, a pool timeout)
 * fails at once. Safe to retry here because `INCR`'s reply says what happened; a command that must not run twice
 * needs more care (a reply lost with its connection does not mean the command did not run).
 */
export const retryConnectionFailures = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
    times: 6,
    while: (error) => error._tag === "RedisConnectionError" || error._tag === "ConnectionError"
  })

/**
 * Kills the connections named `clientName` from the server side, as an operator or a failover would: `CLIENT
 * LIST` finds them by name and `CLIENT KILL ID` closes each. (`CLIENT KILL TYPE normal` would also do, but it
 * kills every other client of the server too.) Sent on `admin`, a connection outside the pool. Returns how many
 * were killed.
 */
export const killClientsNamed = (admin: RedisConnection.RedisConnection, clientName: string) =>
  Effect.gen(function*() {
    const clients = yield* admin.run((client) => client.clientList())
    const ids = clients.filter((info) => info.name === clientName).map((info) => String(info.id))
    const replies = yield* admin.run((client) =>
      Promise.all(ids.map((id) => client.sendCommand<number>(["CLIENT", "KILL", "ID", id])))
    )
    return replies.filter((reply) => reply === 1).length
  })

export interface Outcome {
  readonly requests: number
  readonly answered: number
  readonly killed: number
  readonly failedAttempts: number
  readonly counter: number
  readonly stats: ConnectionPool.PoolStats
}

/** The example: the workload, the kill midway, the recovery; returns what happened. */
export const main: Effect.Effect<
  Outcome,
  RedisError.RedisError | ConnectionPool.BorrowError,
  RedisPool.RedisPool
> = Effect.gen(function*() {
  const { pool } = yield* RedisPool.RedisPool
  const key = `${poolName}:counter`
  const requests = 2_000
  let answered = 0
  let failedAttempts = 0
  const halfway = yield* Deferred.make<void>()

  // One request: borrow a connection, INCR, give it back; retried on connection failures.
  const increment = RedisPool.run((client) => client.incr(key)).pipe(
    Effect.tapError(() => Effect.sync(() => failedAttempts++)),
    retryConnectionFailures,
    Effect.tap(() => ++answered === requests / 2 ? Deferred.succeed(halfway, undefined) : Effect.void)
  )

  const killer = yield* Effect.fork(Effect.zipRight(
    Deferred.await(halfway),
    Effect.scoped(Effect.flatMap(RedisConnection.connect(address), (admin) => killClientsNamed(admin, poolName))).pipe(
      Effect.tap((killed) => Effect.log(`halfway: the server killed ${killed} of the pool's connections`))
    )
  ))
  const replies = yield* Effect.forEach(Array.from({ length: requests }), () => increment, { concurrency: 20 })
  const killed = yield* Fiber.join(killer)

  // Every INCR got its own reply: no reply went to the wrong request.
  const distinct = new Set(replies).size
  yield* Effect.log(`${failedAttempts} attempt(s) met a killed connection and were retried`)
  yield* Effect.log(`${answered} of ${requests} requests answered, ${distinct} distinct counter values`)
  const counter = Number(yield* RedisPool.run((client) => client.get(key)))
  // A reply lost with a killed connection does not mean the INCR did not run: the counter can exceed the
  // number of requests by the INCRs that ran and were then retried.
  yield* Effect.log(`counter ${counter}: ${counter - requests} INCR(s) ran and lost their reply, then retried`)
  yield* RedisPool.run((client) => client.del(key))

  const stats = yield* pool.stats
  yield* Effect.log(stats.summary)
  return { requests, answered, killed, failedAttempts, counter, stats }
})

// Run as a program only when executed directly, not when a test imports it.
if (process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  NodeRuntime.runMain(main.pipe(Effect.provide(RedisPoolLive)))
}
