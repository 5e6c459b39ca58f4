/**
 * The Effect 3 edge of this package: every call into Effect whose name or shape differs between Effect 3 and
 * Effect 4, under one name both lines share. The Effect 4 build replaces this file with
 * packages/pg-effect4/edge/effect.ts (same exports, same signatures).
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"

// ---- services ------------------------------------------------------------------------------------------

/** The key of a service in the context. */
export type ServiceKey<I, S> = Context.Tag<I, S>

/** A service key of its own shape, named `key`. */
export const serviceKey = <S>(key: string): ServiceKey<S, S> => Context.GenericTag<S>(key)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer: <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
) => Layer.Layer<I, E, Exclude<R, Scope.Scope>> = Layer.scoped

// ---- effects -------------------------------------------------------------------------------------------

/** An effect completed by a callback (Effect 3's `Effect.async`). */
export const callback: <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
) => Effect.Effect<A, E, R> = Effect.async

/** Whether a cause holds a defect. */
export const hasDefect: <E>(cause: Cause.Cause<E>) => boolean = Cause.isDie

/** The failures (the error channel's values) of a cause. */
export const failuresOf = <E>(cause: Cause.Cause<E>): ReadonlyArray<E> => Chunk.toReadonlyArray(Cause.failures(cause))

// ---- scopes --------------------------------------------------------------------------------------------

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.extend(self, scope)

// ---- running effects from plain callbacks --------------------------------------------------------------

/** What runs effects from code outside any fiber (a driver's callback), with the services it was made with. */
export type Runner = Runtime.Runtime<never>

/** A runner with the current fiber's services. */
export const currentRunner: Effect.Effect<Runner> = Effect.runtime<never>()

/** Starts `effect` on a fiber of its own. */
export const runFork = (runner: Runner, effect: Effect.Effect<unknown>): void => {
  Runtime.runFork(runner)(effect)
}

/** Starts `effect` on a fiber of its own, and calls `onExit` with how it ended. */
export const runCallback = <A, E>(
  runner: Runner,
  effect: Effect.Effect<A, E>,
  onExit: (exit: Exit.Exit<A, E>) => void
): void => {
  Runtime.runCallback(runner)(effect, { onExit })
}

/** Runs an effect that does not wait for anything, now, to its exit. */
export const runSyncExit = <A, E>(runner: Runner, effect: Effect.Effect<A, E>): Exit.Exit<A, E> =>
  Runtime.runSyncExit(runner)(effect)

/**
 * A failed effect's cause as one `Error` for a callback API: a single failure that is an `Error` as it is,
 * anything else as the error Effect throws for it from a promise.
 */
export const causeAsError = (cause: Cause.Cause<unknown>): Error => {
  const failure = Runtime.makeFiberFailure(cause)
  const single = cause._tag === "Fail" ? cause.error : failure
  return single instanceof Error ? single : failure
}
