/**
 * The tests' Effect 3 edge: every call the tests make into Effect or @effect/vitest whose name or shape differs
 * between Effect 3 and Effect 4, under one name both lines share. The test kit exports it as `Edge` (and `it`,
 * `TestClock` by themselves); the Effect 4 build replaces this file with packages/test-kit-effect4/edge/effect.ts
 * (same exports, same signatures).
 */
import { it as effectIt } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as TestServices from "effect/TestServices"
import type * as Vitest from "vitest"

// ---- the test runner and the clock ---------------------------------------------------------------------

/** @effect/vitest's `it`: `it.effect` (test clock), `it.scoped` (test clock and a scope), `it.live`. */
export const it = effectIt

/** The test clock (`TestClock.adjust`). */
export * as TestClock from "effect/TestClock"

/** Runs `effect` with the live clock, whatever clock the test runs with. */
export const live: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = TestServices.provideLive

// ---- type spellings ------------------------------------------------------------------------------------

export type DurationInput = Duration.DurationInput
/** A plain success-or-failure value (Effect 3's `Either`). */
export type Outcome<A, E> = Either.Either<A, E>
/** A running fiber. */
export type RunningFiber<A, E> = Fiber.RuntimeFiber<A, E>
export type CloseableScope = Scope.CloseableScope
/** What an effect succeeds with. */
export type Success<T extends Effect.Effect<any, any, any>> = Effect.Effect.Success<T>

/** A duration as Effect writes it ("1s 500ms"). */
export const formatDuration = (input: DurationInput): string => Duration.format(Duration.decode(input))

// ---- outcomes ------------------------------------------------------------------------------------------

/** Runs an effect to an outcome: its failure as a value. */
export const outcome: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Outcome<A, E>, never, R> = Effect.either
export const succeeded: <A>(value: A) => Outcome<A, never> = Either.right
export const failed: <E>(error: E) => Outcome<never, E> = Either.left
export const isSuccess = <A, E>(outcome: Outcome<A, E>): boolean => Either.isRight(outcome)
export const isFailure = <A, E>(outcome: Outcome<A, E>): boolean => Either.isLeft(outcome)
export const failureOf = <A, E>(outcome: Outcome<A, E>): E | undefined =>
  Either.isLeft(outcome) ? outcome.left : undefined
export const successOf = <A, E>(outcome: Outcome<A, E>): A | undefined =>
  Either.isRight(outcome) ? outcome.right : undefined

// ---- effects -------------------------------------------------------------------------------------------

/** Gives other fibers a turn. */
export const yieldNow: Effect.Effect<void> = Effect.yieldNow()

/** Fails with `onTimeout()` when the effect takes longer than `duration`. */
export const timeoutFail =
  <E2>(duration: DurationInput, onTimeout: () => E2) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.timeoutFail(self, { duration, onTimeout })

/** Whether an error is the one `Effect.timeout` fails with (Effect 3: `TimeoutException`). */
export const isTimeoutError = (error: unknown): boolean => Cause.isTimeoutException(error)

/** The first failure of a cause, if any. */
export const failureOption: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.failureOption

/** The failure of a cause that holds exactly one failure and nothing else. */
export const soleFailure = <E>(cause: Cause.Cause<E>): E | undefined => cause._tag === "Fail" ? cause.error : undefined

export const hasDefects = (cause: Cause.Cause<unknown>): boolean => Cause.isDie(cause)
export const hasInterrupts = (cause: Cause.Cause<unknown>): boolean => Cause.isInterrupted(cause)
export const isInterruptedOnly = (cause: Cause.Cause<unknown>): boolean => Cause.isInterruptedOnly(cause)
/** The cause of an interruption by no fiber in particular. */
export const interruption: Cause.Cause<never> = Cause.interrupt(FiberId.none)

/** Whether an exit holds an interruption. */
export const isInterrupted = (exit: Exit.Exit<unknown, unknown>): boolean => Exit.isInterrupted(exit)
/** The cause of a failed exit. */
export const causeOf: <A, E>(exit: Exit.Exit<A, E>) => Option.Option<Cause.Cause<E>> = Exit.causeOption

// ---- fibers --------------------------------------------------------------------------------------------

/** Forks a child of the current fiber. */
export const fork: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<RunningFiber<A, E>, never, R> = Effect.fork

/** Forks a fiber that outlives the current one. */
export const forkDaemon: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<RunningFiber<A, E>, never, R> =
  Effect.forkDaemon

/** A fiber's exit if it has ended. */
export const poll: <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.Effect<Option.Option<Exit.Exit<A, E>>> = Fiber.poll

/** A fiber's name in the pool's logs: `#<id>`. */
export const fiberName = (fiber: RunningFiber<unknown, unknown>): string => `#${fiber.id().id}`

/**
 * Interrupts `waiter` while `handOver` gives it what it waits for, in one synchronous step, so that the waiter is
 * handed something with an interruption already signalled that it has not yet seen. Effect 3 delivers the
 * interruption later, on the scheduler: it is signalled first, then `handOver` runs.
 */
export const interruptWhileHandingOver = <A, E, R>(
  waiter: RunningFiber<unknown, unknown>,
  handOver: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((self) => {
    waiter.unsafeInterruptAsFork(self.id())
    return handOver
  })

// ---- scopes and services -------------------------------------------------------------------------------

/** Runs `self` in `scope`: its finalizers are added to that scope. */
export const inScope: {
  (scope: Scope.Scope): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, Scope.Scope>>
  <A, E, R>(self: Effect.Effect<A, E, R>, scope: Scope.Scope): Effect.Effect<A, E, Exclude<R, Scope.Scope>>
} = Scope.extend

/** A child scope, closed with its parent; its finalizers run one after another. */
export const forkScope = (scope: Scope.Scope): Effect.Effect<CloseableScope> =>
  Scope.fork(scope, ExecutionStrategy.sequential)

/** A service key to extend: `class Pool extends Service<Pool, Shape>()("id") {}` (Effect 3: `Context.Tag`). */
export const Service = <Self, Shape>() => <const Id extends string>(id: Id): Context.TagClass<Self, Id, Shape> =>
  Context.Tag(id)<Self, Shape>()

// ---- config --------------------------------------------------------------------------------------------

export const configInt: (name: string) => Config.Config<number> = Config.integer
export const configString: (name: string) => Config.Config<string> = Config.string
export const configDuration: (name: string) => Config.Config<Duration.Duration> = Config.duration

/** What Effect's `ConfigError` says about `raw`, read as an integer and refused (Effect 3 quotes the value). */
export const unreadableIntegerDetail = (raw: string): string => `received "${raw}"`

/** Runs an effect with its `Config` read from `env` instead of the environment. */
export const withEnv =
  (env: Readonly<Record<string, string>>) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(env))))

// ---- logs ----------------------------------------------------------------------------------------------

/** A log line as the tests read it: its level's label (`"ERROR"`, `"WARN"`...), its text and its annotations. */
export interface LogEntry {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

export type TestLogger = Logger.Logger<unknown, void>

/** A logger that hands every log line to `onLog`. */
export const makeLogger = (onLog: (entry: LogEntry) => void): TestLogger =>
  Logger.make(({ annotations, logLevel, message }) => {
    onLog({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })

/** Runs an effect with `logger` in place of the default logger. */
export const withLogger = (logger: TestLogger) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provide(self, Logger.replace(Logger.defaultLogger, logger))

/** Runs an effect logging only at `level` and above (`"None"`: nothing). */
export const withMinimumLogLevel =
  (level: "Error" | "None") => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Logger.withMinimumLogLevel(self, level === "None" ? LogLevel.None : LogLevel.Error)

// ---- randomness ----------------------------------------------------------------------------------------

/** Runs an effect with a random generator seeded with `seed`. */
export const withSeed = (seed: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withRandom(self, Random.make(seed))

/** A random whole number from `min` (included) to `max` (excluded). */
export const randomInt: (min: number, max: number) => Effect.Effect<number> = Random.nextIntBetween

// ---- metrics -------------------------------------------------------------------------------------------

/** Labels (Effect 4: attributes) that pick one series of a metric. */
export type Labels = Readonly<Record<string, string>>

const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, labels: Labels) =>
  Object.entries(labels).reduce((tagged, [key, value]) => Metric.tagged(tagged, key, value), metric)

export const gaugeValue = (metric: Metric.Metric.Gauge<number>, labels: Labels): Effect.Effect<number> =>
  Effect.map(Metric.value(labelled(metric, labels)), (state) => state.value)

export const counterValue = (metric: Metric.Metric.Counter<number>, labels: Labels): Effect.Effect<number> =>
  Effect.map(Metric.value(labelled(metric, labels)), (state) => state.count)

export interface HistogramState {
  readonly count: number
  readonly sum: number
  readonly max: number
}

export const histogramState = (
  metric: Metric.Metric.Histogram<number>,
  labels: Labels
): Effect.Effect<HistogramState> =>
  Effect.map(Metric.value(labelled(metric, labels)), ({ count, max, sum }) => ({ count, max, sum }))

/** The label sets of every series of the metric named `name` in the registry. */
export const seriesOf = (name: string): Effect.Effect<Array<Labels>> =>
  Effect.map(
    Metric.snapshot,
    (pairs) =>
      pairs.flatMap((pair) =>
        pair.metricKey.name === name
          ? [Object.fromEntries(pair.metricKey.tags.map((tag) => [tag.key, tag.value]))]
          : []
      )
  )

// ---- property tests ------------------------------------------------------------------------------------

/** A generator of test inputs (Effect 3: a fast-check `Arbitrary`). */
export type Gen<A> = fc.Arbitrary<A>
export type GenValue<G> = G extends Gen<infer A> ? A : never

export const gen = {
  constant: <const A>(value: A): Gen<A> => fc.constant(value),
  /** One of `values`, each as likely (name one twice to make it twice as likely). */
  constantFrom: <A>(...values: ReadonlyArray<A>): Gen<A> => fc.constantFrom(...values),
  /** A whole number from `min` to `max`, both included. */
  integer: (min: number, max: number): Gen<number> => fc.integer({ min, max }),
  /** A whole number from 0 to `max`, both included. */
  nat: (max: number): Gen<number> => fc.nat(max),
  boolean: (): Gen<boolean> => fc.boolean(),
  record: <const R extends Record<string, Gen<any>>>(fields: R): Gen<{ -readonly [K in keyof R]: GenValue<R[K]> }> =>
    fc.record(fields) as unknown as Gen<{ -readonly [K in keyof R]: GenValue<R[K]> }>,
  /** One of the choices, picked in proportion to its weight. */
  oneof: <const Choices extends ReadonlyArray<{ readonly weight: number; readonly arbitrary: Gen<any> }>>(
    ...choices: Choices
  ): Gen<GenValue<Choices[number]["arbitrary"]>> => fc.oneof(...choices) as Gen<GenValue<Choices[number]["arbitrary"]>>,
  /** Arrays of `minLength` to `maxLength` items. */
  array: <A>(item: Gen<A>, lengths: { readonly minLength: number; readonly maxLength: number }): Gen<Array<A>> =>
    fc.array(item, { ...lengths, size: "max" }),
  map: <A, B>(self: Gen<A>, f: (a: A) => B): Gen<B> => self.map(f),
  chain: <A, B>(self: Gen<A>, f: (a: A) => Gen<B>): Gen<B> => self.chain(f)
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
    fastCheck: { seed: options.seed, numRuns: options.runs }
    // `size`: fast-check's arrays are drawn at size "max" (see `gen.array`)
  })
