/**
 * The errors a pool can fail with.
 * Every one is a tagged error with a `reason` that says what happened and, where there is one, the `cause`
 * that led to it; a program never receives a bare string.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import { hasProperty } from "effect/Predicate"
import type * as Types from "effect/Types"
import * as internalDuration from "./internal/duration.js"
import type { Outcome } from "./internal/edge/effect.js"
import * as internalTypeIdError from "./internal/typeIdError.js"

/**
 * The symbol that marks an error of this module (see {@link isPoolError}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@connection-pool/core/PoolError")

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Whether a value is one of the errors of this module (any {@link PoolError}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isPoolError = (u: unknown): u is PoolError => hasProperty(u, TypeId)

/**
 * The constructor {@link TypeIdError} returns: `Data.TaggedError`'s, with the type id in the instance type.
 *
 * @since 0.2.0
 * @category constructors
 */
export type TypeIdErrorConstructor<TypeId extends symbol, Tag extends string> = new<
  A extends Record<string, any> = {}
>(
  args: Types.VoidIfEmpty<{ readonly [P in keyof A as P extends "_tag" ? never : P]: A[P] }>
) => Cause.YieldableError & Record<TypeId, TypeId> & { readonly _tag: Tag } & Readonly<A>

/**
 * A base class for the tagged errors of a module that marks them with the module's type id: like
 * `Data.TaggedError(tag)`, with `typeId` on the prototype, so that a guard such as {@link isPoolError}
 * (`hasProperty(u, TypeId)`) recognises every error of the module. The type id should be a `Symbol.for` key: an
 * error made by the other (ESM or CommonJS) build of the package is then recognised too. Every error of this
 * module and of `@connection-pool/platform-node`'s `IpcError` is made with it.
 *
 * @example
 * ```ts
 * import { PoolError } from "@connection-pool/core"
 * import { hasProperty } from "effect/Predicate"
 *
 * const TypeId: unique symbol = Symbol.for("my-package/MyError")
 *
 * class QuotaError extends PoolError.TypeIdError(TypeId, "QuotaError")<{ readonly limit: number }> {}
 *
 * const isMyError = (u: unknown): u is QuotaError => hasProperty(u, TypeId)
 * console.log(isMyError(new QuotaError({ limit: 3 }))) // true
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const TypeIdError: <const TypeId extends symbol, const Tag extends string>(
  typeId: TypeId,
  tag: Tag
) => TypeIdErrorConstructor<TypeId, Tag> = internalTypeIdError.TypeIdError

/**
 * No connection could be lent within `connectionTimeout`: every connection stayed lent (or, when
 * `lastOpenError` is set, the pool could not open one) for the whole wait.
 *
 * @example
 * ```ts
 * import { ConnectionPool, Connector } from "@connection-pool/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* ConnectionPool.make(Connector.make({ open: Effect.succeed("connection") }), {
 *     maxConnections: 1,
 *     connectionTimeout: "200 millis"
 *   })
 *   return yield* pool.use((connection) => Effect.succeed(connection)).pipe(
 *     Effect.catchTag("PoolTimeoutError", (error) =>
 *       Effect.logWarning(error.message).pipe(Effect.as("busy, try again later")))
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolTimeoutError extends TypeIdError(TypeId, "PoolTimeoutError")<{
  readonly reason: "AcquireTimeout"
  readonly pool: string
  readonly timeout: Duration.Duration
  /** The most recent failure to open a connection, when the last open attempt failed. */
  readonly lastOpenError?: ConnectionError | undefined
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const opening = this.lastOpenError === undefined ? "" : `; the last open failed: ${this.lastOpenError.message}`
    return `pool "${this.pool}": no connection became available within ${Duration.format(this.timeout)}${opening}`
  }
}

/**
 * Opening a connection failed or took longer than `openTimeout`, or a health check failed or timed out.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends TypeIdError(TypeId, "ConnectionError")<{
  readonly reason: "OpenFailed" | "OpenTimedOut" | "CheckFailed" | "CheckTimedOut"
  readonly pool: string
  readonly connectionId?: number | undefined
  readonly cause: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const subject = this.connectionId === undefined ? "" : ` (connection ${this.connectionId})`
    return `pool "${this.pool}": ${this.reason}${subject}: ${describeCause(this.cause)}`
  }
}

/**
 * Too many borrowers are already waiting (`maxWaiting`): this one is refused at once instead of queueing.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolExhaustedError extends TypeIdError(TypeId, "PoolExhaustedError")<{
  readonly reason: "TooManyWaiting"
  readonly pool: string
  readonly maxWaiting: number
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `pool "${this.pool}": ${this.maxWaiting} borrowers are already waiting (maxWaiting)`
  }
}

/**
 * The circuit breaker is open: `breakerThreshold` opens in a row failed, so borrowers that find no idle
 * connection fail at once instead of waiting, until a probe open succeeds. `lastError` is the last failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolUnavailableError extends TypeIdError(TypeId, "PoolUnavailableError")<{
  readonly reason: "CircuitOpen"
  readonly pool: string
  readonly lastError: ConnectionError | undefined
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const last = this.lastError === undefined ? "" : `: ${this.lastError.message}`
    return `pool "${this.pool}": unavailable, too many failed opens in a row${last}`
  }
}

/**
 * The pool is closed, or closed while the borrower was waiting.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolClosedError extends TypeIdError(TypeId, "PoolClosedError")<{
  readonly reason: "PoolClosed" | "ClosedWhileWaiting"
  readonly pool: string
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return this.reason === "PoolClosed"
      ? `pool "${this.pool}" is closed`
      : `pool "${this.pool}" was closed while waiting for a connection`
  }
}

/**
 * One rejected option: the field, the value given and what was wrong with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptionIssue {
  readonly field: string
  readonly value: unknown
  readonly message: string
}

/**
 * Pool options were rejected. `issues` names every bad field with its value; the pool is never built
 * from them.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPoolOptions extends TypeIdError(TypeId, "InvalidPoolOptions")<{
  readonly reason: "InvalidValue" | "UnreadableConfig"
  readonly issues: ReadonlyArray<OptionIssue>
  readonly cause?: unknown
}> {
  /** The names of the rejected fields. @since 0.1.0 */
  get fields(): ReadonlyArray<string> {
    return this.issues.map((issue) => issue.field)
  }
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid pool options: ${formatOptionIssues(this.issues)}`
  }
}

/**
 * A handle was used after its loan ended (`release`, or the end of its scope or `use`): its connection may
 * be lent to another borrower by now, so the handle no longer gives it. Thrown by `handle.connection`,
 * which is a plain property; inside an effect it surfaces as a defect naming the connection.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReleasedHandleError extends TypeIdError(TypeId, "ReleasedHandleError")<{
  readonly reason: "UsedAfterRelease"
  readonly pool: string
  readonly connectionId: number
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `pool "${this.pool}": connection ${this.connectionId} was used through a handle after it was returned`
  }
}

/**
 * Rejected options in one line: `field (value): what was wrong; ...`. Shared by the packages that check
 * options of their own.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatOptionIssues = (issues: ReadonlyArray<OptionIssue>): string =>
  issues.map((issue) => `${issue.field} (${formatValue(issue.value)}): ${issue.message}`).join("; ")

/**
 * Checks a duration option the way the pools check theirs, and gives the decoded `Duration` or the issue naming
 * `field`. A duration is a `Duration`, a number of milliseconds or a string such as `"30 seconds"`; it must be
 * above zero and at most 2^31-1 milliseconds (about 24.8 days): Effect's live clock cannot wait longer and
 * treats a longer sleep as one that never ends. `Duration.infinity` is accepted only with `allowInfinite`.
 * Every refusal has the same message. Shared by the packages that check options of their own.
 *
 * @example
 * ```ts
 * import { PoolError } from "@connection-pool/core"
 * import { Either } from "effect"
 *
 * console.log(Either.isRight(PoolError.decodeDurationOption("timeout", "5 seconds"))) // true
 * const refused = PoolError.decodeDurationOption("timeout", "30 days")
 * if (Either.isLeft(refused)) console.log(PoolError.formatOptionIssues([refused.left]))
 * // timeout ("30 days"): must be a duration above zero and at most 2^31-1 ms (about 24.8 days): ...
 * ```
 *
 * @since 0.2.0
 * @category option checks
 */
export const decodeDurationOption: (
  field: string,
  value: unknown,
  options?: { readonly allowInfinite?: boolean | undefined } | undefined
) => Outcome<Duration.Duration, OptionIssue> = internalDuration.decodeDurationOption

/**
 * Any error of this module. `ReleasedHandleError` is thrown by a property read, so it reaches a program as
 * a defect (`Effect.catchAllDefect`), never in an effect's error channel.
 *
 * @since 0.1.0
 * @category models
 */
export type PoolError =
  | PoolTimeoutError
  | ConnectionError
  | PoolClosedError
  | PoolExhaustedError
  | PoolUnavailableError
  | InvalidPoolOptions
  | ReleasedHandleError

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (hasProperty(cause, "message") && typeof cause.message === "string") return cause.message
  return formatValue(cause)
}

const formatValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value)
  if (value === undefined) return "undefined"
  if (Duration.isDuration(value)) return Duration.format(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
