/**
 * Starts the demo's server (`server.ts`) as its own process, forked under tsx, and controls it: drop its
 * connections, kill it. Stopped when the scope closes; being forked with an IPC channel, it also exits by itself
 * if the demo dies.
 */
import { Data, Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

const script = fileURLToPath(new URL("server.ts", import.meta.url))
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

export class ServerStartError extends Data.TaggedError("ServerStartError")<{ readonly detail: string }> {
  override get message(): string {
    return `the demo server did not start: ${this.detail}`
  }
}

export interface ServerProcess {
  readonly pid: number
  /** Tells the server to close every open connection; returns how many it closed. */
  readonly drop: Effect.Effect<number>
  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  readonly kill: Effect.Effect<void>
}

const exited = (child: ChildProcess.ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Exit.void)
    child.once("exit", () => resume(Exit.void))
  })

const sendSignal = (child: ChildProcess.ChildProcess, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited(child)
  })

/** SIGTERM (it closes its connections and removes its socket file), SIGKILL if it is not gone within 2 seconds. */
const stop = (child: ChildProcess.ChildProcess): Effect.Effect<void> =>
  sendSignal(child, "SIGTERM").pipe(Effect.timeout("2 seconds"), Effect.orElse(() => sendSignal(child, "SIGKILL")))

/** Forks the server on `path` and waits (at most 20 seconds) for its ready line. */
export const start = (path: string) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess.ChildProcess, ServerStartError>((resume) => {
      const child = ChildProcess.fork(script, ["--path", path], {
        execArgv: ["--import", tsxLoader],
        stdio: ["ignore", "pipe", "pipe", "ipc"]
      })
      let output = ""
      let errors = ""
      const onExit = (code: number | null, signal: string | null) =>
        resume(Exit.fail(new ServerStartError({ detail: `it exited (${signal ?? code}): ${errors.trim()}` })))
      child.once("exit", onExit)
      child.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()))
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        if (!output.includes("\n")) return
        child.removeListener("exit", onExit)
        child.stdout!.removeAllListeners("data")
        child.stdout!.resume()
        resume(Exit.succeed(child))
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    }).pipe(
      Effect.timeoutFail({
        duration: "20 seconds",
        onTimeout: () => new ServerStartError({ detail: "no ready line within 20 seconds" })
      })
    ),
    stop
  ).pipe(
    Effect.map((child): ServerProcess => ({
      pid: child.pid!,
      drop: Effect.async<number>((resume) => {
        const onMessage = (message: { event?: string; count?: number }) => {
          if (message?.event !== "dropped") return
          child.removeListener("message", onMessage)
          resume(Exit.succeed(message.count ?? 0))
        }
        child.on("message", onMessage)
        child.send("drop")
        return Effect.sync(() => child.removeListener("message", onMessage))
      }),
      kill: sendSignal(child, "SIGKILL")
    }))
  )
