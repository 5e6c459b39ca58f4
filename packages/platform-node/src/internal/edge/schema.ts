/**
 * The Effect 3 edge for `Schema`: the type of a schema typed requests use, and JSON encoding and decoding with
 * it. The Effect 4 build replaces this file with packages/platform-node-effect4/edge/schema.ts.
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A schema of values `A` encoded as `I`, needing the services `R` to decode or encode (Effect 3's
 * `Schema.Schema<A, I, R>`).
 */
export type SchemaOf<A, I, R> = Schema.Schema<A, I, R>

/** Why a value did not encode or decode: `message` says what did not match. */
export interface SchemaFailure {
  readonly message: string
}

/** JSON text from a value, checked against `schema`. */
export const jsonEncoder = <A, I, R>(
  schema: SchemaOf<A, I, R>
): (value: A) => Effect.Effect<string, SchemaFailure, R> => Schema.encode(Schema.parseJson(schema))

/** A value from JSON text, checked against `schema`. */
export const jsonDecoder = <A, I, R>(
  schema: SchemaOf<A, I, R>
): (text: string) => Effect.Effect<A, SchemaFailure, R> => Schema.decodeUnknown(Schema.parseJson(schema))
