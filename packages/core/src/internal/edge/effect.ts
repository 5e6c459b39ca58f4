/**
 * The Effect 3 edge: every call into Effect whose name or shape differs between Effect 3 and Effect 4, under
 * one name both lines share. The rest of the source is the same for both lines; the Effect 4 build replaces
 * this file with packages/core-effect4/edge/effect.ts (same exports, same signatures).
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "30 seconds". */
export type DurationInput = Duration.DurationInput
/** A running fiber, as the pool keeps one (a borrower's, an open's). */
export type RunningFiber = Fiber.RuntimeFiber<unknown, unknown>
/** A running fiber that succeeds with `A` or fails with `E`. */
export type RunningFiberOf<A, E> = Fiber.RuntimeFiber<A, E>
/** A scope the pool closes itself. */
export type CloseableScope = Scope.CloseableScope
/** The key of a service in the context: what `layer` provides the pool under. */
export type ServiceKey<I, S> = Context.Tag<I, S>
/** Options read from `Config`, as a whole or field by field. */
export type ConfigOf<A> = Config.Config.Wrap<A>
/** A plain success-or-failure value (Effect 3's `Either`). */
export type Outcome<A, E> = Either.Either<A, E>
/** A queue the pool offers events to without waiting. */
export type EventQueue<A> = Queue.Queue<A>

// ---- outcomes ------------------------------------------------------------------------------------------

export const succeeded: <A>(value: A) => Outcome<A, never> = Either.right
export const failed: <E>(error: E) => Outcome<never, E> = Either.left
export const isFailed = <A, E>(outcome: Outcome<A, E>): outcome is Either.Left<E, A> => Either.isLeft(outcome)
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Either.isLeft(outcome) ? outcome.left : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Either.isRight(outcome) ? outcome.right : undefined
/** An outcome as an effect: its failure in the error channel. */
export const fromOutcome = <A, E>(outcome: Outcome<A, E>): Effect.Effect<A, E> => outcome

/** Runs an effect to an outcome: its failure as a value. */
export const outcome: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Outcome<A, E>, never, R> = Effect.either

// ---- config -------------------------------------------------------------------------------------------

/** A field that could not be read from `Config`, and why. */
export type ConfigFailure = readonly [field: string, error: unknown]

/**
 * Reads options from `Config`, a whole `Config` of them or one per field; every field that cannot be read is
 * named, all at once.
 */
export const readConfig = <A>(config: ConfigOf<A>): Effect.Effect<Outcome<A, ReadonlyArray<ConfigFailure>>> => {
  if (Config.isConfig(config)) {
    return Effect.map(Effect.either(config as Config.Config<A>), Either.mapLeft((error) => [["options", error]]))
  }
  const fields = Object.entries(config as Record<string, Config.Config<unknown>>)
  return Effect.map(
    Effect.forEach(fields, ([, fieldConfig]) => Effect.either(fieldConfig)),
    (results) => {
      const failures = results.flatMap((result, index) =>
        Either.isLeft(result) ? [[fields[index]![0], result.left] as const] : []
      )
      if (failures.length > 0) return Either.left(failures)
      return Either.right(
        Object.fromEntries(
          results.flatMap((result, index) => Either.isRight(result) ? [[fields[index]![0], result.right]] : [])
        ) as A
      )
    }
  )
}

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

/** Recovers from any cause: failures, defects and interruptions (Effect 4: `Effect.catchCause`). */
export const catchAllCause: {
  <E, A2, E2, R2>(
    f: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E2, R | R2>
} = Effect.catchAllCause

/** Recovers from defects (Effect 4: `Effect.catchDefect`). */
export const catchAllDefect: {
  <A2, E2, R2>(
    f: (defect: unknown) => Effect.Effect<A2, E2, R2>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (defect: unknown) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E | E2, R | R2>
} = Effect.catchAllDefect

/** Fails with `onTimeout()` when `self` takes longer than `duration`. */
export const timeoutFail = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  duration: DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => Effect.timeoutFail(self, { duration, onTimeout })

/** {@link timeoutFail}, for a pipe. */
export const timeoutFailAfter =
  <E2>(duration: DurationInput, onTimeout: () => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> => timeoutFail(self, duration, onTimeout)

/** Whether a cause holds nothing but interruptions. */
export const isInterruptedOnly: <E>(cause: Cause.Cause<E>) => boolean = Cause.isInterruptedOnly

/** What a thrown value was, unwrapped from the `UnknownException` Effect wraps it in. */
export const thrownValue = (error: unknown): unknown => Cause.isUnknownException(error) ? error.error : error

/** The errors and defects of a cause, as they were given (a thrown value unwrapped from `UnknownException`). */
export const causeErrors = (cause: Cause.Cause<unknown>): Array<unknown> =>
  [...Cause.failures(cause), ...Cause.defects(cause)].map(thrownValue)

// ---- fibers --------------------------------------------------------------------------------------------

/** Runs `f` with the current fiber. */
export const withCurrentFiber: <A, E, R>(f: (fiber: RunningFiber) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  Effect.withFiberRuntime

/** The span a fiber is in, if any. */
export const currentSpan = (fiber: RunningFiber): Tracer.AnySpan | undefined => fiber.currentSpan

/** A fiber's name in logs and leak reports. */
export const fiberName = (fiber: RunningFiber): string => FiberId.threadName(fiber.id())

/** Forks `self` as a daemon: it outlives the fiber that forked it. */
export const forkDaemon: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<RunningFiberOf<A, E>, never, R> =
  Effect.forkDaemon

/** Forks `self` as a child of the current fiber. */
export const forkChild: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<RunningFiberOf<A, E>, never, R> =
  Effect.fork

/** Interrupts a fiber without waiting for it to stop. */
export const interruptFork: <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.Effect<void> = Fiber.interruptFork

/**
 * A function that starts effects on fibers of their own, interrupted when the current scope closes. A fiber
 * starts on the scheduler, never inside the caller's stack.
 */
export const makeRunner: Effect.Effect<(effect: Effect.Effect<unknown>) => RunningFiber, never, Scope.Scope> = Effect
  .map(
    FiberSet.makeRuntime<never, unknown, never>(),
    (runFiber) => (effect: Effect.Effect<unknown>) => runFiber(effect, { immediate: false })
  )

// ---- deferreds -----------------------------------------------------------------------------------------

/** A deferred made outside any fiber. */
export const makeDeferred = <A, E = never>(): Deferred.Deferred<A, E> => Deferred.unsafeMake<A, E>(FiberId.none)
/** Completes a deferred at once, outside any fiber. */
export const completeDeferred: <A, E>(self: Deferred.Deferred<A, E>, exit: Exit.Exit<A, E>) => void =
  Deferred.unsafeDone

// ---- scopes --------------------------------------------------------------------------------------------

/** Runs `f` with the current scope (Effect 4 has no `scopeWith`: `flatMap(Effect.scope, f)` is its form). */
export const withScope: <A, E, R>(
  f: (scope: Scope.Scope) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R | Scope.Scope> = Effect.scopeWith

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.extend(self, scope)

/** A child scope, closed with its parent; its finalizers run one after another. */
export const forkScope = (scope: Scope.Scope): Effect.Effect<CloseableScope> =>
  Scope.fork(scope, ExecutionStrategy.sequential)

/** A layer that builds its service in the layer's scope. */
export const scopedLayer: <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
) => Layer.Layer<I, E, Exclude<R, Scope.Scope>> = Layer.scoped

/** A stream built in a scope that stays open while the stream is read. */
export const scopedStream: <A, E2, R2, E, R>(
  effect: Effect.Effect<Stream.Stream<A, E2, R2>, E, R>
) => Stream.Stream<A, E | E2, R2 | Exclude<R, Scope.Scope>> = Stream.unwrapScoped

// ---- the clock, durations ------------------------------------------------------------------------------

/** The current clock, as two functions that read it synchronously (ms since the epoch, and monotonic ms). */
export const clockReaders: Effect.Effect<{ readonly now: () => number; readonly monotonicNow: () => number }> = Effect
  .map(Effect.clock, (clock) => ({
    now: () => clock.unsafeCurrentTimeMillis(),
    monotonicNow: () => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)
  }))

/** A duration from any input, or none when the input cannot be read as one. */
export const decodeDuration = (input: unknown): Option.Option<Duration.Duration> =>
  Duration.decodeUnknown(input as DurationInput)

/** A duration from an input the types already vouch for. */
export const toDuration: (input: DurationInput) => Duration.Duration = Duration.decode

export const isLongerThan: (self: Duration.Duration, that: Duration.Duration) => boolean = Duration.greaterThan

// ---- schedules, semaphores, queues ---------------------------------------------------------------------

/** Steps through a schedule: `next` waits for its next delay (failing once it is spent); `reset` starts over. */
export interface ScheduleStepper {
  readonly next: Effect.Effect<void, unknown>
  readonly reset: Effect.Effect<void>
}

export const makeStepper = (schedule: Schedule.Schedule<unknown, unknown>): Effect.Effect<ScheduleStepper> =>
  Effect.map(
    Schedule.driver(schedule),
    (driver) => ({ next: Effect.asVoid(driver.next(undefined)), reset: driver.reset })
  )

/** A counting semaphore. */
export interface Semaphore {
  readonly take: (permits: number) => Effect.Effect<number>
  readonly release: (permits: number) => Effect.Effect<number>
  readonly withPermits: (permits: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeSemaphore = (permits: number): Semaphore => Effect.unsafeMakeSemaphore(permits)

/** Offers to a queue at once; false when it had no room. */
export const offerNow = <A>(queue: EventQueue<A>, value: A): boolean => queue.unsafeOffer(value)

/** A queue that drops what arrives while it is full. */
export const droppingQueue: <A>(capacity: number) => Effect.Effect<EventQueue<A>> = Queue.dropping

/** Ends a queue's readers. */
export const shutdownQueue: <A>(queue: EventQueue<A>) => Effect.Effect<void> = Queue.shutdown

/** The values offered to a queue, as a stream. */
export const queueStream: <A>(queue: EventQueue<A>) => Stream.Stream<A> = (queue) => Stream.fromQueue(queue)
