/**
 * The real servers of DESIGN.md section 7, for the Redis and PostgreSQL examples and chaos tests: whether each is
 * reachable, and the rule for when it is not (skip with a printed reason; fail under `REQUIRE_SERVICES=1`, as CI
 * runs).
 */
import * as Kit from "@connection-pool/test-kit"
import { Client } from "pg"
import { server as postgresServer } from "../postgres.js"
import { address as redisAddress } from "../redis.js"

/** Why Redis cannot be used, or `undefined` when it answers `PING`. */
export const redisUnavailable = (): Promise<string | undefined> =>
  Kit.redisUnavailable(
    redisAddress.path !== undefined
      ? { path: redisAddress.path }
      : { host: redisAddress.host!, port: redisAddress.port! }
  )

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
