/**
 * The live Redis server of these tests (`REDIS_HOST`:`REDIS_PORT`, default 127.0.0.1:6379): whether it answers,
 * the rule when it does not (skip with a printed reason; fail under `REQUIRE_SERVICES=1`, as CI runs), keys and
 * client names unique to this run, and bounded waits.
 */
import type { RedisConnection } from "@connection-pool/redis"
import { Data, Duration, Effect, Exit, type Scope } from "effect"
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
export const redisUnavailable = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    const where = `${address.host}:${address.port}`
    const socket = net.createConnection(address)
    const done = (reason: string | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(reason)
    }
    const timer = setTimeout(() => done(`Redis at ${where} did not answer PING within 2 seconds`), 2_000)
    socket.once("error", (error) => done(`Redis at ${where} is not reachable: ${error.message}`))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) =>
      done(data.toString().startsWith("+PONG") ? undefined : `Redis at ${where} answered ${data.toString().trim()}`))
  })

export const servicesRequired = process.env.REQUIRE_SERVICES === "1"

/** Whether to skip a server's tests: when it is unavailable, unless `REQUIRE_SERVICES=1`. Prints the reason. */
export const skipWithout = (unavailable: string | undefined): boolean => {
  if (unavailable === undefined || servicesRequired) return false
  console.warn(`skipping the Redis tests: ${unavailable} (REQUIRE_SERVICES=1 makes this a failure)`)
  return true
}

export class ServerUnavailable extends Data.TaggedError("ServerUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return `REQUIRE_SERVICES=1 but ${this.reason}`
  }
}

/** The first step of a live test: fails it, naming why, when the server is unavailable. */
export const requireServer = (unavailable: string | undefined): Effect.Effect<void, ServerUnavailable> =>
  unavailable === undefined ? Effect.void : Effect.fail(new ServerUnavailable({ reason: unavailable }))

export class Timeout extends Data.TaggedError("Timeout")<{ readonly what: string; readonly after: string }> {
  override get message(): string {
    return `waited ${this.after} for ${this.what}`
  }
}

/** Bounds a wait: fails the test with `Timeout` naming what did not happen. */
export const within = (duration: Duration.DurationInput, what: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(self, {
    duration,
    onTimeout: () => new Timeout({ what, after: Duration.format(Duration.decode(duration)) })
  })

/** A bounded poll for conditions with no event to wait on; fails with `Timeout` at the deadline. */
export const eventually = <E, R>(
  condition: Effect.Effect<boolean, E, R>,
  what: string,
  deadline: Duration.DurationInput = "5 seconds"
): Effect.Effect<void, E | Timeout, R> =>
  Effect.gen(function*() {
    while (!(yield* condition)) yield* Effect.sleep("5 millis")
  }).pipe(within(deadline, what))

/** A TCP port nothing listens on: bound to find it, then released. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Exit.succeed(port)))
  })
})

/** A local server that accepts connections and never answers: the handshake of a client waits forever on it. */
export const silentServer: Effect.Effect<number, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<net.Server>((resume) => {
    // Reads (so it sees the client hang up) and never writes.
    const server = net.createServer((socket) => socket.resume())
    server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Exit.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Exit.void))
    })
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
