/**
 * What happens in a pool, as a stream of events (`pool.events`).
 * It is for programs that want hooks: log every closed connection with its reason, alert on timeouts, feed a
 * dashboard.
 *
 * Events are published as they happen, from the pool's own fibers, and never wait for a subscriber: a
 * subscriber that falls more than {@link bufferSize} events behind misses the newer ones until it catches up.
 * Borrows and returns are not events (they are the hot path); the metrics in `PoolMetrics` count them.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector, PoolEvent } from "@connection-pool/core"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }))
 *   yield* pool.events.pipe(
 *     Stream.filter(PoolEvent.$is("Closed")),
 *     Stream.runForEach((event) => Effect.log(`connection ${event.connectionId} closed: ${event.reason}`)),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { ConnectionError } from "./PoolError.js"

/**
 * Every close reason, in the order documented on {@link CloseReason}. The type and the per-reason counters
 * (`PoolStats.closedByReason`, the `reason` tag of `PoolMetrics.closed`) are all made from this list.
 *
 * @since 0.1.0
 * @category models
 */
export const closeReasons = [
  "stale",
  "unhealthy",
  "validation-failed",
  "invalidated",
  "disconnected",
  "expired",
  "idle-timeout",
  "resized",
  "shutdown",
  "evicted"
] as const

/**
 * Why a connection was closed (one of {@link closeReasons}):
 * - `stale`: idle and unused for `staleAfter`;
 * - `unhealthy`: its score fell to `unhealthyScore` or it reached `maxErrors` (failed checks, faults);
 * - `validation-failed`: its check before lending failed (`validateOnBorrow`);
 * - `invalidated`: its borrower called `handle.invalidate`;
 * - `disconnected`: the connector's `isOpen` found it closed (by its peer, say);
 * - `expired`: past `maxLifetime` or a `"creation"` `timeToLive`;
 * - `idle-timeout`: idle above `minConnections` for `idleTimeout` or a `"usage"` `timeToLive`;
 * - `resized`: above a `maxConnections` lowered by `resize`;
 * - `shutdown`: the pool closed;
 * - `evicted`: idle in a keyed pool at its `maxTotal`, the oldest idle connection of all keys, closed to make room
 *   for another key's connection (since 0.2.0).
 *
 * @since 0.1.0
 * @category models
 */
export type CloseReason = typeof closeReasons[number]

/**
 * One event of a pool. Every event names its pool; times are milliseconds of the `Clock`.
 *
 * - `Opened`: a connection opened, taking `openMillis`.
 * - `OpenFailed`: an attempt to open failed (or timed out) with `error`.
 * - `Closed`: a connection was retired for `reason`; its finalizers have run.
 * - `HealthChanged`: a check or a fault moved a connection's score from `previousScore` to `healthScore`.
 * - `Timeout`: a borrower waited `connectionTimeout` (`waitedMillis`) without getting a connection.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector, PoolEvent } from "@connection-pool/core"
 * import { Effect, Stream } from "effect"
 *
 * const describe = PoolEvent.$match({
 *   Opened: (event) => `connection ${event.connectionId} opened in ${event.openMillis} ms`,
 *   OpenFailed: (event) => `open failed: ${event.error.message}`,
 *   Closed: (event) => `connection ${event.connectionId} closed: ${event.reason}`,
 *   HealthChanged: (event) => `connection ${event.connectionId}: score ${event.previousScore} -> ${event.healthScore}`,
 *   Timeout: (event) => `a borrower gave up after ${event.waitedMillis} ms`
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }), { name: "cache" })
 *   yield* pool.events.pipe(Stream.runForEach((event) => Effect.log(describe(event))), Effect.forkScoped)
 *   return yield* pool.use((connection) => Effect.succeed(connection))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PoolEvent = Data.TaggedEnum<{
  Opened: { readonly pool: string; readonly connectionId: number; readonly openMillis: number }
  OpenFailed: { readonly pool: string; readonly error: ConnectionError }
  Closed: { readonly pool: string; readonly connectionId: number; readonly reason: CloseReason }
  HealthChanged: {
    readonly pool: string
    readonly connectionId: number
    readonly previousScore: number
    readonly healthScore: number
    readonly errorCount: number
  }
  Timeout: { readonly pool: string; readonly waitedMillis: number }
}>

const constructors = Data.taggedEnum<PoolEvent>()

/**
 * Builds an `Opened` event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Opened = constructors.Opened

/**
 * Builds an `OpenFailed` event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const OpenFailed = constructors.OpenFailed

/**
 * Builds a `Closed` event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Closed = constructors.Closed

/**
 * Builds a `HealthChanged` event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const HealthChanged = constructors.HealthChanged

/**
 * Builds a `Timeout` event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Timeout = constructors.Timeout

/**
 * A guard for one kind of event: `PoolEvent.$is("Closed")(event)` narrows `event` to a `Closed` event.
 *
 * @example
 * ```ts
 * import type { ConnectionPool } from "@connection-pool/core"
 * import { PoolEvent } from "@connection-pool/core"
 * import { Stream } from "effect"
 *
 * // Only the closes, with their reasons.
 * const closes = <A>(pool: ConnectionPool.ConnectionPool<A>) =>
 *   pool.events.pipe(Stream.filter(PoolEvent.$is("Closed")), Stream.map((event) => event.reason))
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const $is = constructors.$is

/**
 * Matches an event on its kind, with one case per kind (see the example on {@link PoolEvent}).
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const $match = constructors.$match

/**
 * How many events a subscriber may fall behind before it misses newer ones.
 *
 * @since 0.1.0
 * @category constants
 */
export const bufferSize = 4096
