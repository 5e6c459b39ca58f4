import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { Options } from "../ConnectionPool.js"
import { InvalidPoolOptions, type OptionIssue } from "../PoolError.js"
import { decodeDuration } from "./duration.js"

/**
 * A duration option, checked by the one duration check shared with the keyed pool and the IPC options, as a
 * schema, so that a refusal is reported under the option's name with the others.
 */
const duration = (allowInfinite: boolean) =>
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
/**
 * A positive whole number given, or no bound when left out. The type side is a plain number: Schema checks a
 * default against it, and the default (infinity) is not a value one can give.
 */
const bound = Schema.transform(positiveInteger, Schema.Number, { strict: true, decode: identity, encode: identity })
const nonNegativeInteger = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) && n >= 0 || "must be a whole number, zero or more")
)
const score = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n) && n >= 0 && n <= 100 || "must be a number from 0 to 100")
)
/** A share of capacity: above zero, at most one. */
const share = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n) && n > 0 && n <= 1 || "must be a number above 0 and at most 1")
)
const schedule = Schema.declare((u): u is Schedule.Schedule<unknown, unknown> => Schedule.isSchedule(u), {
  message: () => "must be a Schedule"
})

/**
 * An option and its default, filled in when the option is left out. Exact: `undefined` keys are removed before
 * decoding (an option left undefined takes its default), so a bad value is reported once, against its own
 * schema, rather than also against `undefined`.
 */
const withDefault = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { exact: true, default: value })

/**
 * The options: each one's check and default, in one place. `ResolvedOptions` (every default filled in, every
 * duration decoded) is its decoded type. The defaults are also written in the JSDoc of `ConnectionPool.Options`.
 */
const OptionsSchema = Schema.Struct({
  name: withDefault(
    Schema.String.pipe(Schema.filter((s) => s.length > 0 || "must not be empty")),
    () => "connection-pool"
  ),
  maxConnections: withDefault(positiveInteger, () => 10),
  minConnections: withDefault(nonNegativeInteger, () => 0),
  validateOnBorrow: withDefault(Schema.Boolean, () => false),
  validationWindow: withDefault(duration(false), () => Duration.millis(500)),
  leakDetectionThreshold: withDefault(duration(true), () => Duration.infinity),
  shutdownTimeout: withDefault(duration(true), () => Duration.infinity),
  openRetry: withDefault(Schema.UndefinedOr(schedule), () => undefined),
  breakerThreshold: withDefault(bound, () => Number.POSITIVE_INFINITY),
  breakerResetAfter: withDefault(duration(false), () => Duration.seconds(10)),
  warmUp: withDefault(Schema.Boolean, () => false),
  maxWaiting: withDefault(bound, () => Number.POSITIVE_INFINITY),
  connectionTimeout: withDefault(duration(false), () => Duration.seconds(30)),
  openTimeout: withDefault(duration(false), () => Duration.seconds(30)),
  healthCheckInterval: withDefault(duration(false), () => Duration.seconds(30)),
  healthCheckTimeout: withDefault(duration(false), () => Duration.seconds(5)),
  staleAfter: withDefault(duration(true), () => Duration.minutes(5)),
  unhealthyScore: withDefault(score, () => 50),
  maxErrors: withDefault(positiveInteger, () => 5),
  timeToLive: withDefault(duration(true), () => Duration.infinity),
  maxLifetime: withDefault(duration(true), () => Duration.infinity),
  idleTimeout: withDefault(duration(true), () => Duration.infinity),
  timeToLiveStrategy: withDefault(Schema.Literal("usage", "creation"), () => "usage" as const),
  metrics: withDefault(Schema.Boolean, () => false),
  traceBorrows: withDefault(Schema.Boolean, () => false),
  maxConnecting: withDefault(positiveInteger, () => 2),
  concurrency: withDefault(positiveInteger, () => 1),
  targetUtilization: withDefault(share, () => 1)
})

/** Options with every default filled in and every duration decoded. */
export type ResolvedOptions = typeof OptionsSchema.Type

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
    Either.flatMap((resolved) => {
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
