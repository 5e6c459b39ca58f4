import type { Reason } from "../PgError.js"

// SQLSTATEs that end the session while it is in use: the server shut it down (57P01 admin_shutdown, which is what
// pg_terminate_backend sends, and 57P02 crash_shutdown), or it timed out idle (57P05, 25P03).
const shutdownCodes = new Set(["57P01", "57P02"])
const sessionEndingCodes = new Set(["57P03", "57P05", "25P03"])

// Node's socket errors: while opening, the server could not be reached; afterwards, the socket broke.
const socketCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOENT" // a Unix socket path with no server behind it
])

// What the driver says (without a code) when the socket ended, when a client whose connection failed or ended
// is queried, and when its own connect timeout fired.
const lostMessages = ["Connection terminated", "not queryable"]
const timeoutMessages = ["timeout expired", "due to connection timeout"]

const stringField = (error: unknown, field: string): string | undefined => {
  if (typeof error !== "object" || error === null || !(field in error)) return undefined
  const value = (error as Record<string, unknown>)[field]
  return typeof value === "string" ? value : undefined
}

/** The SQLSTATE of a server error, or the errno code of a socket error. */
export const codeOf = (error: unknown): string | undefined => stringField(error, "code")

/** The text the driver or the server gave. */
export const detailOf = (error: unknown): string =>
  error instanceof Error ? error.message : stringField(error, "message") ?? String(error)

const isFatal = (error: unknown): boolean => {
  const severity = stringField(error, "severity")
  return severity === "FATAL" || severity === "PANIC"
}

/**
 * Sorts a driver error. `opening` says whether it came from `connect()`: there, a server error is the server
 * refusing the session (unknown role or database, bad password, too many connections, starting up).
 */
export const reasonOf = (error: unknown, opening: boolean): Reason => {
  const code = codeOf(error)
  const detail = detailOf(error)
  if (opening) {
    if (timeoutMessages.some((text) => detail.includes(text))) return "ConnectTimedOut"
    if (code !== undefined && socketCodes.has(code)) return "Unreachable"
    if (stringField(error, "severity") !== undefined) return "Rejected"
    return "ConnectionLost"
  }
  if (code !== undefined && shutdownCodes.has(code)) return "ServerShutdown"
  if (
    isFatal(error) ||
    (code !== undefined && (code.startsWith("08") || sessionEndingCodes.has(code) || socketCodes.has(code))) ||
    lostMessages.some((text) => detail.includes(text))
  ) {
    return "ConnectionLost"
  }
  return "QueryFailed"
}

/** `host:port`, or the socket path for a Unix socket, as the driver resolved them (with PGHOST, PGPORT). */
export const describeHost = (client: { readonly host: string; readonly port: number }): string =>
  client.host.startsWith("/") ? `${client.host}/.s.PGSQL.${client.port}` : `${client.host}:${client.port}`

/** Follows `cause` through wrappers to the first error that says whether the session is broken. */
export const isConnectionFault = (
  error: unknown,
  isPgError: (u: unknown) => u is { readonly isConnectionFault: boolean }
): boolean => {
  let at: unknown = error
  // Bounded: a cause chain is short, and a cyclic one must not loop.
  for (let depth = 0; depth < 16 && typeof at === "object" && at !== null; depth++) {
    if (isPgError(at)) return at.isConnectionFault
    if (stringField(at, "_tag") === "ConnectionError") return true
    if (codeOf(at) !== undefined || stringField(at, "severity") !== undefined) {
      return reasonOf(at, false) !== "QueryFailed"
    }
    if (!("cause" in at) || at.cause === undefined) return reasonOf(at, false) !== "QueryFailed"
    at = at.cause
  }
  return false
}
