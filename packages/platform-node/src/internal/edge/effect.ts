/**
 * The Effect 3 edge: every call into Effect whose name or shape differs between Effect 3 and Effect 4, under
 * one name both lines share. The Effect 4 build replaces this file with
 * packages/platform-node-effect4/edge/effect.ts (same exports, same signatures).
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "30 seconds". */
export type DurationInput = Duration.DurationInput
/** A running fiber that succeeds with `A` or fails with `E`. */
export type RunningFiberOf<A, E> = Fiber.RuntimeFiber<A, E>
/** The key of a service in the context. */
export type ServiceKey<I, S> = Context.Tag<I, S>
/** A plain success-or-failure value (Effect 3's `Either`). */
export type Outcome<A, E> = Either.Either<A, E>

// ---- outcomes ------------------------------------------------------------------------------------------

export const succeeded: <A>(value: A) => Outcome<A, never> = Either.right
export const failed: <E>(error: E) => Outcome<never, E> = Either.left
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Either.isLeft(outcome) ? outcome.left : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Either.isRight(outcome) ? outcome.right : undefined
/** An outcome as an effect: its failure in the error channel. */
export const fromOutcome = <A, E>(outcome: Outcome<A, E>): Effect.Effect<A, E> => outcome

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

/** Dies with an error carrying `message` (Effect 3: a `RuntimeException`). */
export const dieMessage = (message: string): Effect.Effect<never> => Effect.dieMessage(message)

// ---- causes --------------------------------------------------------------------------------------------

/** Whether a cause holds nothing but interruptions. */
export const isInterruptedOnly: <E>(cause: Cause.Cause<E>) => boolean = Cause.isInterruptedOnly

/** The first failure of a cause (on the error channel), if any. */
export const firstFailure: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.failureOption

/** Whether a cause holds a failure (on the error channel) that satisfies `predicate`. */
export const hasFailure = <E>(cause: Cause.Cause<E>, predicate: (error: E) => boolean): boolean =>
  Option.isSome(
    Cause.find(cause, (reason) =>
      reason._tag === "Fail" && predicate(reason.error) ? Option.some(reason.error) : Option.none())
  )

// ---- services, layers ----------------------------------------------------------------------------------

/** A service key of its own type (Effect 3's `Context.GenericTag`). */
export const serviceKey = <S>(key: string): ServiceKey<S, S> => Context.GenericTag<S>(key)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer: <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
) => Layer.Layer<I, E, Exclude<R, Scope.Scope>> = Layer.scoped

// ---- fibers --------------------------------------------------------------------------------------------

/** Starts an effect on a fiber of its own, with the context it was made in. */
export type Forker<R> = <A, E>(effect: Effect.Effect<A, E, R>) => RunningFiberOf<A, E>

/**
 * A {@link Forker} with the current context. A fiber it starts runs on the scheduler, never inside the caller's
 * stack.
 */
export const makeForker = <R>(): Effect.Effect<Forker<R>, never, R> =>
  Effect.map(Effect.runtime<R>(), (runtime) => Runtime.runFork(runtime))

/** Interrupts a fiber at once, outside any fiber, without waiting for it to stop. */
export const interruptNow = <A, E>(fiber: RunningFiberOf<A, E>): void => fiber.unsafeInterruptAsFork(fiber.id())
