import * as PoolError from "@connection-pool/core/PoolError"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type { Address } from "../IpcAddress.js"
import type { Options } from "../IpcConnector.js"
import { InvalidIpcOptions, type OptionIssue } from "../IpcError.js"
import { currentUid, format, resolveAddress } from "./address.js"
import { failed, failureOf, type Outcome, succeeded, successOf } from "./edge/effect.js"
import { DEFAULT_MAX_FRAME_SIZE, FRAME_SIZE_LIMIT } from "./frame.js"

/** Connector options with every default filled in. */
export interface ResolvedOptions {
  readonly address: Address
  /** `format(address)`, computed once for errors. */
  readonly label: string
  readonly connectTimeoutMillis: number
  readonly keepAlive: boolean
  readonly keepAliveInitialDelayMillis: number
  readonly noDelay: boolean
  readonly maxFrameSize: number
  readonly pingTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  /** The uid a Unix socket file must belong to, or undefined when any owner will do. */
  readonly socketOwner: number | undefined
  /** The token sent as the first frame, when the server takes one. */
  readonly authToken: Uint8Array | undefined
}

export const defaults = {
  connectTimeout: Duration.seconds(5),
  keepAlive: true,
  keepAliveInitialDelay: Duration.seconds(60),
  noDelay: true,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  pingTimeout: Duration.seconds(3),
  requestTimeout: Duration.seconds(60)
} as const

/** Reads an optional duration with the core's one duration check (finite, above zero, at most 2^31-1 ms). */
export const durationOption = (
  issues: Array<OptionIssue>,
  field: string,
  value: unknown,
  fallback: Duration.Duration
): Duration.Duration => {
  if (value === undefined) return fallback
  const decoded = PoolError.decodeDurationOption(field, value)
  const issue = failureOf(decoded)
  if (issue !== undefined) {
    issues.push(issue)
    return fallback
  }
  return successOf(decoded)!
}

export const booleanOption = (
  issues: Array<OptionIssue>,
  field: string,
  value: unknown,
  fallback: boolean
): boolean => {
  if (value === undefined) return fallback
  if (typeof value !== "boolean") {
    issues.push({ field, value, message: "must be true or false" })
    return fallback
  }
  return value
}

export const frameSizeOption = (issues: Array<OptionIssue>, value: unknown): number => {
  if (value === undefined) return DEFAULT_MAX_FRAME_SIZE
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > FRAME_SIZE_LIMIT) {
    issues.push({
      field: "maxFrameSize",
      value,
      message: `must be a whole number of bytes from 1 to ${FRAME_SIZE_LIMIT}`
    })
    return DEFAULT_MAX_FRAME_SIZE
  }
  return value
}

export const invalid = (addressIssues: ReadonlyArray<OptionIssue>, issues: ReadonlyArray<OptionIssue>) =>
  new InvalidIpcOptions({
    reason: addressIssues.length > 0 ? "InvalidAddress" : "InvalidValue",
    issues: [...addressIssues, ...issues]
  })

export const resolve = (options: Options): Outcome<ResolvedOptions, InvalidIpcOptions> => {
  if (typeof options !== "object" || options === null) {
    return failed(
      new InvalidIpcOptions({
        reason: "InvalidAddress",
        issues: [{ field: "options", value: options, message: "must be an object with a path or a port" }]
      })
    )
  }
  const { address, issues: addressIssues } = resolveAddress(options, false)
  const issues: Array<OptionIssue> = []
  const connectTimeout = durationOption(issues, "connectTimeout", options.connectTimeout, defaults.connectTimeout)
  const keepAlive = booleanOption(issues, "keepAlive", options.keepAlive, defaults.keepAlive)
  const keepAliveInitialDelay = durationOption(
    issues,
    "keepAliveInitialDelay",
    options.keepAliveInitialDelay,
    defaults.keepAliveInitialDelay
  )
  const noDelay = booleanOption(issues, "noDelay", options.noDelay, defaults.noDelay)
  const maxFrameSize = frameSizeOption(issues, options.maxFrameSize)
  const pingTimeout = durationOption(issues, "pingTimeout", options.pingTimeout, defaults.pingTimeout)
  const requestTimeout = durationOption(issues, "requestTimeout", options.requestTimeout, defaults.requestTimeout)
  const socketOwner = socketOwnerOption(issues, options.socketOwner)
  const authToken = authOption(issues, options.auth)
  if (address === undefined || addressIssues.length > 0 || issues.length > 0) {
    return failed(invalid(addressIssues, issues))
  }
  return succeeded({
    address,
    label: format(address),
    connectTimeoutMillis: Duration.toMillis(connectTimeout),
    keepAlive,
    keepAliveInitialDelayMillis: Duration.toMillis(keepAliveInitialDelay),
    noDelay,
    maxFrameSize,
    pingTimeout,
    requestTimeout,
    socketOwner,
    authToken
  })
}

const socketOwnerOption = (issues: Array<OptionIssue>, value: unknown): number | undefined => {
  if (value === undefined) return currentUid()
  if (value === "any") return undefined
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    issues.push({ field: "socketOwner", value, message: "must be a uid (a whole number from 0) or \"any\"" })
    return undefined
  }
  return value
}

export const MIN_TOKEN_BYTES = 16
export const MAX_TOKEN_BYTES = 1024

/**
 * Reads an `auth: { token }` option: the token's bytes, or undefined when absent. A rejected token is never
 * echoed in the issue (it is a secret).
 */
export const authOption = (issues: Array<OptionIssue>, value: unknown): Uint8Array | undefined => {
  if (value === undefined) return undefined
  const token: unknown = typeof value === "object" && value !== null ? (value as { token?: unknown }).token : undefined
  const text = Redacted.isRedacted(token) ? Redacted.value(token) : token
  const size = typeof text === "string" ? Buffer.byteLength(text) : -1
  if (size < MIN_TOKEN_BYTES || size > MAX_TOKEN_BYTES) {
    issues.push({
      field: "auth",
      value: "<redacted>",
      message:
        `must be { token } with a token of ${MIN_TOKEN_BYTES} to ${MAX_TOKEN_BYTES} bytes (a string or a Redacted string)`
    })
    return undefined
  }
  return Buffer.from(text as string, "utf8")
}
