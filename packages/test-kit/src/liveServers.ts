/**
 * The rule for tests of a real server (PostgreSQL, Redis: DESIGN.md section 7): when it is unavailable they skip
 * with a printed reason, and under `REQUIRE_SERVICES=1` (as CI runs) they run and fail, naming why.
 */
import { Data, Effect } from "effect"

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
