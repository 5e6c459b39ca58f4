import type * as Cause from "effect/Cause"
import { hasProperty } from "effect/Predicate"
import * as edge from "./edge/effect.js"

// By tag, not instanceof: a program may load the ESM and the CommonJS build, each with its own classes.
const isConnectionError = (u: unknown): boolean => hasProperty(u, "_tag") && u._tag === "RedisConnectionError"

/** @internal */
export const isFault = (cause: Cause.Cause<unknown>): boolean =>
  edge.failuresOf(cause).some(isConnectionError) || edge.defectsOf(cause).some(isConnectionError)

/** @internal */
export const describe = (code: string | undefined, cause: unknown): string => {
  const detail = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : ""
  if (detail.length > 0) return code === undefined || detail.startsWith(code) ? `: ${detail}` : ` (${code}): ${detail}`
  return code === undefined ? "" : ` (${code})`
}
