/**
 * The Effect 3 edge of the platform-node tests: the calls into Effect (and @effect/vitest) whose name or shape
 * differs between Effect 3 and Effect 4, under one name both lines share. The Effect 4 build replaces this file
 * with packages/test-kit-effect4/edge/platformNode.ts (same exports, same signatures). What the tests share with
 * the other packages' tests is in ./effect.ts; this file holds only what the platform-node tests alone need.
 */
import { it as effectIt, type Vitest } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

// ---- tests ---------------------------------------------------------------------------------------------

/**
 * @effect/vitest's `it`, whose `it.scopedLive` (live services, and a scope closed when the test ends) Effect 4's
 * @effect/vitest spells `it.live`.
 */
export const it: Vitest.Methods = effectIt

// ---- effects, deferreds, fibers ----------------------------------------------------------------------

/** An effect completed by a callback (Effect 3's `Effect.async`). */
export const callback: <A, E = never, R = never>(
  register: (resume: (effect: Effect.Effect<A, E, R>) => void) => void | Effect.Effect<void, never, R>
) => Effect.Effect<A, E, R> = Effect.async

/** Completes a deferred at once, outside any fiber. */
export const completeDeferred: <A, E>(self: Deferred.Deferred<A, E>, exit: Exit.Exit<A, E>) => void =
  Deferred.unsafeDone

/**
 * A counter of the current fiber's own: each call adds one to it and returns the new count (a fiber forked
 * later starts from 0).
 */
export const makeFiberCounter = (): Effect.Effect<number> => {
  const ref = FiberRef.unsafeMake(0, { fork: () => 0 })
  return FiberRef.updateAndGet(ref, (count) => count + 1)
}

// ---- exits -------------------------------------------------------------------------------------------

/** The defect an exit failed with, if any. */
export const diedWith = <A, E>(exit: Exit.Exit<A, E>): Option.Option<unknown> =>
  Exit.isFailure(exit) && Cause.isDie(exit.cause) ? Cause.dieOption(exit.cause) : Option.none()

// ---- logs ----------------------------------------------------------------------------------------------

/** A line the program logged: its message, its cause and its annotations. */
export interface LogLine {
  readonly message: unknown
  readonly cause: Cause.Cause<unknown>
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A layer that replaces the default logger with `onLog`. */
export const loggerLayer = (onLog: (line: LogLine) => void): Layer.Layer<never> =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, message }) =>
      onLog({ message, cause, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    )
  )

// ---- schedules, streams --------------------------------------------------------------------------------

/** Recurs while either schedule does, with the shorter delay (Effect 3's `Schedule.union`). */
export const unionSchedules = <A, B>(
  self: Schedule.Schedule<A, unknown>,
  that: Schedule.Schedule<B, unknown>
): Schedule.Schedule<unknown, unknown> => Schedule.union(self, that)

/** Recurs while both schedules do, with the longer delay (Effect 3's `Schedule.intersect`). */
export const intersectSchedules = <A, B>(
  self: Schedule.Schedule<A, unknown>,
  that: Schedule.Schedule<B, unknown>
): Schedule.Schedule<unknown, unknown> => Schedule.intersect(self, that)

/** A stream of the results of running `effect` again and again. */
export const repeatEffectStream: <A, E, R>(effect: Effect.Effect<A, E, R>) => Stream.Stream<A, E, R> =
  Stream.repeatEffect
