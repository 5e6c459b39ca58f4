import * as Effect from "effect/Effect"
import { ProtocolError } from "../IpcError.js"
import { jsonDecoder, jsonEncoder, type SchemaFailure, type SchemaOf } from "./edge/schema.js"

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder("utf-8", { fatal: true })

const decodeText = (bytes: Uint8Array, direction: "send" | "receive"): Effect.Effect<string, ProtocolError> =>
  Effect.try({
    try: () => textDecoder.decode(bytes),
    catch: (cause) =>
      new ProtocolError({ reason: "DecodeFailed", direction, detail: "the payload is not UTF-8", cause })
  })

/** JSON text from a value, checked against `schema`. */
export const encoder = <A, I, R>(schema: SchemaOf<A, I, R>, direction: "send" | "receive") => {
  const encode = jsonEncoder(schema)
  return (value: A): Effect.Effect<Uint8Array, ProtocolError, R> =>
    Effect.map(
      Effect.mapError(encode(value), (cause: SchemaFailure) =>
        new ProtocolError({ reason: "EncodeFailed", direction, detail: cause.message, cause })),
      (json) =>
        textEncoder.encode(json)
    )
}

/** A value from JSON text, checked against `schema`. */
export const decoder = <A, I, R>(schema: SchemaOf<A, I, R>, direction: "send" | "receive") => {
  const decode = jsonDecoder(schema)
  return (bytes: Uint8Array): Effect.Effect<A, ProtocolError, R> =>
    Effect.flatMap(
      decodeText(bytes, direction),
      (text) =>
        Effect.mapError(decode(text), (cause) =>
          new ProtocolError({ reason: "DecodeFailed", direction, detail: cause.message, cause }))
    )
}

/** The client side of a typed request: encode, send, decode. */
export const typed = <A, I, RA, B, J, RB>(schemas: {
  readonly request: SchemaOf<A, I, RA>
  readonly response: SchemaOf<B, J, RB>
}) => {
  const encode = encoder(schemas.request, "send")
  const decode = decoder(schemas.response, "receive")
  return <E, R>(
    value: A,
    send: (payload: Uint8Array) => Effect.Effect<Uint8Array, E, R>
  ): Effect.Effect<B, E | ProtocolError, R | RA | RB> => Effect.flatMap(Effect.flatMap(encode(value), send), decode)
}

/** The server side of a typed request: decode, handle, encode. */
export const handler = <A, I, RA, B, J, RB, E, R>(
  schemas: {
    readonly request: SchemaOf<A, I, RA>
    readonly response: SchemaOf<B, J, RB>
  },
  f: (request: A) => Effect.Effect<B, E, R>
) => {
  const decode = decoder(schemas.request, "receive")
  const encode = encoder(schemas.response, "send")
  return (payload: Uint8Array): Effect.Effect<Uint8Array, E | ProtocolError, R | RA | RB> =>
    Effect.flatMap(Effect.flatMap(decode(payload), f), encode)
}
