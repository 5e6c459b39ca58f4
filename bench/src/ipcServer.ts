/**
 * The IPC server the ipc scenarios talk to: the bundled bin of this line (bench/build/<line>/server.mjs, built from
 * packages/platform-node or, on the Effect 4 line, packages/platform-node-effect4) as its own process.
 */
import { callback } from "#edge/effect"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Starts the bundled server (server.mjs beside this bundle) as a child process; stops it with the scope. */
export const serverProcess = Effect.acquireRelease(
  callback<{ socketPath: string; stop: () => void }, Error>((resume) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pool-bench-"))
    const socketPath = path.join(dir, "ipc.sock")
    const child = spawn(process.execPath, [new URL("server.mjs", import.meta.url).pathname, "--path", socketPath], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    const stop = () => {
      child.kill("SIGTERM")
      rmSync(dir, { recursive: true, force: true })
    }
    const timer = setTimeout(() => {
      stop()
      resume(Effect.fail(new Error("the IPC server did not start within 10 s")))
    }, 10_000)
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("\"ready\"")) {
        clearTimeout(timer)
        resume(Effect.succeed({ socketPath, stop }))
      }
    })
  }),
  (server) => Effect.sync(server.stop)
)
