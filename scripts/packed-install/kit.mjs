// What both packed-install scripts (the Effect 3 line's and the Effect 4 line's) do the same way.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"))
}

export function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n")
}

/** The version of `name` installed for the workspace package at `from`. */
export function installedVersion(name, from) {
  return readJson(path.join(from, "node_modules", ...name.split("/"), "package.json")).version
}

/** `fail` reports and exits; `results` collects `[what, outcome]` lines. */
export function makeKit({ fail, results, root }) {
  /** The published bin starts the IPC server as a process and reports ready; `signal` stops it cleanly. */
  async function checkBin(project, signal) {
    const bin = path.join(project, "node_modules", ".bin", "connection-pool-ipc-server")
    const child = spawn(bin, ["--port", "0", "--host", "127.0.0.1"], {
      cwd: project,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)))
    const deadline = Date.now() + 30_000
    while (!output.includes("\n") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    const ready = output.includes("\"event\":\"ready\"")
    child.kill(signal)
    const status = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("hung"), 10_000))])
    if (status === "hung") child.kill("SIGKILL")
    if (!ready) fail(`connection-pool-ipc-server printed ${JSON.stringify(output)} instead of its ready line`)
    if (status !== 0) fail(`connection-pool-ipc-server exited with ${status} on ${signal}`)
    results.push(["bin connection-pool-ipc-server", `started, reported ready, stopped on ${signal} with exit 0`])
  }

  function run(command, args, options) {
    // Bounded: 5 minutes by default (npm install on a slow registry), less where the caller says.
    const result = spawnSync(command, args, { timeout: 300_000, ...options, encoding: "utf8", maxBuffer: 64 << 20 })
    if (result.status !== 0) {
      process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`)
      fail(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`)
    }
    return result.stdout
  }

  function readTarEntry(file, entry) {
    return JSON.parse(run("tar", ["-xzOf", file, entry], { cwd: root }))
  }

  /** Packs each of `packages` (pnpm pack: its prepack builds it) into `dir`; the tarballs by package name. */
  function packAll(packages, dir, pnpmVersion) {
    fs.mkdirSync(dir, { recursive: true })
    const tarballOf = {}
    for (const name of packages) {
      const before = new Set(fs.readdirSync(dir))
      run("npx", ["--yes", `pnpm@${pnpmVersion}`, "pack", "--pack-destination", dir], {
        cwd: path.join(root, "packages", name)
      })
      const file = fs.readdirSync(dir).find((entry) => !before.has(entry))
      if (file === undefined) fail(`pnpm pack wrote no tarball for ${name}`)
      tarballOf[name] = path.join(dir, file)
    }
    return tarballOf
  }

  return { checkBin, packAll, readTarEntry, run }
}
