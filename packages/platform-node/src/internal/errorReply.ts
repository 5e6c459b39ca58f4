import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { hasProperty } from "effect/Predicate"
import { randomUUID } from "node:crypto"

/**
 * What an error frame says, and what the server logs with it. Only what a handler chose to expose reaches the
 * client: the tag and message of a typed failure. A defect, or a failure that is not a tagged error or a message,
 * is reported by a generic message carrying a correlation id that the server's log line also carries, so that an
 * operator can find the details a client never sees (`exposeDefects` lifts this, for development).
 */
export interface ErrorReply {
  readonly message: string
  /** A log line to write, when the details stay on the server. */
  readonly log?: Effect.Effect<void> | undefined
}

const UNDESCRIBABLE = "a value that could not be described"

/** The text of a typed failure the handler chose to send, or `undefined` when it has none it could expose. */
const exposedFailure = (error: unknown): string | undefined => {
  try {
    if (typeof error === "string") return error
    const tag = hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : undefined
    const message = hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0
      ? error.message
      : undefined
    if (message !== undefined) return tag === undefined ? message : `${tag}: ${message}`
    return tag
  } catch {
    // A getter that throws: the value cannot tell what it is, and nothing of it is sent.
    return UNDESCRIBABLE
  }
}

const withCorrelation = (
  summary: string,
  logMessage: string,
  cause: Cause.Cause<unknown>,
  ids: RequestIds
): ErrorReply => {
  const correlationId = randomUUID()
  return {
    message: `${summary} (correlation id ${correlationId})`,
    log: Effect.logError(logMessage, cause).pipe(Effect.annotateLogs({ correlationId, ...ids }))
  }
}

export interface RequestIds {
  readonly connectionId: number
  readonly requestId: number
}

/** The handler failed with `error` on its typed channel. */
export const failureReply = (error: unknown, cause: Cause.Cause<unknown>, ids: RequestIds): ErrorReply => {
  const exposed = exposedFailure(error)
  if (exposed !== undefined) return { message: exposed }
  return withCorrelation(
    "the handler failed with a value that is not a tagged error",
    "IPC request handler failed with an untagged value",
    cause,
    ids
  )
}

/** The handler died, or threw. */
export const defectReply = (cause: Cause.Cause<unknown>, ids: RequestIds, expose: boolean): ErrorReply => {
  if (expose) return { message: describe(Cause.squash(cause)), log: logDefect(cause, ids) }
  return withCorrelation("the handler died", "IPC request handler died", cause, ids)
}

const logDefect = (cause: Cause.Cause<unknown>, ids: RequestIds) =>
  Effect.logError("IPC request handler died", cause).pipe(Effect.annotateLogs({ ...ids }))

/** The handler succeeded with something that is not bytes (a handler typed loosely). */
export const notBytesReply = (reply: unknown, ids: RequestIds, expose: boolean): ErrorReply => {
  if (expose) return { message: `the handler replied with ${describe(reply)}, not bytes` }
  const kind = reply === null ? "null" : typeof reply
  return withCorrelation(
    `the handler replied with a value of type ${kind}, not bytes`,
    "IPC request handler replied with a value that is not bytes",
    Cause.die(reply),
    ids
  )
}

/** A full account of any value, for development only (`exposeDefects`); it never throws. */
export const describe = (error: unknown): string => {
  try {
    return describeUnsafe(error)
  } catch {
    return UNDESCRIBABLE
  }
}

const describeUnsafe = (error: unknown): string => {
  const exposed = exposedFailure(error)
  if (exposed !== undefined) return exposed
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
