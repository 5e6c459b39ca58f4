import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { hasProperty } from "effect/Predicate"
import type { Handler, RequestInfo } from "../IpcServer.js"
import type { Fault, FaultyHandler } from "../IpcServerFaults.js"
import { dieMessage } from "./edge/effect.js"
import { emptyPayload, encode, encodeHeader, FRAME_SIZE_LIMIT, FrameType, HEADER_SIZE } from "./frame.js"
import { type RawConnection, takeOverReply } from "./server.js"

// ---- faults --------------------------------------------------------------------------------------------------

export const garbage = (bytes?: Uint8Array | undefined): Fault => ({
  _tag: "Garbage",
  bytes: bytes ?? Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n", "latin1")
})

export const truncated = (payload?: Uint8Array | undefined): Fault => ({
  _tag: "Truncated",
  payload: payload ?? Buffer.alloc(64, 0x78)
})

export const oversized = (size: number): Fault => ({ _tag: "Oversized", size })

export const noReply: Fault = { _tag: "NoReply" }
export const closeConnection: Fault = { _tag: "Close" }
export const resetConnection: Fault = { _tag: "Reset" }

const faultTags: ReadonlySet<unknown> = new Set<Fault["_tag"]>([
  "Garbage",
  "Truncated",
  "Oversized",
  "NoReply",
  "Close",
  "Reset"
])

const isFault = (u: unknown): u is Fault => hasProperty(u, "_tag") && faultTags.has(u._tag)

/** Why a fault cannot be written, if it cannot: the frame header holds a length from 0 to 2^32 - 1. */
const unwritable = (fault: Fault): string | undefined => {
  if (fault._tag !== "Oversized") return undefined
  const size = fault.size
  return Number.isInteger(size) && size >= 0 && size <= FRAME_SIZE_LIMIT
    ? undefined
    : `an Oversized fault of ${size} bytes: a frame header holds a whole number of bytes from 0 to ${FRAME_SIZE_LIMIT}`
}

const perform = (connection: RawConnection, id: number, fault: Fault): void => {
  const socket = connection.socket
  switch (fault._tag) {
    case "Garbage":
      socket.write(fault.bytes)
      return
    case "Truncated": {
      // Cut the frame in the middle of its payload (or of its header when there is no payload), then hang up.
      const frame = encode(FrameType.Reply, id, fault.payload)
      const cut = fault.payload.length >= 2 ? HEADER_SIZE + Math.floor(fault.payload.length / 2) : HEADER_SIZE / 2
      socket.end(frame.subarray(0, cut))
      return
    }
    case "Oversized":
      // Only the header: a client must refuse the frame from its declared length, before any body arrives.
      socket.write(encodeHeader(FrameType.Reply, id, fault.size))
      return
    case "NoReply":
      return
    case "Close":
      socket.end()
      return
    case "Reset":
      connection.reset()
      return
  }
}

const actOut = (request: RequestInfo, fault: Fault): Effect.Effect<Uint8Array> =>
  Effect.suspend(() => {
    // Checked before taking the request over, so that the server still answers it (with `HandlerDefect`).
    const problem = unwritable(fault)
    if (problem !== undefined) return Effect.die(new RangeError(problem))
    const connection = takeOverReply(request)
    if (connection === undefined) {
      return dieMessage("a fault can only be acted out on a request that an IpcServer passed to its handler")
    }
    if (!connection.closed) perform(connection, request.requestId, fault)
    // The server writes nothing for a request taken over: these bytes go nowhere.
    return Effect.succeed(emptyPayload)
  })

export const handler = <E, R>(faulty: FaultyHandler<E, R>): Handler<E, R> => (payload, request) =>
  Effect.flatMap(
    Effect.suspend(() => faulty(payload, request)),
    // Anything else than a fault goes to the server as it is (which reports a reply that is not bytes).
    (reply) => isFault(reply) ? actOut(request, reply) : Effect.succeed(reply as Uint8Array)
  )

// ---- the scripted handler ------------------------------------------------------------------------------------

export class ScriptedFailure extends Data.TaggedError("ScriptedFailure")<{
  readonly reason: "Scripted" | "InvalidCommand"
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/** The longest sleep: Effect's live clock treats a longer one (2^31 ms and up, about 24.8 days) as forever. */
const MAX_SLEEP_MILLIS = 2 ** 31 - 1
const DEFAULT_OVERSIZED = 64 * 1024 * 1024

const scriptDecoder = new TextDecoder()

/** The number written in `text`, if it is a whole number in decimal digits from 0 to `max`. */
const wholeNumber = (text: string | undefined, max: number): number | undefined => {
  if (text === undefined || !/^[0-9]{1,16}$/.test(text)) return undefined
  const value = Number(text)
  return value <= max ? value : undefined
}

const invalidCommand = (command: string, why: string) =>
  Effect.fail(
    new ScriptedFailure({ reason: "InvalidCommand", detail: `invalid command ${JSON.stringify(command)}: ${why}` })
  )

const sleepThenReply = (command: string, argument: string | undefined) => {
  const second = argument === undefined ? -1 : argument.indexOf(":")
  const millis = wholeNumber(second < 0 ? argument : argument!.slice(0, second), MAX_SLEEP_MILLIS)
  if (millis === undefined) {
    return invalidCommand(
      command,
      `use sleep:<ms> or sleep:<ms>:<text>, with <ms> a whole number from 0 to ${MAX_SLEEP_MILLIS}`
    )
  }
  const reply = second < 0 ? emptyPayload : Buffer.from(argument!.slice(second + 1), "utf8")
  return Effect.as(Effect.sleep(Duration.millis(millis)), reply)
}

const scripted: FaultyHandler<ScriptedFailure> = (payload) => {
  const command = payload.length > 64 ? "" : scriptDecoder.decode(payload)
  const colon = command.indexOf(":")
  const verb = colon < 0 ? command : command.slice(0, colon)
  const argument = colon < 0 ? undefined : command.slice(colon + 1)
  switch (verb) {
    case "garbage":
      return Effect.succeed(garbage())
    case "truncated":
      return Effect.succeed(truncated())
    case "oversized": {
      if (argument === undefined) return Effect.succeed(oversized(DEFAULT_OVERSIZED))
      const size = wholeNumber(argument, FRAME_SIZE_LIMIT)
      return size === undefined
        ? invalidCommand(command, `the size must be a whole number of bytes from 0 to ${FRAME_SIZE_LIMIT}`)
        : Effect.succeed(oversized(size))
    }
    case "silent":
      return Effect.succeed(noReply)
    case "close":
      return Effect.succeed(closeConnection)
    case "reset":
      return Effect.succeed(resetConnection)
    case "fail":
      return Effect.fail(new ScriptedFailure({ reason: "Scripted", detail: argument ?? "the handler refused" }))
    case "die":
      return dieMessage(argument ?? "the handler died")
    case "sleep":
      return sleepThenReply(command, argument)
  }
  return Effect.succeed(payload)
}

export const scriptedHandler: Handler<ScriptedFailure> = handler(scripted)
