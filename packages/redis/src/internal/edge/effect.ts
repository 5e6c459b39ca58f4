/**
 * The Effect 3 edge of this package: every call into Effect whose name or shape differs between Effect 3 and
 * Effect 4, under one name both lines share. The Effect 4 build replaces this file with
 * packages/redis-effect4/edge/effect.ts (same exports, same signatures).
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "10 seconds". */
export type DurationInput = Duration.DurationInput

/** A duration from an input the types already vouch for. */
export const toDuration: (input: DurationInput) => Duration.Duration = Duration.decode

// ---- services ------------------------------------------------------------------------------------------

/** The class of a service: `class Name extends ServiceClass<Name, Shape>()("id") {}`. */
export type ServiceClass<Self, Id extends string, Shape> = Context.TagClass<Self, Id, Shape>

export const ServiceClass = <Self, Shape>() => <const Id extends string>(id: Id): ServiceClass<Self, Id, Shape> =>
  Context.Tag(id)<Self, Shape>()

/** A layer that builds its service in the layer's scope. */
export const scopedLayer: <I, S, E, R>(
  tag: Context.Tag<I, S>,
  effect: Effect.Effect<S, E, R>
) => Layer.Layer<I, E, Exclude<R, Scope.Scope>> = Layer.scoped

// ---- effects -------------------------------------------------------------------------------------------

/** An effect completed by a callback (Effect 3's `Effect.async`). */
export const callback: <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
) => Effect.Effect<A, E, R> = Effect.async

/** Recovers from any failure (Effect 4: `Effect.catch`). */
export const catchAll: {
  <E, A2, E2, R2>(
    f: (error: E) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (error: E) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E2, R | R2>
} = Effect.catchAll

/** Fails with `onTimeout()` when `self` takes longer than `duration`. */
export const timeoutFail = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  duration: DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => Effect.timeoutFail(self, { duration, onTimeout })

// ---- causes --------------------------------------------------------------------------------------------

/** The failures (the error channel's values) of a cause. */
export const failuresOf = <E>(cause: Cause.Cause<E>): ReadonlyArray<E> => Chunk.toReadonlyArray(Cause.failures(cause))

/** The defects of a cause. */
export const defectsOf = (cause: Cause.Cause<unknown>): ReadonlyArray<unknown> =>
  Chunk.toReadonlyArray(Cause.defects(cause))

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
  Stream.asyncScoped<A, E, R>((emit) =>
    register({
      single: (value) => void emit.single(value),
      fail: (error) => void emit.fail(error)
    })
  )

/** A stream built in a scope that stays open while the stream is read. */
export const scopedStream: <A, E2, R2, E, R>(
  effect: Effect.Effect<Stream.Stream<A, E2, R2>, E, R>
) => Stream.Stream<A, E | E2, R2 | Exclude<R, Scope.Scope>> = Stream.unwrapScoped
