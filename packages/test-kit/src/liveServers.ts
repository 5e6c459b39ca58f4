/**
 * The rule for tests of a real server (PostgreSQL, Redis: DESIGN.md section 7): when it is unavailable they skip
 * with a printed reason, and under `REQUIRE_SERVICES=1` (as CI runs) they run and fail, naming why.
 */
import { Data, Effect } from "effect"
import * as net from "node:net"

export const servicesRequired = process.env.REQUIRE_SERVICES === "1"

/**
 * Whether the tests of `server` should be skipped: when it is unavailable, unless `REQUIRE_SERVICES=1`, in which
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

/** Why the Redis server at `target` (a TCP address or a Unix socket path) cannot be used, or `undefined` when it answers `PING`. */
export const redisUnavailable = (
  target: { readonly host: string; readonly port: number } | { readonly path: string }
): Promise<string | undefined> =>
  new Promise((resolve) => {
    const where = "path" in target ? target.path : `${target.host}:${target.port}`
    const socket = net.createConnection(target)
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
