// `pnpm packed-install` for the Effect 4 line: packs packages/*-effect4 (their prepack builds them from the shared
// source and the Effect 4 edge), installs the tarballs with npm into an empty project next to plain `effect` (npm's
// latest, 4.x), and fails on any ERESOLVE or peer warning. Then it type-checks the README's Effect 4 tour (the
// block fenced ```ts effect4 in README.md) under strict tsc, as an ES module (.mts) and as CommonJS (.cts, which
// loads the ES-module-only packages and effect 4 through `require`, as Node 20.19 and later allow), runs both, and
// runs the Effect 4 build of the IPC server's bin.
//
//   node scripts/packed-install-effect4.mjs [--keep]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { installedVersion as kitInstalledVersion, makeKit, readJson, writeJson } from "./packed-install/kit.mjs"

const root = fileURLToPath(new URL("..", import.meta.url))
const packages = ["core-effect4", "platform-node-effect4", "pg-effect4", "redis-effect4"]
const keep = process.argv.includes("--keep")
const started = Date.now()
const pnpmVersion = readJson(path.join(root, "package.json")).packageManager.split("@")[1]
const installedVersion = (name) => kitInstalledVersion(name, root)

const work = fs.mkdtempSync(path.join(os.tmpdir(), "connection-pool-packed-effect4-"))
const results = []
const { checkBin, packAll, readTarEntry, run } = makeKit({ root, fail, results })
try {
  // 1. Pack, and check each tarball.
  const files = Object.values(packAll(packages, path.join(work, "tarballs"), pnpmVersion))
  for (const file of files) checkTarball(file)
  results.push(["tarballs", `${packages.length} packed and checked`])

  // 2. An empty project: `npm install <the tarballs> effect`, as a user on Effect 4 would type it.
  const project = path.join(work, "project")
  fs.mkdirSync(project)
  // an empty folder: npm writes the package.json
  // As from a user's shell: without the npm_* settings pnpm passes to the scripts it runs (npm warns about those).
  const userEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)))
  const install = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=warn", ...files, "effect"], {
    cwd: project,
    encoding: "utf8",
    timeout: 300_000,
    env: userEnv
  })
  const printed = `${install.stdout ?? ""}${install.stderr ?? ""}`
  if (install.status !== 0) fail(`npm install failed (exit ${install.status}):\n${printed}`)
  const warnings = printed.split("\n").filter((line) => /ERESOLVE|peer|npm warn/i.test(line))
  if (warnings.length > 0) fail(`npm install warned:\n${warnings.join("\n")}`)
  const effect = readJson(path.join(project, "node_modules", "effect", "package.json")).version
  if (!effect.startsWith("4.")) fail(`npm installed effect ${effect}, not 4.x`)
  run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    "--save-dev",
    `typescript@${installedVersion("typescript")}`,
    `@types/node@${installedVersion("@types/node")}`
  ], { cwd: project })
  results.push(["npm install <tarballs> effect", `effect ${effect}, no ERESOLVE, no peer warning`])

  // 3. The README's Effect 4 tour, as ESM and as CommonJS, strict.
  const tour = readmeBlock(path.join(root, "README.md"), "ts effect4")
  fs.mkdirSync(path.join(project, "src"))
  fs.writeFileSync(path.join(project, "src", "tour.mts"), tour)
  fs.writeFileSync(path.join(project, "src", "tour.cts"), tour)
  writeJson(path.join(project, "tsconfig.json"), {
    compilerOptions: {
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      target: "ES2022",
      // effect 4's own declarations name Web globals (CryptoKey, Storage) in its crypto and persistence modules
      lib: ["ES2022", "DOM"],
      types: ["node"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      outDir: "out"
    },
    include: ["src"]
  })
  run(path.join(project, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: project })
  for (
    const [kind, file] of [["ES module (.mts)", "out/tour.mjs"], ["CommonJS (.cts, require of ESM)", "out/tour.cjs"]]
  ) {
    const output = run("node", [file], { cwd: project, timeout: 60_000 })
    if (!output.startsWith("hello hello\n")) fail(`the tour as ${kind} printed ${JSON.stringify(output)}`)
    results.push([
      `README tour for Effect 4, ${kind}`,
      `type-checked (strict) and ran: ${output.trim().split("\n").join(" / ")}`
    ])
  }
  for (const signal of ["SIGTERM", "SIGINT"]) await checkBin(project, signal)
} finally {
  if (keep) console.log(`packed-install-effect4: kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
}

for (const [what, outcome] of results) console.log(`packed-install-effect4: ${what}: ${outcome}`)
console.log(`packed-install-effect4: passed in ${((Date.now() - started) / 1000).toFixed(1)}s`)

/** An Effect 4 tarball: ES modules and declarations only, effect 4 as its peer, nothing internal reachable. */
function checkTarball(file) {
  const where = path.basename(file)
  const entries = run("tar", ["-tzf", file], { cwd: root }).split("\n").filter(Boolean)
  for (const required of ["dist/esm/index.js", "dist/dts/index.d.ts", "LICENSE", "README.md", "CHANGELOG.md"]) {
    if (!entries.includes(`package/${required}`)) fail(`${where} lacks ${required}`)
  }
  const stray = entries.filter((entry) => /^package\/(test|build|node_modules|docs|edge|dist\/cjs)\//.test(entry))
  if (stray.length > 0) fail(`${where} holds ${stray.slice(0, 5).join(", ")}`)
  const manifest = readTarEntry(file, "package/package.json")
  if (JSON.stringify(manifest).includes("workspace:")) fail(`${where}: package.json still says workspace:`)
  if (manifest.type !== "module") fail(`${where}: type is ${manifest.type}, not module`)
  if (!/^\^4\./.test(manifest.peerDependencies?.effect ?? "")) fail(`${where}: effect 4 is not its peer dependency`)
  const reach = JSON.stringify(manifest.exports)
  if (reach.includes("/src/") || reach.includes("internal")) fail(`${where}: exports reach ${reach}`)
}

/** The one block of `file` fenced with `info`. */
function readmeBlock(file, info) {
  const blocks = fs.readFileSync(file, "utf8").split(/^```/m)
  const found = blocks.filter((block) => block.startsWith(info + "\n"))
  if (found.length !== 1) fail(`${path.basename(file)} has ${found.length} blocks fenced \`\`\`${info}, not one`)
  return found[0].slice(info.length + 1)
}

function fail(message) {
  console.error(`packed-install-effect4: ${message}`)
  if (keep) console.error(`packed-install-effect4: kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}
