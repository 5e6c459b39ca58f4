/**
 * The Effect 4 edge: every call into Effect whose name or shape differs between Effect 3 and Effect 4, under
 * the names the shared source uses (packages/platform-node/src/internal/edge/effect.ts is the Effect 3 side; both
 * export the same names with the same signatures). `scripts/lines.mjs` puts this file in place of that one.
 *
 * Effect 4 resumes a fiber waiting in `Effect.callback` synchronously, inside the code that resumes it (here a
 * socket's listener), and starts a forked fiber inside the caller's stack, where Effect 3 schedules both. The
 * connection and the server are written for Effect 3's order (a socket listener finishes its bookkeeping before
 * the fiber it resumed or started runs), so this edge keeps that order: such a fiber goes on from a microtask (as
 * the core's edge does; `Effect.yieldNow` would be a macrotask hop per request in Effect 4).
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "30 seconds". */
export type DurationInput = Duration.Input
/** A running fiber that succeeds with `A` or fails with `E`. */
export type RunningFiberOf<A, E> = Fiber.Fiber<A, E>
/** The key of a service in the context. */
export type ServiceKey<I, S> = Context.Key<I, S>
/** A plain success-or-failure value (Effect 4's `Result`). */
export type Outcome<A, E> = Result.Result<A, E>

// ---- outcomes ------------------------------------------------------------------------------------------

export const succeeded: <A>(value: A) => Outcome<A, never> = Result.succeed
export const failed: <E>(error: E) => Outcome<never, E> = Result.fail
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Result.isFailure(outcome) ? outcome.failure : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Result.isSuccess(outcome) ? outcome.success : undefined
/** An outcome as an effect: its failure in the error channel. */
export const fromOutcome = <A, E>(outcome: Outcome<A, E>): Effect.Effect<A, E> =>
  Result.isFailure(outcome) ? Effect.fail(outcome.failure) : Effect.succeed(outcome.success)

// ---- effects -------------------------------------------------------------------------------------------

/**
 * An effect completed by a callback (Effect 4's `Effect.callback`). The fiber is resumed from a microtask, so that
 * the code calling `resume` (a socket's listener) finishes first, as in Effect 3.
 */
export const callback = <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
): Effect.Effect<A, E, R> =>
  Effect.callback<A, E, R>((resume) =>
    register((effect) => {
      void Promise.resolve().then(() => resume(effect))
    })
  )

/** Goes on from a microtask: whatever runs the current fiber now finishes first. */
const afterMicrotask: Effect.Effect<void> = Effect.callback<void>((resume) => {
  void Promise.resolve().then(() => resume(Effect.void))
})

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

/** Dies with an error carrying `message` (Effect 4 has no `RuntimeException`: a plain `Error`). */
export const dieMessage = (message: string): Effect.Effect<never> => Effect.die(new Error(message))

// ---- causes --------------------------------------------------------------------------------------------

/** Whether a cause holds nothing but interruptions. */
export const isInterruptedOnly: <E>(cause: Cause.Cause<E>) => boolean = Cause.hasInterruptsOnly

/** The first failure of a cause (on the error channel), if any. */
export const firstFailure: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.findErrorOption

/** Whether a cause holds a failure (on the error channel) that satisfies `predicate`. */
export const hasFailure = <E>(cause: Cause.Cause<E>, predicate: (error: E) => boolean): boolean =>
  cause.reasons.some((reason) => Cause.isFailReason(reason) && predicate(reason.error))

// ---- services, layers ----------------------------------------------------------------------------------

/** A service key of its own type (Effect 4's `Context.Service`). */
export const serviceKey = <S>(key: string): ServiceKey<S, S> => Context.Service<S>(key)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer = <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
): Layer.Layer<I, E, Exclude<R, Scope.Scope>> => Layer.effect(tag, effect)

// ---- fibers --------------------------------------------------------------------------------------------

/** Starts an effect on a fiber of its own, with the context it was made in. */
export type Forker<R> = <A, E>(effect: Effect.Effect<A, E, R>) => RunningFiberOf<A, E>

/**
 * A {@link Forker} with the current context. A fiber it starts never runs inside the caller's stack: it starts
 * from a microtask.
 */
export const makeForker = <R>(): Effect.Effect<Forker<R>, never, R> =>
  Effect.map(Effect.context<R>(), (context) => {
    const runFork = Effect.runForkWith(context)
    return <A, E>(effect: Effect.Effect<A, E, R>) => runFork(Effect.andThen(afterMicrotask, effect))
  })

/** Interrupts a fiber at once, outside any fiber, without waiting for it to stop. */
export const interruptNow = <A, E>(fiber: RunningFiberOf<A, E>): void => fiber.interruptUnsafe()
