/**
 * The live Redis server of these tests (`REDIS_HOST`:`REDIS_PORT`, default 127.0.0.1:6379): whether it answers,
 * the rule when it does not (skip with a printed reason; fail under `REQUIRE_SERVICES=1`, as CI runs), keys and
 * client names unique to this run, and bounded waits.
 */
import type { RedisConnection } from "@connection-pool/redis"
import * as Kit from "@connection-pool/test-kit"
import { it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import * as net from "node:net"

export const address = {
  host: process.env.REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.REDIS_PORT ?? 6379)
} satisfies RedisConnection.RedisOptions

/** Unique to this process and test file: parallel runs never share a key or a client name. */
export const runId = `cp-redis-test-${process.pid}-${Date.now().toString(36)}`
export const key = (name: string) => `${runId}:${name}`
let serial = 0
export const clientName = (label: string) => `${runId}-${label}-${++serial}`

/** Why Redis cannot be used, or `undefined` when it answers `PING`. */
export const redisUnavailable = (): Promise<string | undefined> => Kit.redisUnavailable(address)

/** Whether to skip the Redis tests (the kit's rule: skip with the reason printed, fail under `REQUIRE_SERVICES=1`). */
export const skipWithout = (unavailable: string | undefined): boolean => Kit.skipWithout("Redis", unavailable)

export { eventually, requireServer, ServerUnavailable, Timeout, within } from "@connection-pool/test-kit"

type LiveContext = Parameters<Parameters<typeof it.live>[1]>[0]

/** A live test with a scope of its own, closed when the test ends (what Effect 3's `it.scopedLive` is). */
export const scopedLive = <A, E>(
  name: string,
  self: (ctx: LiveContext) => Effect.Effect<A, E, Scope.Scope>,
  timeout?: number
): void => it.live(name, (ctx) => Effect.scoped(self(ctx)), timeout)

/** A TCP port nothing listens on: bound to find it, then released. */
export const freePort: Effect.Effect<number> = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = net.createServer()
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
)

/** A local server that accepts connections and never answers: the handshake of a client waits forever on it. */
export const silentServer: Effect.Effect<number, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<net.Server>((resolve) => {
      // Reads (so it sees the client hang up) and never writes.
      const server = net.createServer((socket) => socket.resume())
      server.listen({ host: "127.0.0.1", port: 0 }, () => resolve(server))
    })
  ),
  (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
).pipe(Effect.map((server) => (server.address() as net.AddressInfo).port))

/**
 * Kills the connections named `name` from the server side (`CLIENT LIST` finds them by name, `CLIENT KILL ID`
 * closes each), as an operator or a failover would; sent on `admin`, a connection outside any pool under test.
 * Never kills another client of the server. Returns how many were killed.
 */
export const killClientsNamed = (admin: RedisConnection.RedisConnection, name: string) =>
  Effect.gen(function*() {
    const clients = yield* admin.run((client) => client.clientList())
    const ids = clients.filter((info) => info.name === name).map((info) => String(info.id))
    const replies = yield* admin.run((client) =>
      Promise.all(ids.map((id) => client.sendCommand<number>(["CLIENT", "KILL", "ID", id])))
    )
    return replies.filter((reply) => reply === 1).length
  })

/** How many connections named `name` the server has open. */
export const countClientsNamed = (admin: RedisConnection.RedisConnection, name: string) =>
  Effect.map(admin.run((client) => client.clientList()), (clients) => clients.filter((c) => c.name === name).length)
