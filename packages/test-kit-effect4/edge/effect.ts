/**
 * The tests' Effect 4 edge: every call the tests make into Effect or @effect/vitest whose name or shape differs
 * between Effect 3 and Effect 4, under the names the shared tests use (packages/test-kit/src/internal/edge/effect.ts
 * is the Effect 3 side; both export the same names with the same signatures). `scripts/lines.mjs` puts this file
 * in place of that one.
 */
import { it as effectIt, type Vitest as EffectVitest } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClockModule from "effect/testing/TestClock"
import type * as Vitest from "vitest"

// ---- the test runner and the clock ---------------------------------------------------------------------

/** @effect/vitest's `it`, with Effect 3's `it.scoped`: Effect 4's `it.effect` gives every test a scope. */
export interface It extends Omit<EffectVitest.Methods, "scoped"> {
  (name: string, fn?: () => void | Promise<void>, timeout?: number): void
  readonly scoped: EffectVitest.Tester<Scope.Scope>
}

export const it: It = new Proxy(effectIt, {
  get: (target, property, receiver) => property === "scoped" ? target.effect : Reflect.get(target, property, receiver)
}) as unknown as It

/** The test clock (`TestClock.adjust`), from `effect/testing` in Effect 4. */
export * as TestClock from "effect/testing/TestClock"

/**
 * Runs `effect` with the live clock, whatever clock the test runs with. Effect 4's `TestClock.withLive` reads the
 * clock as a test clock, so under `it.live` (the live clock already) the effect runs as it is.
 */
export const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) =>
    typeof (clock as { readonly withLive?: unknown }).withLive === "function"
      ? TestClockModule.withLive(effect)
      : effect
  )

// ---- type spellings ------------------------------------------------------------------------------------

export type DurationInput = Duration.Input
/** A plain success-or-failure value (Effect 4's `Result`). */
export type Outcome<A, E> = Result.Result<A, E>
/** A running fiber. */
export type RunningFiber<A, E> = Fiber.Fiber<A, E>
export type CloseableScope = Scope.Closeable
/** What an effect succeeds with. */
export type Success<T extends Effect.Effect<any, any, any>> = Effect.Success<T>

/** A duration as Effect writes it ("1s 500ms"). */
export const formatDuration = (input: DurationInput): string => Duration.format(Duration.fromInputUnsafe(input))

// ---- outcomes ------------------------------------------------------------------------------------------

/** Runs an effect to an outcome: its failure as a value. */
export const outcome: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Outcome<A, E>, never, R> = Effect.result
export const succeeded: <A>(value: A) => Outcome<A, never> = Result.succeed
export const failed: <E>(error: E) => Outcome<never, E> = Result.fail
export const isSuccess = <A, E>(outcome: Outcome<A, E>): boolean => Result.isSuccess(outcome)
export const isFailure = <A, E>(outcome: Outcome<A, E>): boolean => Result.isFailure(outcome)
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Result.isFailure(outcome) ? outcome.failure : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Result.isSuccess(outcome) ? outcome.success : undefined

// ---- effects -------------------------------------------------------------------------------------------

/** Gives other fibers a turn. */
export const yieldNow: Effect.Effect<void> = Effect.yieldNow

/** Fails with `onTimeout()` when the effect takes longer than `duration`. */
export const timeoutFail =
  <E2>(duration: DurationInput, onTimeout: () => E2) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.timeoutOrElse(self, { duration, orElse: () => Effect.fail(onTimeout()) })

/** Whether an error is the one `Effect.timeout` fails with (Effect 4: `TimeoutError`). */
export const isTimeoutError = (error: unknown): boolean => Cause.isTimeoutError(error)

/** The first failure of a cause, if any. */
export const failureOption: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.findErrorOption

/** The failure of a cause that holds exactly one failure and nothing else. */
export const soleFailure = <E>(cause: Cause.Cause<E>): E | undefined => {
  const [reason, ...others] = cause.reasons
  return reason !== undefined && others.length === 0 && Cause.isFailReason(reason) ? reason.error : undefined
}

export const hasDefects = (cause: Cause.Cause<unknown>): boolean => Cause.hasDies(cause)
export const hasInterrupts = (cause: Cause.Cause<unknown>): boolean => Cause.hasInterrupts(cause)
export const isInterruptedOnly = (cause: Cause.Cause<unknown>): boolean => Cause.hasInterruptsOnly(cause)
/** The cause of an interruption by no fiber in particular. */
export const interruption: Cause.Cause<never> = Cause.interrupt()

/** Whether an exit holds an interruption. */
export const isInterrupted = (exit: Exit.Exit<unknown, unknown>): boolean => Exit.hasInterrupts(exit)
/** The cause of a failed exit. */
export const causeOf: <A, E>(exit: Exit.Exit<A, E>) => Option.Option<Cause.Cause<E>> = Exit.getCause

// ---- fibers --------------------------------------------------------------------------------------------

/** Forks a child of the current fiber. */
export const fork = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiber<A, E>, never, R> =>
  Effect.forkChild(self)

/** Forks a fiber that outlives the current one. */
export const forkDaemon = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<RunningFiber<A, E>, never, R> =>
  Effect.forkDetach(self)

/** A fiber's exit if it has ended. */
export const poll = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<Option.Option<Exit.Exit<A, E>>> =>
  Effect.sync(() => Option.fromUndefinedOr(fiber.pollUnsafe()))

/** A fiber's name in the pool's logs: `#<id>`. */
export const fiberName = (fiber: RunningFiber<unknown, unknown>): string => `#${fiber.id}`

/**
 * Interrupts `waiter` while `handOver` gives it what it waits for, in one synchronous step, so that the waiter is
 * handed something with an interruption already signalled that it has not yet seen. Effect 4 runs the interruption
 * of a suspended fiber at once, inside the interrupting call (where Effect 3 delivers it later, on the scheduler):
 * signalled first, it would end the wait before the hand-over. So `handOver` runs first, and the interruption is
 * signalled right after it, before the waiter (resumed on the scheduler, see the core's edge) has run.
 */
export const interruptWhileHandingOver = <A, E, R>(
  waiter: RunningFiber<unknown, unknown>,
  handOver: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((self) => Effect.tap(handOver, () => Effect.sync(() => waiter.interruptUnsafe(self.id))))

// ---- scopes and services -------------------------------------------------------------------------------

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope: {
  (scope: Scope.Scope): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  <A, E, R>(self: Effect.Effect<A, E, R>, scope: Scope.Scope): Effect.Effect<A, E, Exclude<R, Scope.Scope>>
} = Scope.provide

/** A child scope, closed with its parent; its finalizers run one after another. */
export const forkScope = (scope: Scope.Scope): Effect.Effect<CloseableScope> => Scope.fork(scope, "sequential")

/** A service key to extend: `class Pool extends Service<Pool, Shape>()("id") {}` (Effect 4: `Context.Service`). */
export const Service = <Self, Shape>() => <const Id extends string>(id: Id): Context.ServiceClass<Self, Id, Shape> =>
  Context.Service<Self, Shape>()(id)

// ---- config --------------------------------------------------------------------------------------------

export const configInt = (name: string): Config.Config<number> => Config.Int(name)
export const configString = (name: string): Config.Config<string> => Config.String(name)
export const configDuration = (name: string): Config.Config<Duration.Duration> => Config.Duration(name)

/**
 * What Effect's `ConfigError` says about `raw`, read as an integer and refused. Effect 4 says what it expected and
 * no longer quotes the value (Effect 3: `received "ten"`).
 */
export const unreadableIntegerDetail = (_raw: string): string => "Expected a string representing a finite number"

/** Runs an effect with its `Config` read from `env` instead of the environment. */
export const withEnv =
  (env: Readonly<Record<string, string>>) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(self, ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({ ...env }))

// ---- logs ----------------------------------------------------------------------------------------------

/** A log line as the tests read it: its level's label (`"ERROR"`, `"WARN"`...), its text and its annotations. */
export interface LogEntry {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

export type TestLogger = Logger.Logger<unknown, void>

/** A logger that hands every log line to `onLog` (the level's label in capitals, as Effect 3 spells it). */
export const makeLogger = (onLog: (entry: LogEntry) => void): TestLogger =>
  Logger.make(({ fiber, logLevel, message }) => {
    onLog({
      level: logLevel.toUpperCase(),
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    })
  })

/** Runs an effect with `logger` in place of the default logger. */
export const withLogger = (logger: TestLogger) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provide(self, Logger.layer([logger]))

/** Runs an effect logging only at `level` and above (`"None"`: nothing). */
export const withMinimumLogLevel =
  (level: "Error" | "None") => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(self, References.MinimumLogLevel, level)

// ---- randomness ----------------------------------------------------------------------------------------

/** Runs an effect with a random generator seeded with `seed`. */
export const withSeed = (seed: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Random.withSeed(self, seed)

/** A random whole number from `min` (included) to `max` (excluded; Effect 4 includes it unless told). */
export const randomInt = (min: number, max: number): Effect.Effect<number> =>
  Random.nextIntBetween(min, max, { halfOpen: true })

// ---- metrics -------------------------------------------------------------------------------------------

/** Labels (Effect 4: attributes) that pick one series of a metric. */
export type Labels = Readonly<Record<string, string>>

export const gaugeValue = (metric: Metric.Gauge<number>, labels: Labels): Effect.Effect<number> =>
  Effect.map(Metric.value(Metric.withAttributes(metric, labels)), (state) => state.value)

export const counterValue = (metric: Metric.Counter<number>, labels: Labels): Effect.Effect<number> =>
  Effect.map(Metric.value(Metric.withAttributes(metric, labels)), (state) => state.count)

export interface HistogramState {
  readonly count: number
  readonly sum: number
  readonly max: number
}

export const histogramState = (metric: Metric.Histogram<number>, labels: Labels): Effect.Effect<HistogramState> =>
  Effect.map(Metric.value(Metric.withAttributes(metric, labels)), ({ count, max, sum }) => ({ count, max, sum }))

/** The label sets of every series of the metric named `name` in the registry. */
export const seriesOf = (name: string): Effect.Effect<Array<Labels>> =>
  Effect.map(
    Metric.snapshot,
    (snapshots) => snapshots.flatMap((snapshot) => snapshot.id === name ? [{ ...snapshot.attributes }] : [])
  )

// ---- property tests ------------------------------------------------------------------------------------

/** A generator of test inputs (Effect 4: an `effect/Arbitrary`). */
export type Gen<A> = Arbitrary.Arbitrary<A>
export type GenValue<G> = G extends Gen<infer A> ? A : never

const integer = (min: number, max: number): Gen<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

/** One of `choices`, picked in proportion to `weightOf`. */
const weighted = <C>(choices: ReadonlyArray<C>, weightOf: (choice: C) => number): Gen<C> => {
  const total = choices.reduce((sum, choice) => sum + weightOf(choice), 0)
  return Arbitrary.map(integer(0, total - 1), (n) => {
    for (const choice of choices) {
      if (n < weightOf(choice)) return choice
      n -= weightOf(choice)
    }
    return choices[choices.length - 1]!
  })
}

export const gen = {
  constant: <const A>(value: A): Gen<A> => Arbitrary.Constant(value),
  /** One of `values`, each as likely (name one twice to make it twice as likely). */
  constantFrom: <A>(...values: ReadonlyArray<A>): Gen<A> => weighted(values, () => 1),
  /** A whole number from `min` to `max`, both included. */
  integer,
  /** A whole number from 0 to `max`, both included. */
  nat: (max: number): Gen<number> => integer(0, max),
  boolean: (): Gen<boolean> => Arbitrary.schema(Schema.Boolean),
  record: <const R extends Record<string, Gen<any>>>(fields: R): Gen<{ -readonly [K in keyof R]: GenValue<R[K]> }> =>
    Arbitrary.all(fields) as unknown as Gen<{ -readonly [K in keyof R]: GenValue<R[K]> }>,
  /** One of the choices, picked in proportion to its weight. */
  oneof: <const Choices extends ReadonlyArray<{ readonly weight: number; readonly arbitrary: Gen<any> }>>(
    ...choices: Choices
  ): Gen<GenValue<Choices[number]["arbitrary"]>> =>
    Arbitrary.flatMap(weighted(choices, (choice) => choice.weight), (choice) => choice.arbitrary),
  /** Arrays of `minLength` to `maxLength` items. */
  array: <A>(item: Gen<A>, lengths: { readonly minLength: number; readonly maxLength: number }): Gen<Array<A>> =>
    Arbitrary.array(item, lengths),
  map: <A, B>(self: Gen<A>, f: (a: A) => B): Gen<B> => Arbitrary.map(self, f),
  chain: <A, B>(self: Gen<A>, f: (a: A) => Gen<B>): Gen<B> => Arbitrary.flatMap(self, f)
}

export interface PropertyOptions {
  readonly timeout: number
  readonly seed: number
  readonly runs: number
  /**
   * How large inputs grow (array lengths). Effect 4's checker grows the size from 0 to this over the runs; Effect 3
   * (fast-check, its arrays at size "max") draws any length up to the array's `maxLength` from the first run.
   */
  readonly size: number
}

/**
 * A property test: `body` runs (under the test clock) for each set of generated `inputs`, a fixed number of runs
 * from a fixed seed; a failure is shrunk to a smallest failing input.
 */
export const property = <const Arbs extends Record<string, Gen<any>>, A, E>(
  name: string,
  inputs: Arbs,
  body: (values: { [K in keyof Arbs]: GenValue<Arbs[K]> }, ctx: Vitest.TestContext) => Effect.Effect<A, E>,
  options: PropertyOptions
): void =>
  effectIt.effect.prop(name, inputs, (values, ctx) => body(values as { [K in keyof Arbs]: GenValue<Arbs[K]> }, ctx), {
    timeout: options.timeout,
    arbitrary: { seed: options.seed, runs: options.runs, size: options.size }
  })
