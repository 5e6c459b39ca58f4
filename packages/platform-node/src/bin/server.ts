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
 * `--no-pings` (never answer pings), `--handler echo|scripted` (default `echo`; see `IpcServer.scriptedHandler`).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { parseArgs } from "node:util"
import * as IpcServer from "../IpcServer.js"

const { values } = parseArgs({
  options: {
    path: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "max-frame-size": { type: "string" },
    backlog: { type: "string" },
    "no-pings": { type: "boolean" },
    handler: { type: "string", default: "echo" }
  }
})

const handlers = { echo: IpcServer.echoHandler, scripted: IpcServer.scriptedHandler } as const

const handler = handlers[values.handler as keyof typeof handlers]
if (handler === undefined) {
  process.stderr.write(`unknown --handler ${values.handler}: use echo or scripted\n`)
  process.exit(2)
}

const asNumber = (text: string | undefined): number | undefined => text === undefined ? undefined : Number(text)

NodeRuntime.runMain(IpcServer.serveProcess({
  path: values.path,
  host: values.host,
  port: asNumber(values.port),
  maxFrameSize: asNumber(values["max-frame-size"]),
  backlog: asNumber(values.backlog),
  answerPings: values["no-pings"] !== true,
  handler
}))
