/**
 * The bench's Effect 4 edge: bench/build.mjs bundles this file in place of bench/src/edge/effect.ts (the Effect 3
 * side, same exports and signatures) when it builds the Effect 4 line.
 */
import { Effect, type Fiber, Pool, References, Scope } from "effect"

/** The line this bundle measures. */
export const line: "effect3" | "effect4" = "effect4"

/** The `effect` package this line runs, from the repository root (for the version in the report). */
export const effectPackageJson = "packages/core-effect4/node_modules/effect/package.json"

/** How the "effect Pool" contender borrows, as the report states it. */
export const effectPoolForm = "Pool.use"

/** The "effect Pool" contender's borrow: Effect 4's `Pool.use`, which needs no scope. */
export const effectPoolUse = <A, E, B, E2, R2>(
  pool: Pool.Pool<A, E>,
  work: (item: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R2> => Pool.use(pool, work)

/** A scope the bench closes itself. */
export type CloseableScope = Scope.Closeable

/** Runs `self` in `scope`, leaving the scope open (Effect 4: `Scope.provide`). */
export const provideScope = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  scope: Scope.Scope
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => Scope.provide(self, scope)

/** An effect completed by a callback (Effect 4: `Effect.callback`). */
export const callback = <A, E = never>(
  register: (resume: (effect: Effect.Effect<A, E>) => void) => void
): Effect.Effect<A, E> => Effect.callback<A, E>((resume) => register(resume))

/** A running fiber, as `fork` gives it. */
export type RunningFiber<A, E> = Fiber.Fiber<A, E>

/** Forks `self` as a child of the current fiber (Effect 4: `Effect.forkChild`). */
export const fork = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiber<A, E>, never, R> =>
  Effect.forkChild(self)

/** Runs `self` logging warnings and errors only. */
export const warningsOnly = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, References.MinimumLogLevel, "Warn")
