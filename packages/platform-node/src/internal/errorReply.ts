import { hasProperty } from "effect/Predicate"

/** A one-line account of a failure, defect or stray reply for an error frame; it never throws. */
export const describe = (error: unknown): string => {
  try {
    return describeUnsafe(error)
  } catch {
    // A getter or `toString` that throws: the value cannot tell what it is.
    return "a value that could not be described"
  }
}

const describeUnsafe = (error: unknown): string => {
  if (hasProperty(error, "message") && typeof error.message === "string" && error.message.length > 0) {
    return hasProperty(error, "_tag") && typeof error._tag === "string"
      ? `${error._tag}: ${error.message}`
      : error.message
  }
  if (hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
