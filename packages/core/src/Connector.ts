/**
 * A `Connector` tells a pool how to open one connection and how to tell whether it is still healthy.
 *
 * Opening is a scoped effect: whatever finalizer `open` registers is what closes the connection, so the
 * pool never needs a separate `close` function and a connection is closed exactly once.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import { hasProperty } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type { DurationInput } from "./ConnectionPool.js"
import * as internal from "./internal/connector.js"

/**
 * The symbol that marks a `Connector`.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

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
 * What a connector says besides how to open a connection; every field is optional.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<A, R = never> {
  /**
   * Fails when an idle connection is unhealthy; run by the maintenance fiber, never on a lent connection.
   * Default: every connection is healthy. A `check` that throws is a failed check.
   */
  readonly check?: ((connection: A) => Effect.Effect<unknown, unknown, R>) | undefined
  /**
   * Synchronous liveness test, consulted when a connection is lent and when it comes back. Default: always
   * open. An `isOpen` that throws reports the connection closed.
   */
  readonly isOpen?: ((connection: A) => boolean) | undefined
  /**
   * Which failures of a borrowing effect are the connection's fault. Default: every failure or defect
   * counts (a connector that names no faults has no other way to learn that its connection broke);
   * interruption never counts, and an `isFault` that throws counts the failure.
   */
  readonly isFault?: ((cause: Cause.Cause<unknown>) => boolean) | undefined
}

/**
 * Builds a `Connector`, in one of two forms.
 *
 * - `make(open, options)`: `open` first, then the {@link Options}. The connection's type is fixed by `open`
 *   before `check` and `isOpen` are read, so their parameters need no annotations even when `open` is
 *   written inline with `Effect.acquireRelease` (or any other dual Effect function).
 * - `make({ open, ...options })`: one object. TypeScript reads an object argument's callbacks before it
 *   has inferred anything from a dual call such as an inline `Effect.acquireRelease(...)`, so their
 *   parameters come out `unknown` (TS18046): with this form, annotate them, or define `open` as a `const`
 *   first.
 *
 * By default every failure of a borrower counts against its connection (see {@link Options}); give
 * `isFault` to count only the errors that mean a broken connection.
 *
 * @example
 * ```ts
 * import { Connector } from "@connection-pool/core"
 * import { Cause, Effect } from "effect"
 *
 * interface Client {
 *   open: boolean
 *   readonly ping: Effect.Effect<void, Error>
 * }
 * class ClientClosed {
 *   readonly _tag = "ClientClosed"
 * }
 *
 * const connector = Connector.make(
 *   // the finalizer added by acquireRelease is what closes the connection
 *   Effect.acquireRelease(
 *     Effect.sync((): Client => ({ open: true, ping: Effect.void })),
 *     (client) => Effect.sync(() => { client.open = false })
 *   ),
 *   {
 *     check: (client) => client.ping,
 *     isOpen: (client) => client.open,
 *     // a borrower's own errors (a missing row, a refused request) leave the connection's health alone
 *     isFault: (cause) => Cause.squash(cause) instanceof ClientClosed
 *   }
 * )
 *
 * // the one-object form, for an `open` defined beforehand
 * const openClient = Effect.sync((): Client => ({ open: true, ping: Effect.void }))
 * const simple = Connector.make({ open: openClient, isOpen: (client) => client.open })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A, E = never, R = never, R2 = never>(
    open: Effect.Effect<A, E, R>,
    options?: Options<NoInfer<A>, R2> | undefined
  ): Connector<A, E, Exclude<R, Scope.Scope> | R2>
  <A, E = never, R = never>(
    options: Options<A, R> & {
      /** Opens one connection; its scope's finalizers close it. */
      readonly open: Effect.Effect<A, E, R | Scope.Scope>
    }
  ): Connector<A, E, R>
} = internal.make as any

/**
 * How to reach a client whose API returns promises (most Node database and cache clients). Each callback
 * may throw or reject: that is a failure, never a crash.
 *
 * @since 0.2.0
 * @category models
 */
export interface PromiseOptions<A> {
  /**
   * Opens one client and resolves once it is ready. A rejection (or a throw) fails the open: the pool's
   * borrowers get a `ConnectionError` whose `cause` is the rejection's reason. A client that arrives after
   * the open was given up (the pool's `openTimeout`) is closed at once.
   */
  readonly connect: () => PromiseLike<A>
  /** Closes a client. A rejection is logged at debug level; the client is forgotten either way. */
  readonly close: (client: NoInfer<A>) => unknown
  /**
   * Checks an idle client: healthy when it resolves (or returns), unhealthy when it rejects, throws, or
   * gives `false`. Default: every client is healthy.
   */
  readonly check?: ((client: NoInfer<A>) => unknown) | undefined
  /** Synchronous liveness test (for instance a client's own "ended" flag). Default: always open. */
  readonly isOpen?: ((client: NoInfer<A>) => boolean) | undefined
  /**
   * Whether an error a borrower met is the client's fault: called with each error of the borrower's
   * failure (what the client threw, also when it reached the borrower wrapped by `Effect.tryPromise`).
   * Default: every failure counts, as for {@link make}.
   */
  readonly isFault?: ((error: unknown) => boolean) | undefined
  /** Bound on `close`; a close that has not settled by then is given up. Default: 5 seconds. */
  readonly closeTimeout?: DurationInput | undefined
}

/**
 * A connector for a client whose API returns promises: how to connect and close it, and optionally how
 * to check it, tell whether it is open, and which of its errors mean it is broken.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * // A stand-in for a client with a promise API (a database driver, say).
 * class Client {
 *   ended = false
 *   query(sql: string): Promise<string> {
 *     return this.ended ? Promise.reject(new Error("client ended")) : Promise.resolve(`${sql}: ok`)
 *   }
 *   end(): Promise<void> {
 *     this.ended = true
 *     return Promise.resolve()
 *   }
 * }
 * const connectClient = () => Promise.resolve(new Client())
 *
 * const connector = Connector.fromPromise({
 *   connect: connectClient,
 *   close: (client) => client.end(),
 *   check: (client) => client.query("SELECT 1"),
 *   isOpen: (client) => !client.ended,
 *   // errors of the connection itself, not of a query
 *   isFault: (error) => error instanceof Error && "code" in error && error.code === "ECONNRESET"
 * })
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(connector, { maxConnections: 5 })
 *   return yield* pool.use((client) => Effect.tryPromise(() => client.query("SELECT now()")))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromPromise: <A>(options: PromiseOptions<A>) => Connector<A, unknown> = internal.fromPromise
