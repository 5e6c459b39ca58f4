import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type { OptionIssue } from "../PoolError.js"
import * as edge from "./edge/effect.js"

/**
 * The longest finite duration an option may hold: the longest delay a JavaScript timer takes. Effect's live
 * clock never schedules a longer sleep (it treats it as one that never ends), so a reaper or sweep given
 * "30 days" would never wake again. Such a value is refused rather than capped: a cap would quietly change what
 * was asked for.
 */
export const maxDurationMillis = 2_147_483_647

const expected = (allowInfinite: boolean) =>
  `must be a duration above zero and at most 2^31-1 ms (about 24.8 days)${
    allowInfinite ? ", or Duration.infinity" : ""
  }: a Duration, a number of milliseconds or a string such as "30 seconds"`

/**
 * Decodes a duration, refusing zero, negative, NaN and unreadable values (`Duration` itself would quietly turn
 * a negative or NaN number into zero, hiding the value given), values above {@link maxDurationMillis}, and
 * infinity unless `allowInfinite`. Every refusal has the same message, naming what is accepted.
 */
export const decodeDuration = (value: unknown, allowInfinite: boolean): edge.Outcome<Duration.Duration, string> => {
  const decoded = typeof value === "number" && !(value > 0) ? Option.none() : edge.decodeDuration(value)
  if (Option.isSome(decoded) && edge.isLongerThan(decoded.value, Duration.zero)) {
    const duration = decoded.value
    if (Duration.isFinite(duration) ? Duration.toMillis(duration) <= maxDurationMillis : allowInfinite) {
      return edge.succeeded(duration)
    }
  }
  return edge.failed(expected(allowInfinite))
}

/** {@link decodeDuration} for the option `field`: the refusal is an issue naming it and the value given. */
export const decodeDurationOption = (
  field: string,
  value: unknown,
  options?: { readonly allowInfinite?: boolean | undefined } | undefined
): edge.Outcome<Duration.Duration, OptionIssue> => {
  const decoded = decodeDuration(value, options?.allowInfinite === true)
  return edge.isFailed(decoded)
    ? edge.failed({ field, value, message: edge.failureOf(decoded)! })
    : edge.succeeded(edge.successOf(decoded)!)
}
