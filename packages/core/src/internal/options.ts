import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { Options } from "../ConnectionPool.js"
import { InvalidPoolOptions, type OptionIssue } from "../PoolError.js"
import { decodeDuration } from "./duration.js"

/** Options with every default filled in and every duration decoded. */
export interface ResolvedOptions {
  readonly name: string
  readonly maxConnections: number
  readonly minConnections: number
  readonly validateOnBorrow: boolean
  readonly validationWindow: Duration.Duration
  readonly leakDetectionThreshold: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly openRetry: Schedule.Schedule<unknown, unknown> | undefined
  readonly breakerThreshold: number
  readonly breakerResetAfter: Duration.Duration
  readonly warmUp: boolean
  readonly maxWaiting: number
  readonly connectionTimeout: Duration.Duration
  readonly openTimeout: Duration.Duration
  readonly healthCheckInterval: Duration.Duration
  readonly healthCheckTimeout: Duration.Duration
  readonly staleAfter: Duration.Duration
  readonly unhealthyScore: number
  readonly maxErrors: number
  readonly timeToLive: Duration.Duration
  readonly maxLifetime: Duration.Duration
  readonly idleTimeout: Duration.Duration
  readonly timeToLiveStrategy: "usage" | "creation"
  readonly metrics: boolean
  readonly traceBorrows: boolean
}

export const defaults: ResolvedOptions = {
  name: "connection-pool",
  maxConnections: 10,
  minConnections: 0,
  validateOnBorrow: false,
  validationWindow: Duration.millis(500),
  leakDetectionThreshold: Duration.infinity,
  shutdownTimeout: Duration.infinity,
  openRetry: undefined,
  breakerThreshold: Number.POSITIVE_INFINITY,
  breakerResetAfter: Duration.seconds(10),
  warmUp: false,
  maxWaiting: Number.POSITIVE_INFINITY,
  connectionTimeout: Duration.seconds(30),
  openTimeout: Duration.seconds(30),
  healthCheckInterval: Duration.seconds(30),
  healthCheckTimeout: Duration.seconds(5),
  staleAfter: Duration.minutes(5),
  unhealthyScore: 50,
  maxErrors: 5,
  timeToLive: Duration.infinity,
  maxLifetime: Duration.infinity,
  idleTimeout: Duration.infinity,
  timeToLiveStrategy: "usage",
  metrics: false,
  traceBorrows: false
}

/**
 * A duration option, checked by the one duration check shared with the keyed pool and the IPC options, as a
 * schema, so that a refusal is reported under the option's name with the others.
 */
const positiveDuration = (allowInfinite: boolean) =>
  Schema.transformOrFail(Schema.Unknown, Schema.DurationFromSelf, {
    strict: true,
    decode: (input, _, ast) =>
      Either.match(decodeDuration(input, allowInfinite), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
        onRight: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  })

const positiveInteger = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) && n > 0 || "must be a whole number above zero")
)
const nonNegativeInteger = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) && n >= 0 || "must be a whole number, zero or more")
)
const score = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n) && n >= 0 && n <= 100 || "must be a number from 0 to 100")
)

// Exact: `undefined` keys are removed before decoding (an option left undefined takes its default), so
// a bad value is reported once, against its own schema, rather than also against `undefined`.
const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const OptionsSchema = Schema.Struct({
  name: optional(Schema.String.pipe(Schema.filter((s) => s.length > 0 || "must not be empty"))),
  maxConnections: optional(positiveInteger),
  minConnections: optional(nonNegativeInteger),
  validateOnBorrow: optional(Schema.Boolean),
  validationWindow: optional(positiveDuration(false)),
  leakDetectionThreshold: optional(positiveDuration(true)),
  shutdownTimeout: optional(positiveDuration(true)),
  openRetry: optional(
    Schema.declare((u): u is Schedule.Schedule<unknown, unknown> => Schedule.isSchedule(u), {
      message: () => "must be a Schedule"
    })
  ),
  breakerThreshold: optional(positiveInteger),
  breakerResetAfter: optional(positiveDuration(false)),
  warmUp: optional(Schema.Boolean),
  maxWaiting: optional(positiveInteger),
  connectionTimeout: optional(positiveDuration(false)),
  openTimeout: optional(positiveDuration(false)),
  healthCheckInterval: optional(positiveDuration(false)),
  healthCheckTimeout: optional(positiveDuration(false)),
  staleAfter: optional(positiveDuration(true)),
  unhealthyScore: optional(score),
  maxErrors: optional(positiveInteger),
  timeToLive: optional(positiveDuration(true)),
  maxLifetime: optional(positiveDuration(true)),
  idleTimeout: optional(positiveDuration(true)),
  timeToLiveStrategy: optional(Schema.Literal("usage", "creation")),
  metrics: optional(Schema.Boolean),
  traceBorrows: optional(Schema.Boolean)
})

const decodeOptions = Schema.decodeUnknownEither(OptionsSchema, { errors: "all", onExcessProperty: "error" })

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let value: unknown = input
  for (const key of path) {
    value = typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined
  }
  return value
}

/** One issue per field: a union (such as a set of literals) reports each of its members' complaints. */
const issuesByField = (
  input: unknown,
  issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>
): Array<OptionIssue> => {
  const byField = new Map<string, { value: unknown; messages: Array<string> }>()
  for (const issue of issues) {
    const field = issue.path.length === 0 ? "options" : issue.path.map(String).join(".")
    const entry = byField.get(field) ?? { value: valueAt(input, issue.path), messages: [] }
    if (!entry.messages.includes(issue.message)) entry.messages.push(issue.message)
    byField.set(field, entry)
  }
  return Array.from(byField, ([field, { messages, value }]) => ({ field, value, message: messages.join(" or ") }))
}

/** Validates options and fills in defaults; every bad field is named in one `InvalidPoolOptions`. */
export const resolve = (options: Options | undefined): Either.Either<ResolvedOptions, InvalidPoolOptions> => {
  const input: unknown = options ?? {}
  if (typeof input !== "object" || input === null) {
    return Either.left(
      new InvalidPoolOptions({
        reason: "InvalidValue",
        issues: [{ field: "options", value: input, message: "must be an object" }]
      })
    )
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
  return decodeOptions(defined).pipe(
    Either.mapLeft((error) =>
      new InvalidPoolOptions({
        reason: "InvalidValue",
        issues: issuesByField(input, ParseResult.ArrayFormatter.formatErrorSync(error)),
        cause: error
      })
    ),
    Either.flatMap((decoded) => {
      const resolved: ResolvedOptions = {
        name: decoded.name ?? defaults.name,
        maxConnections: decoded.maxConnections ?? defaults.maxConnections,
        minConnections: decoded.minConnections ?? defaults.minConnections,
        validateOnBorrow: decoded.validateOnBorrow ?? defaults.validateOnBorrow,
        validationWindow: decoded.validationWindow ?? defaults.validationWindow,
        leakDetectionThreshold: decoded.leakDetectionThreshold ?? defaults.leakDetectionThreshold,
        shutdownTimeout: decoded.shutdownTimeout ?? defaults.shutdownTimeout,
        openRetry: decoded.openRetry ?? defaults.openRetry,
        breakerThreshold: decoded.breakerThreshold ?? defaults.breakerThreshold,
        breakerResetAfter: decoded.breakerResetAfter ?? defaults.breakerResetAfter,
        warmUp: decoded.warmUp ?? defaults.warmUp,
        maxWaiting: decoded.maxWaiting ?? defaults.maxWaiting,
        connectionTimeout: decoded.connectionTimeout ?? defaults.connectionTimeout,
        openTimeout: decoded.openTimeout ?? defaults.openTimeout,
        healthCheckInterval: decoded.healthCheckInterval ?? defaults.healthCheckInterval,
        healthCheckTimeout: decoded.healthCheckTimeout ?? defaults.healthCheckTimeout,
        staleAfter: decoded.staleAfter ?? defaults.staleAfter,
        unhealthyScore: decoded.unhealthyScore ?? defaults.unhealthyScore,
        maxErrors: decoded.maxErrors ?? defaults.maxErrors,
        timeToLive: decoded.timeToLive ?? defaults.timeToLive,
        maxLifetime: decoded.maxLifetime ?? defaults.maxLifetime,
        idleTimeout: decoded.idleTimeout ?? defaults.idleTimeout,
        timeToLiveStrategy: decoded.timeToLiveStrategy ?? defaults.timeToLiveStrategy,
        metrics: decoded.metrics ?? defaults.metrics,
        traceBorrows: decoded.traceBorrows ?? defaults.traceBorrows
      }
      if (resolved.minConnections > resolved.maxConnections) {
        return Either.left(
          new InvalidPoolOptions({
            reason: "InvalidValue",
            issues: [{
              field: "minConnections",
              value: resolved.minConnections,
              message: `must not exceed maxConnections (${resolved.maxConnections})`
            }]
          })
        )
      }
      return Either.right(resolved)
    })
  )
}

/**
 * Reads options from `Config`. Each option is read on its own so that an unreadable value is reported
 * under the option's name (and the config key it came from), all of them at once.
 */
export const fromConfig = (
  config: Config.Config.Wrap<Options>
): Effect.Effect<ResolvedOptions, InvalidPoolOptions> => {
  if (Config.isConfig(config)) {
    return Effect.mapError(config as Config.Config<Options>, (error) => unreadable([["options", error]])).pipe(
      Effect.flatMap(resolve)
    )
  }
  const fields = Object.entries(config as Record<string, Config.Config<unknown>>)
  return Effect.forEach(fields, ([field, fieldConfig]) =>
    Effect.either(fieldConfig).pipe(
      Effect.map(Either.mapLeft((error) => [field, error] as const))
    )).pipe(
      Effect.flatMap((results) => {
        const failures = results.filter(Either.isLeft).map((result) => result.left)
        if (failures.length > 0) {
          return Effect.fail(unreadable(failures))
        }
        const values = Object.fromEntries(
          results.flatMap((result, index) => Either.isRight(result) ? [[fields[index]![0], result.right]] : [])
        )
        return resolve(values as Options)
      })
    )
}

const unreadable = (failures: ReadonlyArray<readonly [string, ConfigError.ConfigError]>): InvalidPoolOptions =>
  new InvalidPoolOptions({
    reason: "UnreadableConfig",
    issues: failures.map(([field, error]) => ({
      field,
      value: undefined,
      message: `cannot be read: ${String(error)}`
    })),
    cause: failures.map(([, error]) => error)
  })
