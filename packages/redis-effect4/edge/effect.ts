/**
 * The Effect 4 edge of this package (packages/redis/src/internal/edge/effect.ts is the Effect 3 side; both
 * export the same names with the same signatures). `scripts/lines.mjs` puts this file in place of that one.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "10 seconds". */
export type DurationInput = Duration.Input

/** A duration from an input the types already vouch for. */
export const toDuration: (input: DurationInput) => Duration.Duration = Duration.fromInputUnsafe

// ---- services ------------------------------------------------------------------------------------------

/** The class of a service: `class Name extends ServiceClass<Name, Shape>()("id") {}`. */
export type ServiceClass<Self, Id extends string, Shape> = Context.ServiceClass<Self, Id, Shape>

export const ServiceClass = <Self, Shape>() => <const Id extends string>(id: Id): ServiceClass<Self, Id, Shape> =>
  Context.Service<Self, Shape>()(id)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer = <I, S, E, R>(
  tag: Context.Key<I, S>,
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

/** Recovers from any failure (Effect 4: `Effect.catch`). */
export const catchAll: {
  <E, A2, E2, R2>(
    f: (error: E) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (error: E) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E2, R | R2>
} = Effect.catch

/** Fails with `onTimeout()` when `self` takes longer than `duration`. */
export const timeoutFail = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  duration: DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => Effect.timeoutOrElse(self, { duration, orElse: () => Effect.fail(onTimeout()) })

// ---- causes --------------------------------------------------------------------------------------------

/** The failures (the error channel's values) of a cause. */
export const failuresOf = <E>(cause: Cause.Cause<E>): ReadonlyArray<E> =>
  cause.reasons.filter(Cause.isFailReason).map((reason) => reason.error)

/** The defects of a cause. */
export const defectsOf = (cause: Cause.Cause<unknown>): ReadonlyArray<unknown> =>
  cause.reasons.filter(Cause.isDieReason).map((reason) => reason.defect)

// ---- streams -------------------------------------------------------------------------------------------

/** What a stream's producer pushes to it with: one element, or the failure that ends the stream. */
export interface Emit<A, E> {
  readonly single: (value: A) => void
  readonly fail: (error: E) => void
}

/**
 * A stream fed from callbacks: `register` runs in the stream's scope (a resource it acquires is released when
 * the stream ends) and pushes through `emit`; a failure of `register` fails the stream.
 */
export const callbackStream = <A, E, R>(
  register: (emit: Emit<A, E>) => Effect.Effect<unknown, E, R | Scope.Scope>
): Stream.Stream<A, E, Exclude<R, Scope.Scope>> =>
  Stream.callback<A, E, R>((queue) =>
    register({
      single: (value) => void Queue.offerUnsafe(queue, value),
      fail: (error) => void Queue.failCauseUnsafe(queue, Cause.fail(error))
    })
  )

/** A stream built in a scope that stays open while the stream is read. */
export const scopedStream: <A, E2, R2, E, R>(
  effect: Effect.Effect<Stream.Stream<A, E2, R2>, E, R>
) => Stream.Stream<A, E | E2, R2 | Exclude<R, Scope.Scope>> = Stream.unwrap
