/**
 * The Effect 4 edge for `Schema`: the type of a schema typed requests use, and JSON encoding and decoding with
 * it (packages/platform-node/src/internal/edge/schema.ts is the Effect 3 side, with the same exports).
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A schema of values `A` encoded as `I`, needing the services `R` to decode or encode (Effect 4's
 * `Schema.Codec<A, I, RD, RE>`, with one set of services for both ways as Effect 3's `Schema.Schema<A, I, R>`).
 */
export type SchemaOf<A, I, R> = Schema.Codec<A, I, R, R>

/** Why a value did not encode or decode: `message` says what did not match. */
export interface SchemaFailure {
  readonly message: string
}

/** JSON text from a value, checked against `schema`. */
export const jsonEncoder = <A, I, R>(
  schema: SchemaOf<A, I, R>
): (value: A) => Effect.Effect<string, SchemaFailure, R> => {
  const encode = Schema.encodeEffect(Schema.fromJsonString(schema))
  return (value) => encode(value)
}

/** A value from JSON text, checked against `schema`. */
export const jsonDecoder = <A, I, R>(
  schema: SchemaOf<A, I, R>
): (text: string) => Effect.Effect<A, SchemaFailure, R> => {
  const decode = Schema.decodeUnknownEffect(Schema.fromJsonString(schema))
  return (text) => decode(text)
}
