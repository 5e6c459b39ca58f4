import * as Duration from "effect/Duration"
import * as crypto from "node:crypto"
import type { Address } from "../IpcAddress.js"
import type { InvalidIpcOptions, OptionIssue } from "../IpcError.js"
import type { Handler, Options } from "../IpcServer.js"
import { resolveAddress } from "./address.js"
import { failed, type Outcome, succeeded } from "./edge/effect.js"
import { HEADER_SIZE } from "./frame.js"
import { authOption, booleanOption, durationOption, frameSizeOption, invalid } from "./options.js"

/** A token's SHA-256 digest: tokens are compared as digests, of one length whatever was sent, in constant time. */
export const digest = (token: Uint8Array): Buffer => crypto.createHash("sha256").update(token).digest()

/** Server options with every default filled in. */
export interface ResolvedServerOptions<E, R> {
  readonly address: Address
  readonly handler: Handler<E, R>
  readonly maxFrameSize: number
  readonly answerPings: boolean
  readonly noDelay: boolean
  readonly removeStaleSocket: boolean
  readonly backlog: number
  readonly exposeDefects: boolean
  readonly writeHighWaterMark: number
  readonly maxQueuedBytes: number
  readonly maxConnections: number
  readonly maxInFlight: number
  readonly idleTimeoutMillis: number
  readonly frameDeadlineMillis: number
  readonly mode: number
  /** The SHA-256 digest of the token every connection must send first, when the server takes one. */
  readonly authDigest: Buffer | undefined
}

export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024
const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024

export const resolveServerOptions = <E, R>(
  options: Options<E, R>
): Outcome<ResolvedServerOptions<E, R>, InvalidIpcOptions> => {
  const { address, issues: addressIssues } = resolveAddress(options, true)
  const issues: Array<OptionIssue> = []
  if (typeof options.handler !== "function") {
    issues.push({ field: "handler", value: options.handler, message: "must be a function" })
  }
  const maxFrameSize = frameSizeOption(issues, options.maxFrameSize)
  const answerPings = booleanOption(issues, "answerPings", options.answerPings, true)
  const noDelay = booleanOption(issues, "noDelay", options.noDelay, true)
  const removeStaleSocket = booleanOption(issues, "removeStaleSocket", options.removeStaleSocket, true)
  const backlog = countOption(issues, "backlog", options.backlog, 511, 1)
  const exposeDefects = booleanOption(issues, "exposeDefects", options.exposeDefects, false)
  const writeHighWaterMark = countOption(
    issues,
    "writeHighWaterMark",
    options.writeHighWaterMark,
    DEFAULT_WRITE_HIGH_WATER_MARK,
    1
  )
  // One reply of the largest size must fit in the queue, or a legitimate client would be cut off.
  const smallestQueue = Math.max(writeHighWaterMark, maxFrameSize + HEADER_SIZE)
  const maxQueuedBytes = countOption(
    issues,
    "maxQueuedBytes",
    options.maxQueuedBytes,
    Math.max(DEFAULT_MAX_QUEUED_BYTES, 2 * (maxFrameSize + HEADER_SIZE)),
    smallestQueue,
    Number.MAX_SAFE_INTEGER,
    `must be a whole number of bytes, at least writeHighWaterMark and maxFrameSize + 10 (${smallestQueue})`
  )
  const maxConnections = countOption(issues, "maxConnections", options.maxConnections, 1024, 1)
  const maxInFlight = countOption(issues, "maxInFlight", options.maxInFlight, 1024, 1)
  const idleTimeout = durationOption(issues, "idleTimeout", options.idleTimeout, Duration.minutes(5))
  const frameDeadline = durationOption(issues, "frameDeadline", options.frameDeadline, Duration.seconds(30))
  const mode = countOption(
    issues,
    "mode",
    options.mode,
    0o600,
    0,
    0o777,
    "must be permission bits from 0 to 0o777 (511), for instance 0o600"
  )
  const token = authOption(issues, options.auth)
  if (address === undefined || addressIssues.length > 0 || issues.length > 0) {
    return failed(invalid(addressIssues, issues))
  }
  return succeeded({
    address,
    handler: options.handler,
    maxFrameSize,
    answerPings,
    noDelay,
    removeStaleSocket,
    backlog,
    exposeDefects,
    writeHighWaterMark,
    maxQueuedBytes,
    maxConnections,
    maxInFlight,
    idleTimeoutMillis: Duration.toMillis(idleTimeout),
    frameDeadlineMillis: Duration.toMillis(frameDeadline),
    mode,
    authDigest: token === undefined ? undefined : digest(token)
  })
}

/** A whole number from `min` up (and at most `max` where given), or the fallback when absent. */
export const countOption = (
  issues: Array<OptionIssue>,
  field: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  rule?: string
): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    issues.push({
      field,
      value,
      message: rule !== undefined ? rule : min === 1 && max === Number.MAX_SAFE_INTEGER
        ? "must be a whole number above zero"
        : `must be a whole number from ${min} to ${max}`
    })
    return fallback
  }
  return value
}
