import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Options } from "../ConnectionPool.js"
import { InvalidPoolOptions, type OptionIssue } from "../PoolError.js"
import { decodeDuration } from "./duration.js"
import * as edge from "./edge/effect.js"

/**
 * One option's check: the decoded value, or the message saying what the option accepts. Plain TypeScript, so
 * that both Effect lines share it (Effect 3's and Effect 4's `Schema` differ in every name this would use).
 */
type Check<A> = (value: unknown) => { readonly value: A } | string

const duration = (allowInfinite: boolean): Check<Duration.Duration> => (value) => {
  const decoded = decodeDuration(value, allowInfinite)
  return edge.isFailed(decoded) ? edge.failureOf(decoded)! : { value: edge.successOf(decoded)! }
}

const number = (accepts: (n: number) => boolean, message: string): Check<number> => (value) =>
  typeof value === "number" && accepts(value) ? { value } : message

const positiveInteger = number((n) => Number.isSafeInteger(n) && n > 0, "must be a whole number above zero")
/** A positive whole number given, or no bound (infinity) when left out. */
const bound = positiveInteger
const nonNegativeInteger = number((n) => Number.isSafeInteger(n) && n >= 0, "must be a whole number, zero or more")
const score = number((n) => Number.isFinite(n) && n >= 0 && n <= 100, "must be a number from 0 to 100")
/** A share of capacity: above zero, at most one. */
const share = number((n) => Number.isFinite(n) && n > 0 && n <= 1, "must be a number above 0 and at most 1")
const boolean: Check<boolean> = (value) => typeof value === "boolean" ? { value } : "must be true or false"
const name: Check<string> = (value) =>
  typeof value === "string" && value.length > 0 ? { value } : "must be a non-empty string"
const schedule: Check<Schedule.Schedule<unknown, unknown> | undefined> = (value) =>
  Schedule.isSchedule(value) ? { value: value as Schedule.Schedule<unknown, unknown> } : "must be a Schedule"
const oneOf = <const L extends ReadonlyArray<string>>(...literals: L): Check<L[number]> => (value) =>
  literals.includes(value as string)
    ? { value: value as L[number] }
    : `must be one of ${literals.map((literal) => JSON.stringify(literal)).join(", ")}`

/** An option's check and its default, filled in when the option is left out (or given as `undefined`). */
const option = <A>(check: Check<A>, defaultValue: () => A) => ({ check, defaultValue })

/**
 * The options: each one's check and default, in one place. `ResolvedOptions` (every default filled in, every
 * duration decoded) is what they decode to. The defaults are also written in the JSDoc of
 * `ConnectionPool.Options`.
 */
const optionChecks = {
  name: option(name, () => "connection-pool"),
  maxConnections: option(positiveInteger, () => 10),
  minConnections: option(nonNegativeInteger, () => 0),
  validateOnBorrow: option(boolean, () => false),
  validationWindow: option(duration(false), () => Duration.millis(500)),
  leakDetectionThreshold: option(duration(true), () => Duration.infinity),
  shutdownTimeout: option(duration(true), () => Duration.infinity),
  openRetry: option(schedule, () => undefined),
  breakerThreshold: option(bound, () => Number.POSITIVE_INFINITY),
  breakerResetAfter: option(duration(false), () => Duration.seconds(10)),
  warmUp: option(boolean, () => false),
  maxWaiting: option(bound, () => Number.POSITIVE_INFINITY),
  connectionTimeout: option(duration(false), () => Duration.seconds(30)),
  openTimeout: option(duration(false), () => Duration.seconds(30)),
  healthCheckInterval: option(duration(false), () => Duration.seconds(30)),
  healthCheckTimeout: option(duration(false), () => Duration.seconds(5)),
  staleAfter: option(duration(true), () => Duration.minutes(5)),
  unhealthyScore: option(score, () => 50),
  maxErrors: option(positiveInteger, () => 5),
  timeToLive: option(duration(true), () => Duration.infinity),
  maxLifetime: option(duration(true), () => Duration.infinity),
  idleTimeout: option(duration(true), () => Duration.infinity),
  timeToLiveStrategy: option(oneOf("usage", "creation"), () => "usage" as const),
  metrics: option(boolean, () => false),
  traceBorrows: option(boolean, () => false),
  maxConnecting: option(positiveInteger, () => 2),
  concurrency: option(positiveInteger, () => 1),
  targetUtilization: option(share, () => 1)
}

type OptionChecks = typeof optionChecks

/** Options with every default filled in and every duration decoded. */
export type ResolvedOptions = {
  readonly [K in keyof OptionChecks]: OptionChecks[K] extends { readonly defaultValue: () => infer A } ? A : never
}

const optionNames = Object.keys(optionChecks)

const invalidValue = (issues: ReadonlyArray<OptionIssue>): InvalidPoolOptions =>
  new InvalidPoolOptions({ reason: "InvalidValue", issues })

/** Validates options and fills in defaults; every bad field is named in one `InvalidPoolOptions`. */
export const resolve = (options: Options | undefined): edge.Outcome<ResolvedOptions, InvalidPoolOptions> => {
  const input: unknown = options ?? {}
  if (typeof input !== "object" || input === null) {
    return edge.failed(invalidValue([{ field: "options", value: input, message: "must be an object" }]))
  }
  const given = input as Record<string, unknown>
  const issues: Array<OptionIssue> = []
  for (const field of Object.keys(given)) {
    if (!Object.hasOwn(optionChecks, field) && given[field] !== undefined) {
      issues.push({ field, value: given[field], message: `is not an option (${optionNames.join(", ")})` })
    }
  }
  const resolved: Record<string, unknown> = {}
  for (const [field, { check, defaultValue }] of Object.entries(optionChecks)) {
    const value = Object.hasOwn(given, field) ? given[field] : undefined
    if (value === undefined) {
      resolved[field] = defaultValue()
      continue
    }
    const checked = (check as Check<unknown>)(value)
    if (typeof checked === "string") issues.push({ field, value, message: checked })
    else resolved[field] = checked.value
  }
  if (issues.length > 0) return edge.failed(invalidValue(issues))
  const result = resolved as ResolvedOptions
  if (result.minConnections > result.maxConnections) {
    return edge.failed(invalidValue([{
      field: "minConnections",
      value: result.minConnections,
      message: `must not exceed maxConnections (${result.maxConnections})`
    }]))
  }
  return edge.succeeded(result)
}

/**
 * Reads options from `Config`. Each option is read on its own so that an unreadable value is reported
 * under the option's name (and the config key it came from), all of them at once.
 */
export const fromConfig = (config: edge.ConfigOf<Options>): Effect.Effect<ResolvedOptions, InvalidPoolOptions> =>
  Effect.flatMap(edge.readConfig(config), (read) =>
    edge.isFailed(read)
      ? Effect.fail(unreadable(edge.failureOf(read)!))
      : edge.fromOutcome(resolve(edge.successOf(read)!)))

const unreadable = (failures: ReadonlyArray<edge.ConfigFailure>): InvalidPoolOptions =>
  new InvalidPoolOptions({
    reason: "UnreadableConfig",
    issues: failures.map(([field, error]) => ({
      field,
      value: undefined,
      message: `cannot be read: ${String(error)}`
    })),
    cause: failures.map(([, error]) => error)
  })
