/**
 * The real servers of DESIGN.md section 7, for the Redis and PostgreSQL examples and chaos tests: whether each is
 * reachable, and the rule for when it is not (skip with a printed reason; fail under `REQUIRE_SERVICES=1`, as CI
 * runs).
 */
import { Data, Effect } from "effect"
import * as net from "node:net"
import { Client } from "pg"
import { server as postgresServer } from "../postgres.js"
import { address as redisAddress } from "../redis.js"

export const servicesRequired = process.env.REQUIRE_SERVICES === "1"

/** Why Redis cannot be used, or `undefined` when it answers `PING`. */
export const redisUnavailable = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    const where = redisAddress.path ?? `${redisAddress.host}:${redisAddress.port}`
    const socket = redisAddress.path !== undefined
      ? net.createConnection({ path: redisAddress.path })
      : net.createConnection({ host: redisAddress.host!, port: redisAddress.port! })
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

/** Why PostgreSQL cannot be used, or `undefined` when `SELECT 1` works. */
export const postgresUnavailable = async (): Promise<string | undefined> => {
  const where =
    `${postgresServer.host}:${postgresServer.port} (user ${postgresServer.user}, database ${postgresServer.database})`
  const client = new Client({ ...postgresServer, connectionTimeoutMillis: 2_000 })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (error) {
    return `PostgreSQL at ${where} is not reachable: ${error instanceof Error ? error.message : String(error)}`
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Whether the tests of a server should be skipped: when it is unavailable, unless `REQUIRE_SERVICES=1`, in which
 * case they run and fail (see `requireServer`). Prints the reason for a skip.
 */
export const skipWithout = (server: string, unavailable: string | undefined): boolean => {
  if (unavailable === undefined || servicesRequired) return false
  console.warn(`skipping the ${server} tests: ${unavailable} (REQUIRE_SERVICES=1 makes this a failure)`)
  return true
}

export class ServerUnavailable extends Data.TaggedError("ServerUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return `REQUIRE_SERVICES=1 but ${this.reason}`
  }
}

/** The first step of a test that needs a server: fails it, naming why, when the server is unavailable. */
export const requireServer = (unavailable: string | undefined): Effect.Effect<void, ServerUnavailable> =>
  unavailable === undefined ? Effect.void : Effect.fail(new ServerUnavailable({ reason: unavailable }))

/** The test kit's bounded waits, for the tests that import them from here. */
export { eventually, Timeout, within } from "@connection-pool/test-kit"
