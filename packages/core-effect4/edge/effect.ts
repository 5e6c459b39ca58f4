/**
 * The Effect 4 edge: every call into Effect whose name or shape differs between Effect 3 and Effect 4, under
 * the names the shared source uses (packages/core/src/internal/edge/effect.ts is the Effect 3 side; both export
 * the same names with the same signatures). `scripts/lines.mjs` puts this file in place of that one.
 *
 * Effect 4 resumes a fiber waiting in `Effect.callback` or on a `Deferred` synchronously, inside the code that
 * resumes it, where Effect 3 schedules it. The pool's bookkeeping is written for Effect 3's order (a returned
 * connection is handed over and the bookkeeping finished before the waiter runs), so this edge keeps that order:
 * a resumed waiter goes on only after the code that resumed it has returned.
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as EffectSemaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

// ---- type spellings ------------------------------------------------------------------------------------

/** What a duration option accepts: a `Duration`, milliseconds, or a string such as "30 seconds". */
export type DurationInput = Duration.Input
/** A running fiber, as the pool keeps one (a borrower's, an open's). */
export type RunningFiber = Fiber.Fiber<unknown, unknown>
/** A running fiber that succeeds with `A` or fails with `E`. */
export type RunningFiberOf<A, E> = Fiber.Fiber<A, E>
/** A scope the pool closes itself. */
export type CloseableScope = Scope.Closeable
/** The key of a service in the context: what `layer` provides the pool under. */
export type ServiceKey<I, S> = Context.Key<I, S>
/** Options read from `Config`, as a whole or field by field. */
export type ConfigOf<A> = Config.Wrap<A>
/** A plain success-or-failure value (Effect 4's `Result`). */
export type Outcome<A, E> = Result.Result<A, E>
/** A queue the pool offers events to without waiting. */
export type EventQueue<A> = Queue.Queue<A>

// ---- outcomes ------------------------------------------------------------------------------------------

export const succeeded: <A>(value: A) => Outcome<A, never> = Result.succeed
export const failed: <E>(error: E) => Outcome<never, E> = Result.fail
export const isFailed = <A, E>(outcome: Outcome<A, E>): outcome is Result.Failure<A, E> => Result.isFailure(outcome)
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Result.isFailure(outcome) ? outcome.failure : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Result.isSuccess(outcome) ? outcome.success : undefined

/** An outcome as an effect: its failure in the error channel. */
export const fromOutcome = <A, E>(outcome: Outcome<A, E>): Effect.Effect<A, E> =>
  Result.isFailure(outcome) ? Effect.fail(outcome.failure) : Effect.succeed(outcome.success)

/** Runs an effect to an outcome: its failure as a value. */
export const outcome: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Outcome<A, E>, never, R> = Effect.result

// ---- config -------------------------------------------------------------------------------------------

/** A field that could not be read from `Config`, and why. */
export type ConfigFailure = readonly [field: string, error: unknown]

/**
 * Reads options from `Config`, a whole `Config` of them or one per field; every field that cannot be read is
 * named, all at once.
 */
export const readConfig = <A>(config: ConfigOf<A>): Effect.Effect<Outcome<A, ReadonlyArray<ConfigFailure>>> => {
  if (Config.isConfig(config)) {
    return Effect.map(
      Effect.result(config as unknown as Config.Config<A>),
      (read): Outcome<A, ReadonlyArray<ConfigFailure>> =>
        Result.isFailure(read) ? Result.fail([["options", read.failure]]) : Result.succeed(read.success)
    )
  }
  const fields = Object.entries(config as Record<string, Config.Config<unknown>>)
  return Effect.map(
    Effect.forEach(fields, ([, fieldConfig]) => Effect.result(fieldConfig)),
    (results): Outcome<A, ReadonlyArray<ConfigFailure>> => {
      const failures = results.flatMap((result, index) =>
        Result.isFailure(result) ? [[fields[index]![0], result.failure] as const] : []
      )
      if (failures.length > 0) return Result.fail(failures)
      return Result.succeed(
        Object.fromEntries(
          results.flatMap((result, index) => Result.isSuccess(result) ? [[fields[index]![0], result.success]] : [])
        ) as A
      )
    }
  )
}

// ---- effects -------------------------------------------------------------------------------------------

/**
 * An effect completed by a callback (Effect 4's `Effect.callback`). The fiber is resumed from a microtask, so
 * that the code calling `resume` (a borrower returning a connection, say) finishes its bookkeeping first, as in
 * Effect 3, where a resumed fiber is scheduled; a microtask rather than `Effect.yieldNow`, which in Effect 4 is a
 * macrotask hop per handover.
 */
export const callback = <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
): Effect.Effect<A, E, R> =>
  Effect.callback<A, E, R>((resume) =>
    register((effect) => {
      void Promise.resolve().then(() => resume(effect))
    })
  )

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

/** Recovers from any cause: failures, defects and interruptions (Effect 4: `Effect.catchCause`). */
export const catchAllCause: {
  <E, A2, E2, R2>(
    f: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E2, R | R2>
} = Effect.catchCause

/** Recovers from defects (Effect 4: `Effect.catchDefect`). */
export const catchAllDefect: {
  <A2, E2, R2>(
    f: (defect: unknown) => Effect.Effect<A2, E2, R2>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    f: (defect: unknown) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, E | E2, R | R2>
} = Effect.catchDefect

/** Fails with `onTimeout()` when `self` takes longer than `duration`. */
export const timeoutFail = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  duration: DurationInput,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => Effect.timeoutOrElse(self, { duration, orElse: () => Effect.fail(onTimeout()) })

/** {@link timeoutFail}, for a pipe. */
export const timeoutFailAfter =
  <E2>(duration: DurationInput, onTimeout: () => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> => timeoutFail(self, duration, onTimeout)

/**
 * Whether a cause holds nothing but interruptions; true for an empty cause, as Effect 3's `isInterruptedOnly`
 * (Effect 4's `hasInterruptsOnly` says false there).
 */
export const isInterruptedOnly = <E>(cause: Cause.Cause<E>): boolean => cause.reasons.every(Cause.isInterruptReason)

/** What a thrown value was, unwrapped from the `UnknownError` Effect wraps it in. */
export const thrownValue = (error: unknown): unknown => Cause.isUnknownError(error) ? error.cause : error

/** The errors and defects of a cause, as they were given (a thrown value unwrapped from `UnknownError`). */
export const causeErrors = (cause: Cause.Cause<unknown>): Array<unknown> =>
  cause.reasons.flatMap((reason) =>
    Cause.isFailReason(reason)
      ? [thrownValue(reason.error)]
      : Cause.isDieReason(reason)
      ? [thrownValue(reason.defect)]
      : []
  )

// ---- fibers --------------------------------------------------------------------------------------------

/** Runs `f` with the current fiber. */
export const withCurrentFiber: <A, E, R>(f: (fiber: RunningFiber) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  Effect.withFiber

/** The span a fiber is in, if any. */
export const currentSpan = (fiber: RunningFiber): Tracer.AnySpan | undefined =>
  Option.getOrUndefined(Context.getOption(fiber.context, Tracer.ParentSpan))

/** A fiber's name in logs and leak reports. */
export const fiberName = (fiber: RunningFiber): string => `#${fiber.id}`

/**
 * Forks `self` as a daemon: it outlives the fiber that forked it. Forked inside an uninterruptible region, it is
 * uninterruptible too, as in Effect 3 (Effect 4's forks are interruptible unless told to inherit).
 */
export const forkDaemon = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiberOf<A, E>, never, R> =>
  Effect.forkDetach(self, { startImmediately: false, uninterruptible: "inherit" })

/** Forks `self` as a child of the current fiber. */
export const forkChild = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiberOf<A, E>, never, R> =>
  Effect.forkChild(self, { startImmediately: false, uninterruptible: "inherit" })

/** Interrupts a fiber without waiting for it to stop. */
export const interruptFork = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber)))

/**
 * A function that starts effects on fibers of their own, interrupted when the current scope closes. A fiber
 * starts on the scheduler, never inside the caller's stack: it yields before running.
 */
export const makeRunner: Effect.Effect<(effect: Effect.Effect<unknown>) => RunningFiber, never, Scope.Scope> = Effect
  .map(
    FiberSet.makeRuntime<never, unknown, unknown>(),
    (runFiber) => (effect: Effect.Effect<unknown>) => runFiber(Effect.andThen(Effect.yieldNow, effect))
  )

// ---- deferreds -----------------------------------------------------------------------------------------

/** A deferred made outside any fiber. */
export const makeDeferred = <A, E = never>(): Deferred.Deferred<A, E> => Deferred.makeUnsafe<A, E>()
/** Completes a deferred at once, outside any fiber; its waiters yield before they go on. */
export const completeDeferred = <A, E>(self: Deferred.Deferred<A, E>, exit: Exit.Exit<A, E>): void => {
  Deferred.doneUnsafe(self, Effect.andThen(Effect.yieldNow, exit))
}

// ---- scopes --------------------------------------------------------------------------------------------

/** Runs `f` with the current scope (Effect 4 has no `scopeWith`: `flatMap(Effect.scope, f)` is its form). */
export const withScope = <A, E, R>(
  f: (scope: Scope.Scope) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | Scope.Scope> => Effect.flatMap(Effect.scope, f)

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.provide(self, scope)

/** A child scope, closed with its parent; its finalizers run one after another. */
export const forkScope = (scope: Scope.Scope): Effect.Effect<CloseableScope> => Scope.fork(scope, "sequential")

/** A layer that builds its service in the layer's scope. */
export const scopedLayer = <I, S, E, R>(
  tag: ServiceKey<I, S>,
  effect: Effect.Effect<S, E, R>
): Layer.Layer<I, E, Exclude<R, Scope.Scope>> => Layer.effect(tag, effect)

/** A stream built in a scope that stays open while the stream is read. */
export const scopedStream: <A, E2, R2, E, R>(
  effect: Effect.Effect<Stream.Stream<A, E2, R2>, E, R>
) => Stream.Stream<A, E | E2, R2 | Exclude<R, Scope.Scope>> = Stream.unwrap

// ---- the clock, durations ------------------------------------------------------------------------------

/** The current clock, as two functions that read it synchronously (ms since the epoch, and monotonic ms). */
export const clockReaders: Effect.Effect<{ readonly now: () => number; readonly monotonicNow: () => number }> = Effect
  .clockWith((clock) =>
    Effect.succeed({
      now: () => clock.currentTimeMillisUnsafe(),
      monotonicNow: () => Number(clock.currentTimeNanosUnsafe() / 1_000_000n)
    })
  )

/** A duration from any input, or none when the input cannot be read as one. */
export const decodeDuration = (input: unknown): Option.Option<Duration.Duration> =>
  Duration.fromInput(input as DurationInput)

/** A duration from an input the types already vouch for. */
export const toDuration: (input: DurationInput) => Duration.Duration = Duration.fromInputUnsafe

export const isLongerThan = (self: Duration.Duration, that: Duration.Duration): boolean =>
  Duration.isGreaterThan(self, that)

// ---- schedules, semaphores, queues ---------------------------------------------------------------------

/** Steps through a schedule: `next` waits for its next delay (failing once it is spent); `reset` starts over. */
export interface ScheduleStepper {
  readonly next: Effect.Effect<void, unknown>
  readonly reset: Effect.Effect<void>
}

export const makeStepper = (schedule: Schedule.Schedule<unknown, unknown>): Effect.Effect<ScheduleStepper> => {
  const makeStep = Schedule.toStepWithSleep(schedule)
  return Effect.map(makeStep, (first) => {
    let step = first
    return {
      next: Effect.suspend(() => Effect.asVoid(step(undefined))),
      reset: Effect.map(makeStep, (fresh) => {
        step = fresh
      })
    }
  })
}

/** A counting semaphore. */
export interface Semaphore {
  readonly take: (permits: number) => Effect.Effect<number>
  readonly release: (permits: number) => Effect.Effect<number>
  readonly withPermits: (permits: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeSemaphore = (permits: number): Semaphore => {
  const semaphore = EffectSemaphore.makeUnsafe(permits)
  return {
    take: (n) => EffectSemaphore.take(semaphore, n),
    release: (n) => EffectSemaphore.release(semaphore, n),
    withPermits: (n) => (self) => EffectSemaphore.withPermits(semaphore, n)(self)
  }
}

/** Offers to a queue at once; false when it had no room. */
export const offerNow = <A>(queue: EventQueue<A>, value: A): boolean => Queue.offerUnsafe(queue, value)

/** A queue that drops what arrives while it is full. */
export const droppingQueue = <A>(capacity: number): Effect.Effect<EventQueue<A>> => Queue.dropping<A>(capacity)

/** Ends a queue's readers. */
export const shutdownQueue = <A>(queue: EventQueue<A>): Effect.Effect<void> => Effect.asVoid(Queue.shutdown(queue))

/** The values offered to a queue, as a stream. */
export const queueStream = <A>(queue: EventQueue<A>): Stream.Stream<A> => Stream.fromQueue(queue)
