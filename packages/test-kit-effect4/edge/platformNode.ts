/**
 * The Effect 4 edge of the platform-node tests (packages/test-kit/src/internal/edge/platformNode.ts is the
 * Effect 3 side: same exports, same signatures). `scripts/lines.mjs` puts this file in place of that one.
 */
import { it as effectIt, type Vitest as EffectVitest } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

// ---- tests ---------------------------------------------------------------------------------------------

/** @effect/vitest's `it`, with Effect 3's `it.scopedLive`: Effect 4's `it.live` gives every test a scope. */
export interface It extends EffectVitest.Methods {
  (name: string, fn?: () => void | Promise<void>, timeout?: number): void
  readonly scopedLive: EffectVitest.Tester<Scope.Scope>
}

export const it: It = new Proxy(effectIt, {
  get: (target, property, receiver) => property === "scopedLive" ? target.live : Reflect.get(target, property, receiver)
}) as unknown as It

// ---- effects, deferreds, fibers ----------------------------------------------------------------------

/** An effect completed by a callback (Effect 4's `Effect.callback`). */
export const callback = <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
): Effect.Effect<A, E, R> => Effect.callback<A, E, R>((resume) => register(resume))

/** Completes a deferred at once, outside any fiber. */
export const completeDeferred = <A, E>(self: Deferred.Deferred<A, E>, exit: Exit.Exit<A, E>): void => {
  Deferred.doneUnsafe(self, exit)
}

/**
 * A counter of the current fiber's own: each call adds one to it and returns the new count (a fiber forked
 * later starts from 0).
 */
export const makeFiberCounter = (): Effect.Effect<number> => {
  const counts = new WeakMap<Fiber.Fiber<unknown, unknown>, number>()
  return Effect.withFiber((fiber) => {
    const count = (counts.get(fiber) ?? 0) + 1
    counts.set(fiber, count)
    return Effect.succeed(count)
  })
}

// ---- exits -------------------------------------------------------------------------------------------

/** The defect an exit failed with, if any. */
export const diedWith = <A, E>(exit: Exit.Exit<A, E>): Option.Option<unknown> => {
  if (Exit.isSuccess(exit)) return Option.none()
  const defect = Cause.findDefect(exit.cause)
  return Result.isSuccess(defect) ? Option.some(defect.success) : Option.none()
}

// ---- logs ----------------------------------------------------------------------------------------------

/** A line the program logged: its message, its cause and its annotations. */
export interface LogLine {
  readonly message: unknown
  readonly cause: Cause.Cause<unknown>
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A layer that replaces the default logger with `onLog`. */
export const loggerLayer = (onLog: (line: LogLine) => void): Layer.Layer<never> =>
  Logger.layer([
    Logger.make(({ cause, fiber, message }) =>
      onLog({ message, cause, annotations: fiber.getRef(References.CurrentLogAnnotations) })
    )
  ])

// ---- schedules, streams --------------------------------------------------------------------------------

/** Recurs while either schedule does, with the shorter delay (Effect 3's `Schedule.union`). */
export const unionSchedules = <A, B>(
  self: Schedule.Schedule<A, unknown>,
  that: Schedule.Schedule<B, unknown>
): Schedule.Schedule<unknown, unknown> => Schedule.min([self, that])

/** Recurs while both schedules do, with the longer delay (Effect 3's `Schedule.intersect`). */
export const intersectSchedules = <A, B>(
  self: Schedule.Schedule<A, unknown>,
  that: Schedule.Schedule<B, unknown>
): Schedule.Schedule<unknown, unknown> => Schedule.max([self, that])

/** A stream of the results of running `effect` again and again. */
export const repeatEffectStream: <A, E, R>(effect: Effect.Effect<A, E, R>) => Stream.Stream<A, E, R> =
  Stream.fromEffectRepeat
