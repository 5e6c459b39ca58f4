/**
 * Real-server chaos against Redis: under steady load, the server kills the pool's connections (`CLIENT KILL`)
 * several times, then once more while all are idle. With the retry policy of `examples/redis.ts` no request is
 * lost; without it every failure is a typed error; either way the pool is back to full health within one health
 * interval and leaks nothing.
 *
 * Each request pipelines `ECHO request-<n>` and `INCR <counter>`: the echo proves the reply went to its own
 * request, and the counter values, distinct across requests, prove no reply was delivered twice.
 */
import { RedisConnection, type RedisError } from "@connection-pool/redis"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { address, killClientsNamed, retryConnectionFailures } from "../redis.js"
import {
  assertRecoveredWithoutLeaks,
  assertTypedFailuresOnly,
  full,
  reliabilityFigures,
  runChaos,
  size,
  type Target
} from "./chaos.js"
import { redisUnavailable, requireServer, skipWithout } from "./realServers.js"

const unavailable = await redisUnavailable()
const family = "Real-server chaos: Redis"

const countNamed = (admin: RedisConnection.RedisConnection, name: string) =>
  Effect.map(admin.run((client) => client.clientList()), (clients) => clients.filter((c) => c.name === name).length)

const redis = (
  admin: RedisConnection.RedisConnection,
  counterKey: string
): Target<RedisConnection.RedisConnection, RedisError.RedisError> => ({
  connector: (name) => RedisConnection.connector({ ...address, clientName: name }),
  // One round trip: ECHO and INCR pipelined (not a transaction).
  request: (connection, n) =>
    Effect.map(
      connection.run((client) => client.multi().echo(`request-${n}`).incr(counterKey).execAsPipeline()),
      ([echo, counter]) => ({
        matched: typeof echo === "string" && echo === `request-${n}` && typeof counter === "number",
        counter: typeof counter === "number" ? counter : undefined
      })
    ),
  retry: retryConnectionFailures,
  kill: (name) => killClientsNamed(admin, name),
  serverCount: (name) => countNamed(admin, name)
})

/** An admin connection outside the pool, and a counter key removed afterwards. */
const withAdmin = (label: string) =>
  Effect.gen(function*() {
    const admin = yield* RedisConnection.connect(address)
    const counterKey = `chaos-redis:${process.pid}:${label}:counter`
    yield* Effect.addFinalizer(() => Effect.ignore(admin.command("DEL", counterKey)))
    return { admin, counterKey }
  })

const timeout = full ? 300_000 : 60_000

describe.skipIf(skipWithout("Redis", unavailable))("chaos: Redis connections killed by the server", () => {
  it.scopedLive(
    "with the retry policy: no request is lost, every reply is its request's own",
    (ctx) =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const { admin, counterKey } = yield* withAdmin("retry")
        const report = yield* runChaos(redis(admin, counterKey), { withRetry: true, label: "redis-retry" })
        const counter = Number(yield* admin.command("GET", counterKey))

        assert.isAtLeast(report.connectionsKilled, size.kills + 1, "every round killed connections")
        assert.isAbove(report.failedAttempts, 0, "the kills hit requests in flight")
        assert.strictEqual(report.answered, report.requests, "every request answered")
        assert.deepStrictEqual(report.failuresByTag, {})
        assert.strictEqual(report.defects, 0)
        assert.strictEqual(report.hung, 0)
        assert.strictEqual(report.mismatched, 0, "every echo came back to its own request")
        assert.strictEqual(report.duplicateCounters, 0, "no INCR reply was delivered twice")
        // Every answered INCR ran; the counter is higher by the INCRs whose reply was lost with a killed
        // connection and which the policy then ran again.
        assert.isAtLeast(counter, report.requests)
        assert.isAtMost(Math.max(...report.counters), counter)
        assertRecoveredWithoutLeaks(report)

        console.log(
          `Redis chaos, with retries: ${report.requests} requests, ${report.connectionsKilled} connections killed in ` +
            `${report.killRounds} rounds, ${report.failedAttempts} attempts retried, ${
              report.requests - report.answered
            } ` +
            `lost, ${
              counter - report.requests
            } INCRs ran twice, killed ones retired in ${report.retiredMillis} ms, back to full health in ${report.recoveryMillis} ms (slowest reopen ${report.slowestReopenMillis} ms)`
        )
        Object.assign(ctx.task.meta, {
          reliability: {
            ...reliabilityFigures(family, report, true),
            held: { ...reliabilityFigures(family, report, true).held, incrsRunTwice: counter - report.requests }
          }
        })
      }),
    timeout
  )

  it.scopedLive(
    "without it: every failure is a typed connection error, none hangs, and the pool recovers",
    (ctx) =>
      Effect.gen(function*() {
        yield* requireServer(unavailable)
        const { admin, counterKey } = yield* withAdmin("no-retry")
        const report = yield* runChaos(redis(admin, counterKey), { withRetry: false, label: "redis-no-retry" })

        assertTypedFailuresOnly(report, ["RedisConnectionError", "ConnectionError"])
        assert.strictEqual(report.duplicateCounters, 0)
        assertRecoveredWithoutLeaks(report)

        console.log(
          `Redis chaos, no retries: ${report.requests} requests, ${report.connectionsKilled} connections killed, ` +
            `failures ${
              JSON.stringify(report.failuresByTag)
            }, killed ones retired in ${report.retiredMillis} ms, back to full health in ${report.recoveryMillis} ms (slowest reopen ${report.slowestReopenMillis} ms)`
        )
        Object.assign(ctx.task.meta, {
          reliability: {
            ...reliabilityFigures(family, report, false),
            held: { ...reliabilityFigures(family, report, false).held, ...prefixed(report.failuresByTag) }
          }
        })
      }),
    timeout
  )
})

const prefixed = (byTag: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(byTag).map(([tag, count]) => [`failed${tag}`, count]))
