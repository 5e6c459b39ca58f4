/**
 * The bench's Effect 3 edge: every call whose name or shape differs between Effect 3 and Effect 4, under the
 * names the bench uses. bench/edge-effect4/effect.ts is the Effect 4 side, with the same exports and signatures;
 * bench/build.mjs bundles it in place of this file for the Effect 4 line (the bench imports it as `#edge/effect`).
 */
import { Effect, type Fiber, Logger, LogLevel, Pool, Scope } from "effect"

/** The line this bundle measures. */
export const line: "effect3" | "effect4" = "effect3"

/** The `effect` package this line runs, from the repository root (for the version in the report). */
export const effectPackageJson = "bench/node_modules/effect/package.json"

/** How the "effect Pool" contender borrows, as the report states it. */
export const effectPoolForm = "Effect.scoped(Pool.get)"

/** The "effect Pool" contender's borrow: Effect 3's `Pool` has no `use`, so a scoped `get`. */
export const effectPoolUse = <A, E, B, E2, R2>(
  pool: Pool.Pool<A, E>,
  work: (item: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R2> => Effect.scoped(Effect.flatMap(Pool.get(pool), work))

/** A scope the bench closes itself. */
export type CloseableScope = Scope.CloseableScope

/** Runs `self` in `scope`, leaving the scope open (Effect 3: `Scope.extend`). */
export const provideScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.extend(self, scope)

/** An effect completed by a callback (Effect 3: `Effect.async`). */
export const callback = <A, E = never>(
  register: (resume: (effect: Effect.Effect<A, E>) => void) => void
): Effect.Effect<A, E> => Effect.async<A, E>((resume) => register(resume))

/** A running fiber, as `fork` gives it. */
export type RunningFiber<A, E> = Fiber.RuntimeFiber<A, E>

/** Forks `self` as a child of the current fiber (Effect 3: `Effect.fork`). */
export const fork = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiber<A, E>, never, R> =>
  Effect.fork(self)

/** Runs `self` logging warnings and errors only. */
export const warningsOnly = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Logger.withMinimumLogLevel(self, LogLevel.Warning)
