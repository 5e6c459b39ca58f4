/**
 * The real servers of DESIGN.md section 7, for the Redis and PostgreSQL examples and chaos tests: whether each is
 * reachable, and the rule for when it is not (skip with a printed reason; fail under `REQUIRE_SERVICES=1`, as CI
 * runs).
 */
import * as net from "node:net"
import { Client } from "pg"
import { server as postgresServer } from "../postgres.js"
import { address as redisAddress } from "../redis.js"

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

/** The test kit's rule for real servers and its bounded waits, for the tests that import them from here. */
export {
  eventually,
  requireServer,
  ServerUnavailable,
  servicesRequired,
  skipWithout,
  Timeout,
  within
} from "@connection-pool/test-kit"
