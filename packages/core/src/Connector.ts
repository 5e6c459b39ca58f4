/**
 * A `Connector` tells a pool how to open one connection and how to tell whether it is still healthy.
 *
 * Opening is a scoped effect: whatever finalizer `open` registers is what closes the connection, so the
 * pool never needs a separate `close` function and a connection is closed exactly once.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"

/**
 * The symbol that marks a `Connector`.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@connection-pool/core/Connector")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * How to open and check connections of type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connector<A, E = never, R = never> {
  readonly [TypeId]: TypeId
  /**
   * Opens one connection. The connection is closed by the finalizers this effect adds to its scope.
   */
  readonly open: Effect.Effect<A, E, R | Scope.Scope>
  /**
   * Checks an idle connection; fails when the connection is not healthy. Run by the pool's maintenance
   * fiber (never on a connection a user holds), bounded by the pool's `healthCheckTimeout`.
   */
  readonly check: (connection: A) => Effect.Effect<unknown, unknown, R>
  /**
   * A synchronous liveness test, consulted when a connection is lent and when it is returned: a
   * connection reported closed (the peer hung up, its framing state is unknown) is retired at once
   * instead of being lent again.
   */
  readonly isOpen: (connection: A) => boolean
  /**
   * Says whether a borrower's failure was the connection's fault. A fault counts as one of the
   * connection's errors and lowers its health score. Interruption is never a fault.
   */
  readonly isFault: (cause: Cause.Cause<unknown>) => boolean
}

/**
 * Whether a value is a `Connector`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnector = (u: unknown): u is Connector<unknown, unknown, unknown> => hasProperty(u, TypeId)

/**
 * Builds a `Connector`.
 *
 * @example
 * ```ts
 * import { Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * interface Client {
 *   open: boolean
 * }
 *
 * const connector = Connector.make({
 *   // the finalizer added by acquireRelease is what closes the connection
 *   open: Effect.acquireRelease(
 *     Effect.sync((): Client => ({ open: true })),
 *     (client) => Effect.sync(() => { client.open = false })
 *   ),
 *   check: (client: Client) => client.open ? Effect.void : Effect.fail("closed"),
 *   isOpen: (client: Client) => client.open
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E = never, R = never>(options: {
  /** Opens one connection; its scope's finalizers close it. */
  readonly open: Effect.Effect<A, E, R | Scope.Scope>
  /** Fails when an idle connection is unhealthy. Default: every connection is healthy. */
  readonly check?: ((connection: A) => Effect.Effect<unknown, unknown, R>) | undefined
  /** Synchronous liveness test. Default: always open. */
  readonly isOpen?: ((connection: A) => boolean) | undefined
  /**
   * Which failures of a borrowing effect are the connection's fault. Default: every failure or defect;
   * interruption never counts.
   */
  readonly isFault?: ((cause: Cause.Cause<unknown>) => boolean) | undefined
}): Connector<A, E, R> => {
  const isFault = options.isFault
  return {
    [TypeId]: TypeId,
    open: options.open,
    check: options.check ?? alwaysHealthy,
    isOpen: options.isOpen ?? alwaysOpen,
    isFault: isFault === undefined ? isFailure : (cause) => isFailure(cause) && isFault(cause)
  }
}

const alwaysHealthy = (): Effect.Effect<unknown> => Effect.void
const alwaysOpen = (): boolean => true
const isFailure = (cause: Cause.Cause<unknown>): boolean => !Cause.isInterruptedOnly(cause)
