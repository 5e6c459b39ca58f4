#!/usr/bin/env node
/**
 * Runs an echo server as its own process:
 *
 * ```sh
 * tsx packages/platform-node/src/bin/server.ts --path /tmp/app.sock
 * node --import tsx packages/platform-node/src/bin/server.ts --port 0 --host 127.0.0.1
 * ```
 *
 * Prints `{"event":"ready","pid":...,"address":{...}}` on one line once listening; stops on SIGINT or SIGTERM, or
 * when forked, when the parent goes away.
 *
 * Options: `--path <path>` or `--port <port>` (0 for any) with `--host <host>`, `--max-frame-size <bytes>`, `--backlog <n>`,
 * `--max-connections <n>`, `--max-in-flight <n>`, `--idle-timeout <ms>`, `--frame-deadline <ms>`, `--mode <octal>`
 * (the server options of the same names; bad values are refused naming the option), `--no-pings` (never answer
 * pings), `--handler echo|scripted` (default `echo`).
 *
 * `--handler scripted` is a test mode: `IpcServerFaults.scriptedHandler`, with which any client can make the server
 * misbehave (garbage, hang-ups, silence). It is never the default, and it says so on stderr when chosen. A command
 * it cannot carry out is answered with an error frame; the server goes on.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { parseArgs } from "node:util"
import { firstFailure, isInterruptedOnly } from "../internal/edge/effect.js"
import * as IpcServer from "../IpcServer.js"
import * as IpcServerFaults from "../IpcServerFaults.js"

const usage = "usage: connection-pool-ipc-server (--path <path> | --port <port> [--host <host>]) " +
  "[--max-frame-size <bytes>] [--backlog <n>] [--max-connections <n>] [--max-in-flight <n>] [--idle-timeout <ms>] " +
  "[--frame-deadline <ms>] [--mode <octal>] [--no-pings] [--handler echo|scripted]"

const parse = () => {
  try {
    return parseArgs({
      options: {
        path: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "max-frame-size": { type: "string" },
        backlog: { type: "string" },
        "max-connections": { type: "string" },
        "max-in-flight": { type: "string" },
        "idle-timeout": { type: "string" },
        "frame-deadline": { type: "string" },
        mode: { type: "string" },
        "no-pings": { type: "boolean" },
        handler: { type: "string", default: "echo" }
      }
    }).values
  } catch (error) {
    // An unknown flag or a missing value: say which, without a stack trace.
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`)
    return process.exit(2)
  }
}
const values = parse()

const handlers = { echo: IpcServer.echoHandler, scripted: IpcServerFaults.scriptedHandler } as const

const handler = Object.hasOwn(handlers, values.handler) ? handlers[values.handler as keyof typeof handlers] : undefined
if (handler === undefined) {
  process.stderr.write(`unknown --handler ${values.handler}: use echo or scripted\n`)
  process.exit(2)
}
if (handler === IpcServerFaults.scriptedHandler) {
  process.stderr.write("--handler scripted is test tooling: any client can make this server misbehave\n")
}

const asNumber = (text: string | undefined): number | undefined => text === undefined ? undefined : Number(text)

const server = Effect.runFork(IpcServer.serveProcess({
  path: values.path,
  host: values.host,
  port: asNumber(values.port),
  maxFrameSize: asNumber(values["max-frame-size"]),
  backlog: asNumber(values.backlog),
  maxConnections: asNumber(values["max-connections"]),
  maxInFlight: asNumber(values["max-in-flight"]),
  idleTimeout: asNumber(values["idle-timeout"]),
  frameDeadline: asNumber(values["frame-deadline"]),
  mode: values.mode === undefined ? undefined : /^[0-7]{1,4}$/.test(values.mode) ? parseInt(values.mode, 8) : NaN,
  answerPings: values["no-pings"] !== true,
  handler
}))

// What NodeRuntime.runMain does, in the few lines this bin needs (so the package does not depend on
// @effect/platform-node for one script): SIGINT or SIGTERM interrupts the server, whose finalizers close the
// listener and its connections; a failure is printed and exits 1.
const stop = () => Effect.runFork(Fiber.interrupt(server))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
server.addObserver((exit) => {
  process.removeListener("SIGINT", stop)
  process.removeListener("SIGTERM", stop)
  if (exit._tag === "Failure" && !isInterruptedOnly(exit.cause)) {
    // A typed failure (bad options, an address in use) is told in one line; a defect with its stack.
    const failure = firstFailure(exit.cause)
    process.stderr.write(
      failure._tag === "Some" ? `${failure.value._tag}: ${failure.value.message}\n` : `${Cause.pretty(exit.cause)}\n`
    )
    process.exitCode = 1
  }
})
