import type { IpcAddress } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { callback } from "@connection-pool/test-kit/internal/edge/platformNode"
import { Data, Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export const encoder = new TextEncoder()
export const decoder = new TextDecoder()
export const bytes = (text: string): Uint8Array => encoder.encode(text)
export const text = (payload: Uint8Array): string => decoder.decode(payload)

let serial = 0

/** A fresh socket path under the temporary directory, removed (if anything is left there) when the scope closes. */
export const tempSocketPath = (name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => path.join(os.tmpdir(), `cp-${name}-${process.pid}-${++serial}.sock`)),
    (socketPath) => Effect.sync(() => fs.rmSync(socketPath, { force: true }))
  )

/** A TCP port nothing listens on: bound to find it, then released. */
export const freePort: Effect.Effect<number> = callback<number>((resume) => {
  const server = net.createServer()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Exit.succeed(port)))
  })
})

/** The resident set size of a process, in bytes (Linux: `VmRSS` of `/proc/<pid>/status`). */
export const rssOf = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return match === null ? 0 : Number(match[1]) * 1024
}

/** The number of file descriptors this process has open. */
export const openFds = (): number => fs.readdirSync("/proc/self/fd").length

// ---- a server in its own process ---------------------------------------------------------------------------------

const require = createRequire(import.meta.url)
export const serverScript = fileURLToPath(new URL("../src/bin/server.ts", import.meta.url))
const tsxLoader = pathToFileURL(require.resolve("tsx")).href

export class ServerProcessError extends Data.TaggedError("ServerProcessError")<{
  readonly reason: "Exited" | "BadOutput"
  readonly detail: string
}> {}

export interface ServerProcess {
  readonly child: ChildProcess.ChildProcess
  readonly pid: number
  readonly address: IpcAddress.Address
  /** Sends `signal` and waits for the process to exit; returns its exit code or signal. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<string>
}

const awaitExit = (child: ChildProcess.ChildProcess): Effect.Effect<string> =>
  callback<string>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resume(Exit.succeed(String(child.signalCode ?? child.exitCode)))
    }
    child.once("exit", (code, signal) => resume(Exit.succeed(String(signal ?? code))))
  })

/**
 * Forks `src/bin/server.ts` under tsx with `args`, waits for its ready line (at most 20 s) and kills it with
 * SIGKILL when the scope closes if it is still running. It is forked with an IPC channel, so it also exits if
 * this process dies.
 */
export const forkServer = (args: ReadonlyArray<string>, nodeOptions: ReadonlyArray<string> = []) =>
  Effect.acquireRelease(
    callback<ServerProcess, ServerProcessError>((resume) => {
      const child = ChildProcess.fork(serverScript, args, {
        execArgv: [...nodeOptions, "--import", tsxLoader],
        stdio: ["ignore", "pipe", "pipe", "ipc"]
      })
      let output = ""
      let errors = ""
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        resume(Exit.fail(
          new ServerProcessError({ reason: "Exited", detail: `exited (${signal ?? code}) before ready: ${errors}` })
        ))
      child.once("exit", onExit)
      child.stderr!.on("data", (chunk: Buffer) => {
        errors += chunk.toString()
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        const newline = output.indexOf("\n")
        if (newline < 0) return
        child.stdout!.removeAllListeners("data")
        child.removeListener("exit", onExit)
        try {
          const ready = JSON.parse(output.slice(0, newline)) as {
            event: string
            pid: number
            address: IpcAddress.Address
          }
          if (ready.event !== "ready") throw new Error(`unexpected event ${ready.event}`)
          resume(Exit.succeed({
            child,
            pid: ready.pid,
            address: ready.address,
            kill: (signal) =>
              Effect.suspend(() => {
                child.kill(signal)
                return awaitExit(child)
              })
          }))
        } catch (error) {
          child.kill("SIGKILL")
          resume(Exit.fail(new ServerProcessError({ reason: "BadOutput", detail: `${String(error)}: ${output}` })))
        }
      })
      return Effect.sync(() => {
        child.kill("SIGKILL")
      })
    }).pipe(within("20 seconds", "the forked server to be ready")),
    (server) =>
      Effect.suspend(() => {
        if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL")
        return awaitExit(server.child)
      })
  )
