/**
 * The connector's `socketOwner` check: a Unix socket file must belong to the expected user before connecting, and
 * still be the same file once connected, before anything (a token first of all) is sent.
 */
import * as fs from "node:fs"
import { SocketError } from "../IpcError.js"
import { isPipePath } from "./address.js"
import type { ResolvedOptions } from "./options.js"

/** The socket file to check the owner of: a Unix socket path with `socketOwner` required, and a file there. */
export const socketFile = (options: ResolvedOptions): fs.Stats | undefined => {
  const address = options.address
  if (options.socketOwner === undefined || !("path" in address) || isPipePath(address.path)) return undefined
  try {
    return fs.statSync(address.path)
  } catch {
    // Nothing there (or unreadable): connecting says what is wrong.
    return undefined
  }
}

export const wrongOwner = (options: ResolvedOptions, owner: number | undefined): SocketError =>
  new SocketError({ reason: "WrongOwner", address: options.label, owner, expectedOwner: options.socketOwner })

/**
 * Once connected, before anything is sent: the file at the path must still be the one checked before connecting
 * (its owner's), not one put there in between.
 */
export const ownerCheck = (options: ResolvedOptions, before: fs.Stats | undefined): SocketError | undefined => {
  if (options.socketOwner === undefined || !("path" in options.address) || isPipePath(options.address.path)) {
    return undefined
  }
  const after = socketFile(options)
  // Removed since (by its owner, who alone could, in a private or sticky directory): the one checked was connected.
  if (after === undefined) return before === undefined ? wrongOwner(options, undefined) : undefined
  if (after.uid !== options.socketOwner) return wrongOwner(options, after.uid)
  if (before === undefined || before.ino !== after.ino || before.dev !== after.dev) {
    return wrongOwner(options, after.uid)
  }
  return undefined
}
