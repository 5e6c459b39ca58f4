/**
 * Chaos against the real server: under steady load, the server kills this pool's connections (`CLIENT KILL` by
 * the pool's client name, never anyone else's) several times. Each killed connection is retired once and replaced;
 * with a retry policy on connection errors no request is lost and every reply is its own request's; without it,
 * every failure is a typed connection error and none hangs.
 *
 * Each request pipelines `ECHO request-<n>` and `INCR <counter>`: the echo proves the reply went to its own
 * request, the counter values (distinct across requests) that no reply was delivered twice.
 */
import { RedisConnection, RedisPool } from "@connection-pool/redis"
import { Edge } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schedule } from "effect"
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
const full = process.env.RELIABILITY === "full"
const size = full
  ? { requests: 40_000, fibers: 64, connections: 16, kills: 20 }
  : { requests: 4_000, fibers: 32, connections: 8, kills: 4 }

/** The documented policy: retry connection failures (a killed connection, a replacement that failed to open). */
const retryConnectionFailures = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
    times: 6,
    while: (error) => error._tag === "RedisConnectionError" || error._tag === "ConnectionError"
  })

const run = (withRetry: boolean) =>
  Effect.gen(function*() {
    yield* requireServer(unavailable)
    const name = clientName(withRetry ? "chaos-retry" : "chaos-no-retry")
    const counter = key(`${name}:counter`)
    const admin = yield* RedisConnection.connect(address)
    yield* Effect.addFinalizer(() => Effect.ignore(admin.command("DEL", counter)))
    const redis = yield* RedisPool.make({ ...address, clientName: name }, {
      name,
      maxConnections: size.connections,
      minConnections: size.connections,
      connectionTimeout: "5 seconds",
      healthCheckInterval: "200 millis"
    })

    let completed = 0
    let failedAttempts = 0
    const request = (n: number) => {
      const attempt = redis.run((client) => client.multi().echo(`request-${n}`).incr(counter).execAsPipeline()).pipe(
        Effect.tapError(() => Effect.sync(() => failedAttempts++))
      )
      return (withRetry ? retryConnectionFailures(attempt) : attempt).pipe(
        Effect.map(([echo, value]) => ({
          matched: typeof echo === "string" && echo === `request-${n}`,
          counter: Number(value)
        })),
        // A request that neither answers nor fails within 10 seconds has hung.
        Effect.timeout("10 seconds"),
        Effect.exit,
        Effect.tap(() => Effect.sync(() => completed++))
      )
    }

    const killer = yield* Effect.forkScoped(Effect.gen(function*() {
      let killed = 0
      for (let round = 1; round <= size.kills; round++) {
        const target = Math.floor((round * size.requests) / (size.kills + 1))
        yield* eventually(Effect.sync(() => completed >= target), `${target} completed requests`, "60 seconds")
        killed += yield* killClientsNamed(admin, name)
      }
      return killed
    }))
    const exits = yield* Effect.forEach(Array.from({ length: size.requests }, (_, n) => n), request, {
      concurrency: size.fibers
    })
    const killed = yield* Fiber.join(killer)

    // Back to full strength: every killed connection retired, replaced, and the server sees exactly the pool's.
    yield* eventually(
      Effect.gen(function*() {
        const stats = yield* redis.pool.stats
        const onServer = yield* countClientsNamed(admin, name)
        return stats.total === size.connections && stats.idle === size.connections && stats.unhealthy === 0 &&
          onServer === size.connections
      }),
      "the pool back to full strength",
      "10 seconds"
    )
    const stats = yield* redis.pool.stats

    let answered = 0
    let mismatched = 0
    let hung = 0
    let defects = 0
    const counters: Array<number> = []
    const failuresByTag: Record<string, number> = {}
    for (const exit of exits) {
      if (Exit.isSuccess(exit)) {
        answered++
        if (!exit.value.matched) mismatched++
        counters.push(exit.value.counter)
        continue
      }
      const failure = Edge.failureOption(exit.cause)
      if (Option.isNone(failure)) defects++
      else if (Edge.isTimeoutError(failure.value)) hung++
      else failuresByTag[failure.value._tag] = (failuresByTag[failure.value._tag] ?? 0) + 1
    }
    return {
      killed,
      stats,
      answered,
      mismatched,
      hung,
      defects,
      failuresByTag,
      failedAttempts,
      duplicates: counters.length - new Set(counters).size,
      counter: Number(yield* admin.command("GET", counter))
    }
  })

const timeout = full ? 300_000 : 60_000

describe.skipIf(skipWithout(unavailable))("chaos: CLIENT KILL of the pool's connections under load", () => {
  scopedLive(
    "with the retry policy: each killed connection retired once and replaced, no request lost",
    (ctx) =>
      Effect.gen(function*() {
        const report = yield* run(true)
        assert.isAtLeast(report.killed, size.kills, "every round killed connections")
        assert.isAbove(report.failedAttempts, 0, "the kills hit requests in flight")
        assert.strictEqual(report.answered, size.requests, "every request answered")
        assert.strictEqual(report.mismatched, 0, "every echo came back to its own request")
        assert.strictEqual(report.duplicates, 0, "no INCR reply delivered twice")
        assert.isAtLeast(report.counter, size.requests, "every answered INCR ran")
        // Each killed connection closed exactly once: as a lent or idle connection (closed), or, killed in its
        // handshake, as an open that failed. Nothing else was closed.
        assert.strictEqual(report.stats.closed + report.stats.openFailures, report.killed)
        assert.strictEqual(report.stats.created - report.stats.closed, size.connections)

        console.log(
          `Redis package chaos, with retries: ${size.requests} requests, ${report.killed} connections killed in ` +
            `${size.kills} rounds, ${report.failedAttempts} attempts retried, ${
              size.requests - report.answered
            } lost, ` +
            `${report.counter - size.requests} INCRs ran twice, ${report.stats.closed} closed, ` +
            `${report.stats.openFailures} failed opens`
        )
        Object.assign(ctx.task.meta, {
          reliability: {
            family: "Real-server chaos: Redis package",
            did: { requests: size.requests, killRounds: size.kills, connectionsKilled: report.killed },
            held: {
              requestsLost: size.requests - report.answered,
              attemptsRetried: report.failedAttempts,
              wrongReplies: report.mismatched + report.duplicates,
              hungRequests: report.hung,
              untypedFailures: report.defects,
              closedOtherThanKilled: report.killed - report.stats.closed - report.stats.openFailures
            }
          }
        })
      }).pipe(within(`${timeout - 5_000} millis`, "the chaos run")),
    timeout
  )

  scopedLive(
    "without it: every failure is a typed connection error, none hangs, and the pool recovers",
    (ctx) =>
      Effect.gen(function*() {
        const report = yield* run(false)
        const failures = Object.values(report.failuresByTag).reduce((sum, n) => sum + n, 0)
        assert.isAtLeast(report.killed, size.kills)
        assert.isAbove(failures, 0, "the kills failed requests")
        for (const tag of Object.keys(report.failuresByTag)) {
          assert.include(["RedisConnectionError", "ConnectionError"], tag)
        }
        assert.strictEqual(report.defects, 0)
        assert.strictEqual(report.hung, 0)
        assert.strictEqual(report.answered + failures, size.requests)
        assert.strictEqual(report.mismatched + report.duplicates, 0)
        assert.strictEqual(report.stats.closed + report.stats.openFailures, report.killed)

        console.log(
          `Redis package chaos, no retries: ${size.requests} requests, ${report.killed} connections killed, ` +
            `failures ${JSON.stringify(report.failuresByTag)}, ${report.stats.closed} closed`
        )
        Object.assign(ctx.task.meta, {
          reliability: {
            family: "Real-server chaos: Redis package",
            did: { requests: size.requests, killRounds: size.kills, connectionsKilled: report.killed },
            held: { typedFailures: failures, untypedFailures: report.defects, hungRequests: report.hung }
          }
        })
      }).pipe(within(`${timeout - 5_000} millis`, "the chaos run")),
    timeout
  )
})
