import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Connector, Options, PromiseOptions, TypeId as ConnectorTypeId } from "../Connector.js"
import * as edge from "./edge/effect.js"

/** @internal */
export const TypeId: ConnectorTypeId = Symbol.for("@connection-pool/core/Connector") as ConnectorTypeId

const alwaysHealthy = (): Effect.Effect<unknown> => Effect.void
const alwaysOpen = (): boolean => true
const isFailure = (cause: Cause.Cause<unknown>): boolean => !edge.isInterruptedOnly(cause)

/**
 * Builds a connector from either form of `make`. The user's callbacks are called by the pool on its own
 * fibers, each through the pool's one guard (`connectorCalls.ts`): a `check` that throws is a failed check,
 * an `isOpen` that throws reports the connection closed, an `isFault` that throws counts the failure, and
 * each such defect is logged with the pool's name and the connection's id.
 */
type Open<A, E, R> = Effect.Effect<A, E, R | Scope.Scope>

export const make = <A, E, R>(
  openOrOptions: Open<A, E, R> | (Options<A, R> & { readonly open: Open<A, E, R> }),
  maybeOptions?: Options<A, R> | undefined
): Connector<A, E, R> => {
  const options: Options<A, R> = Effect.isEffect(openOrOptions) ? maybeOptions ?? {} : openOrOptions
  const open = Effect.isEffect(openOrOptions) ? openOrOptions : openOrOptions.open
  const check = options.check
  const isOpen = options.isOpen
  const isFault = options.isFault
  return {
    [TypeId]: TypeId,
    open,
    check: check === undefined ? alwaysHealthy : (connection) => Effect.suspend(() => check(connection)),
    isOpen: isOpen === undefined ? alwaysOpen : isOpen,
    isFault: isFault === undefined ? isFailure : (cause) => isFailure(cause) && isFault(cause)
  }
}

/** The default bound on a Promise client's `close`. */
export const defaultCloseTimeout = Duration.seconds(5)

/**
 * Runs a callback that may throw, return a value or return a promise, as one promise: a synchronous throw
 * becomes a rejection, so the callers below have one failure path.
 */
const attempt = <X>(f: () => PromiseLike<X> | X): Promise<X> => {
  try {
    return Promise.resolve(f())
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * `connect` as an interruptible effect that never leaks a client: a client that arrives after the open was
 * interrupted (the pool's `openTimeout`, the pool closing) is closed at once instead of being dropped.
 */
const connect = <A>(options: PromiseOptions<A>): Effect.Effect<A, unknown> =>
  edge.callback<A, unknown>((resume) => {
    let interrupted = false
    attempt(options.connect).then(
      (client) => {
        if (interrupted) attempt(() => options.close(client)).catch(() => undefined)
        else resume(Effect.succeed(client))
      },
      (error) => {
        if (!interrupted) resume(Effect.fail(error))
      }
    )
    return Effect.sync(() => {
      interrupted = true
    })
  })

/** A `close` that rejects or throws is logged, not raised: the connection is gone either way. */
const close = <A>(options: PromiseOptions<A>, client: A): Effect.Effect<void> => {
  const timeout = edge.toDuration(options.closeTimeout ?? defaultCloseTimeout)
  return Effect.tryPromise({ try: () => attempt(() => options.close(client)), catch: (error) => error }).pipe(
    // Finalizers run uninterruptibly; the wait for the promise must be interruptible for the timeout to cut it.
    Effect.interruptible,
    edge.timeoutFailAfter(timeout, () => `close did not settle within ${Duration.format(timeout)}`),
    (self) => edge.catchAll(self, (error) => Effect.logDebug("connection close failed", error))
  )
}

const checkPromise = <A>(check: (client: A) => unknown, client: A): Effect.Effect<unknown, unknown> =>
  Effect.flatMap(
    Effect.tryPromise({ try: () => attempt(() => check(client)), catch: (error) => error }),
    (result) => result === false ? Effect.fail("check returned false") : Effect.void
  )

export const fromPromise = <A>(options: PromiseOptions<A>): Connector<A, unknown> => {
  const check = options.check
  const isFault = options.isFault
  return make<A, unknown, never>({
    open: Effect.acquireRelease(Effect.interruptible(connect(options)), (client) => close(options, client)),
    check: check === undefined ? undefined : (client) => checkPromise(check, client),
    isOpen: options.isOpen,
    isFault: isFault === undefined ? undefined : (cause) => {
      // the values the client threw, also when they reached the borrower wrapped by `Effect.tryPromise`
      return edge.causeErrors(cause).some((error) => isFault(error))
    }
  })
}
