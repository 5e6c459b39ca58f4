/**
 * The demo's server, run as its own process by `examples/demo.ts` (see `serverProcess.ts`): the project's IPC
 * server (`IpcServer.make`) on `--path`, echoing each request after a short random delay, as a real daemon takes
 * a moment to answer.
 *
 * It behaves as `IpcServer.serveProcess` does (one JSON line `{"event":"ready",...}` once listening; stops on
 * SIGINT or SIGTERM, or when the parent that forked it goes away), and takes one command from that parent over
 * the IPC channel: `"drop"` closes every open connection, as a daemon shedding its clients would, and answers
 * `{"event":"dropped","count":n}`.
 *
 *   tsx examples/demo/server.ts --path /tmp/demo.sock
 */
import { IpcServer } from "@connection-pool/platform-node"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Duration, Effect, Exit, Random } from "effect"
import { parseArgs } from "node:util"

const { values } = parseArgs({ options: { path: { type: "string" } } })

/** Echoes the request after 2 to 12 milliseconds. */
const handler: IpcServer.Handler = (payload) =>
  Effect.flatMap(Random.nextIntBetween(2, 13), (millis) => Effect.as(Effect.sleep(Duration.millis(millis)), payload))

/** Completes when the parent disconnects the IPC channel (it exited, or was killed); never when run by hand. */
const parentGone = Effect.async<void>((resume) => {
  if (process.send === undefined) return
  if (!process.connected) return resume(Exit.void)
  const onDisconnect = () => resume(Exit.void)
  process.once("disconnect", onDisconnect)
  return Effect.sync(() => process.removeListener("disconnect", onDisconnect))
})

const program = Effect.gen(function*() {
  const server = yield* IpcServer.make({ path: values.path, handler })
  const onMessage = (message: unknown) => {
    if (message !== "drop") return
    Effect.runFork(
      Effect.flatMap(server.closeConnections, (count) => Effect.sync(() => process.send?.({ event: "dropped", count })))
    )
  }
  process.on("message", onMessage)
  yield* Effect.addFinalizer(() => Effect.sync(() => process.removeListener("message", onMessage)))
  process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid, address: server.address })}\n`)
  yield* parentGone
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
