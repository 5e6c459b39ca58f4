/**
 * The dashboard example as its own process, and Debian's Chromium driven by playwright-core: shared by the
 * dashboard's browser test and `scripts/screenshot-dashboard.ts`.
 */
import { Data } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium } from "playwright-core"

const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

/** Debian's `chromium` package; playwright-core brings no browser of its own. */
export const chromiumPath = "/usr/bin/chromium"

/** Why Chromium cannot be used, or `undefined` when it is installed. */
export const chromiumUnavailable = (): string | undefined =>
  fs.existsSync(chromiumPath) ? undefined : `${chromiumPath} is absent (apt-get install -y chromium installs it)`

// Headless, and nothing that reaches out to the network or waits for a first-run dialog.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export class DashboardDidNotStart extends Data.TaggedError("DashboardDidNotStart")<{
  readonly reason: string
  readonly output: string
}> {
  override get message(): string {
    return `the dashboard example did not start: ${this.reason}\n${this.output}`
  }
}

export interface RunningDashboard {
  /** `http://127.0.0.1:<port>/`, as the example logged it. */
  readonly url: string
  /** What it printed so far, stdout and stderr together. */
  readonly output: () => string
  /** Interrupts it (SIGINT, as Ctrl-C) and resolves with its exit code; SIGKILL if it has not exited in 5 s. */
  readonly stop: () => Promise<number | null>
}

/** Runs `tsx examples/dashboard.ts <args>` on a free port and waits (at most `timeoutMillis`) for its URL. */
export const startDashboard = (args: ReadonlyArray<string>, timeoutMillis = 20_000): Promise<RunningDashboard> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(tsx, ["examples/dashboard.ts", ...args], {
      cwd: root,
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((done) =>
      child.once("exit", (code, signal) => {
        exitCode = code ?? (signal === null ? null : 128)
        done(exitCode)
      })
    )
    const stop = async () => {
      if (exitCode !== undefined) return exitCode
      child.kill("SIGINT")
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      const code = await exited
      clearTimeout(timer)
      return code
    }
    let started = false
    const fail = (reason: string) => {
      if (started) return
      clearTimeout(timer)
      void stop().then(() => reject(new DashboardDidNotStart({ reason, output })))
    }
    const timer = setTimeout(() => fail(`no URL within ${timeoutMillis} ms`), timeoutMillis)
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString()
      const url = output.match(/dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1]
      if (url !== undefined && exitCode === undefined) {
        started = true
        clearTimeout(timer)
        child.stdout!.off("data", onOutput)
        child.stdout!.on("data", (more: Buffer) => output += more.toString())
        resolve({ url, output: () => output, stop })
      }
    }
    child.stdout!.on("data", onOutput)
    child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString())
    void exited.then((code) => fail(`it exited with code ${code}`))
  })

export interface Browser {
  readonly context: BrowserContext
  /** Closes the browser and removes its profile. */
  readonly close: () => Promise<void>
}

/** Launches headless Chromium with a fresh profile (user-data-dir) that `close` removes. */
export const launchChromium = async (viewport = { width: 1200, height: 800 }): Promise<Browser> => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "connection-pool-chromium-"))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport
  })
  return {
    context,
    close: async () => {
      await context.close()
      fs.rmSync(userDataDir, { recursive: true, force: true })
    }
  }
}
