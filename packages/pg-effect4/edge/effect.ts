/**
 * The Effect 4 edge of this package (packages/pg/src/internal/edge/effect.ts is the Effect 3 side; both export
 * the same names with the same signatures). `scripts/lines.mjs` puts this file in place of that one.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"

// ---- services ------------------------------------------------------------------------------------------

/** The key of a service in the context. */
export type ServiceKey<I, S> = Context.Key<I, S>

/** A service key of its own shape, named `key`. */
export const serviceKey = <S>(key: string): ServiceKey<S, S> => Context.Service<S>(key)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer = <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
): Layer.Layer<I, E, Exclude<R, Scope.Scope>> => Layer.effect(tag, effect)

// ---- effects -------------------------------------------------------------------------------------------

/**
 * An effect completed by a callback (Effect 4's `Effect.callback`). Resumed inline, unlike core's edge: the
 * client resumes it from its own promise callbacks, never from inside bookkeeping that must finish first.
 */
export const callback = <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
): Effect.Effect<A, E, R> => Effect.callback<A, E, R>((resume) => register(resume))

/** Whether a cause holds a defect. */
export const hasDefect = <E>(cause: Cause.Cause<E>): boolean => Cause.hasDies(cause)

/** The failures (the error channel's values) of a cause. */
export const failuresOf = <E>(cause: Cause.Cause<E>): ReadonlyArray<E> =>
  cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error)

// ---- scopes --------------------------------------------------------------------------------------------

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.provide(self, scope)

// ---- running effects from plain callbacks --------------------------------------------------------------

/** What runs effects from code outside any fiber (a driver's callback), with the services it was made with. */
export type Runner = Context.Context<never>

/** A runner with the current fiber's services. */
export const currentRunner: Effect.Effect<Runner> = Effect.context<never>()

/** Starts `effect` on a fiber of its own. */
export const runFork = (runner: Runner, effect: Effect.Effect<unknown>): void => {
  Effect.runForkWith(runner)(effect)
}

/** Starts `effect` on a fiber of its own, and calls `onExit` with how it ended. */
export const runCallback = <A, E>(
  runner: Runner,
  effect: Effect.Effect<A, E>,
  onExit: (exit: Exit.Exit<A, E>) => void
): void => {
  Effect.runCallbackWith(runner)(effect, { onExit })
}

/** Runs an effect that does not wait for anything, now, to its exit. */
export const runSyncExit = <A, E>(runner: Runner, effect: Effect.Effect<A, E>): Exit.Exit<A, E> =>
  Effect.runSyncExitWith(runner)(effect)

/**
 * A failed effect's cause as one `Error` for a callback API: a single failure that is an `Error` as it is,
 * anything else as the error Effect throws for it from a promise.
 */
export const causeAsError = (cause: Cause.Cause<unknown>): Error => {
  const [only] = cause.reasons
  if (cause.reasons.length === 1 && only !== undefined && Cause.isFailReason(only) && only.error instanceof Error) {
    return only.error
  }
  // anything else, as Effect 3's FiberFailure: one Error whose message is the whole cause
  return new Error(Cause.pretty(cause), { cause: Cause.squash(cause) })
}
