// `pnpm packed-install`: proves the packages work when installed from their tarballs, the way a user gets
// them. Builds them, packs each with `pnpm pack`, checks what the tarballs hold, installs them with npm into
// a fresh project outside the workspace (next to effect and TypeScript from the registry), then type-checks
// and runs the same small program (scripts/packed-install/consumer.*) as each kind of consumer (the JavaScript ones share program.cjs):
//
//   esm        plain JavaScript, `import`
//   cjs        plain JavaScript, `require`
//   nodenext   TypeScript, moduleResolution NodeNext: an .mts and a .cts file (ESM and CommonJS output)
//   bundler    TypeScript, moduleResolution Bundler
//
// and runs the published bin (the IPC server) once. Every consumer must print the same line.
//
//   node scripts/packed-install.mjs [--no-build] [--keep]
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixtures = path.join(root, "scripts", "packed-install")
const packages = ["core", "platform-node"]
const keep = process.argv.includes("--keep")
const expected = JSON.stringify({
  inMemory: { connections: 2, timedOut: "PoolTimeoutError", created: 2, inUse: 0 },
  ipc: "hello"
})
const started = Date.now()
let work // the temporary directory, once made

const pnpmVersion = readJson(path.join(root, "package.json")).packageManager.split("@")[1]
const installedVersion = (name, from = root) =>
  readJson(path.join(from, "node_modules", ...name.split("/"), "package.json")).version

if (!process.argv.includes("--no-build")) run("node", [path.join(root, "scripts", "build.mjs")], { cwd: root })

work = fs.mkdtempSync(path.join(os.tmpdir(), "connection-pool-packed-"))
if (!path.relative(root, work).startsWith("..")) fail(`${work} is inside the workspace`)
const results = []
try {
  // 1. Pack, and check each tarball's manifest and contents.
  const tarballs = path.join(work, "tarballs")
  fs.mkdirSync(tarballs)
  const tarballOf = {}
  for (const name of packages) {
    const before = new Set(fs.readdirSync(tarballs))
    run("npx", ["--yes", `pnpm@${pnpmVersion}`, "pack", "--pack-destination", tarballs], {
      cwd: path.join(root, "packages", name)
    })
    const file = fs.readdirSync(tarballs).find((entry) => !before.has(entry))
    if (file === undefined) fail(`pnpm pack wrote no tarball for ${name}`)
    tarballOf[name] = path.join(tarballs, file)
    checkTarball(name, tarballOf[name])
  }
  results.push(["tarballs", `${packages.length} packed and checked`])

  // 2. A fresh project outside the workspace, installed by npm from the tarballs and the registry.
  const project = path.join(work, "project")
  fs.mkdirSync(project)
  const platformNodeDir = path.join(root, "packages", "platform-node")
  writeJson(path.join(project, "package.json"), {
    name: "packed-install-consumer",
    private: true,
    type: "module",
    dependencies: {
      "@connection-pool/core": `file:${tarballOf.core}`,
      "@connection-pool/platform-node": `file:${tarballOf["platform-node"]}`,
      effect: installedVersion("effect"),
      "@effect/platform": installedVersion("@effect/platform", platformNodeDir),
      "@effect/platform-node": installedVersion("@effect/platform-node", platformNodeDir)
    },
    devDependencies: {
      typescript: installedVersion("typescript"),
      "@types/node": installedVersion("@types/node")
    }
  })
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: project })
  results.push(["npm install", "from the tarballs and the registry"])

  // 3. The consumers.
  fs.copyFileSync(path.join(fixtures, "consumer.mjs"), path.join(project, "esm.mjs"))
  fs.copyFileSync(path.join(fixtures, "consumer.cjs"), path.join(project, "cjs.cjs"))
  fs.copyFileSync(path.join(fixtures, "program.cjs"), path.join(project, "program.cjs"))
  for (const dir of ["nodenext", "bundler"]) fs.mkdirSync(path.join(project, dir))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "nodenext", "esm.mts"))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "nodenext", "cjs.cts"))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "bundler", "main.ts"))
  const strict = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUnusedLocals: true,
    skipLibCheck: false,
    target: "ES2022",
    lib: ["ES2022"],
    types: ["node"]
  }
  writeJson(path.join(project, "tsconfig.nodenext.json"), {
    compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out/nodenext" },
    include: ["nodenext"]
  })
  writeJson(path.join(project, "tsconfig.bundler.json"), {
    compilerOptions: { ...strict, module: "ESNext", moduleResolution: "Bundler", outDir: "out/bundler" },
    include: ["bundler"]
  })
  const tsc = path.join(project, "node_modules", ".bin", "tsc")

  consumer("esm (JavaScript, import)", ["esm.mjs"], "ran")
  consumer("cjs (JavaScript, require)", ["cjs.cjs"], "ran")
  run(tsc, ["-p", "tsconfig.nodenext.json"], { cwd: project })
  consumer("TypeScript NodeNext, .mts (ESM)", ["out/nodenext/esm.mjs"])
  consumer("TypeScript NodeNext, .cts (CommonJS)", ["out/nodenext/cjs.cjs"])
  run(tsc, ["-p", "tsconfig.bundler.json"], { cwd: project })
  consumer("TypeScript Bundler", ["out/bundler/main.js"])
  await checkBin(project)

  function consumer(kind, args, outcome = "type-checked and ran") {
    const output = run("node", args, { cwd: project }).trim()
    if (output !== expected) fail(`${kind} printed ${output}, expected ${expected}`)
    results.push([kind, outcome])
  }
} finally {
  if (keep) console.log(`packed-install: kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
}

for (const [what, outcome] of results) console.log(`packed-install: ${what}: ${outcome}`)
console.log(`packed-install: passed in ${((Date.now() - started) / 1000).toFixed(1)}s`)

/** What a tarball must hold: built ESM and CommonJS with declarations, an exports map into dist only. */
function checkTarball(name, file) {
  const where = path.basename(file)
  const entries = run("tar", ["-tzf", file], { cwd: root }).split("\n").filter(Boolean)
  for (
    const required of [
      "package/dist/esm/index.js",
      "package/dist/esm/index.d.ts",
      "package/dist/cjs/index.js",
      "package/dist/cjs/index.d.ts",
      "package/dist/cjs/package.json",
      "package/LICENSE",
      "package/README.md",
      "package/CHANGELOG.md"
    ]
  ) {
    if (!entries.includes(required)) fail(`${where} lacks ${required}`)
  }
  const stray = entries.filter((entry) => /^package\/(test|build|node_modules|docs)\//.test(entry))
  if (stray.length > 0) fail(`${where} holds ${stray.slice(0, 5).join(", ")}`)
  const manifestText = run("tar", ["-xzOf", file, "package/package.json"], { cwd: root })
  if (manifestText.includes("workspace:")) fail(`${where}: package.json still says workspace:`)
  const manifest = JSON.parse(manifestText)
  if (manifest.sideEffects !== false) fail(`${where}: sideEffects is not false`)
  if (manifest.peerDependencies?.effect === undefined) fail(`${where}: effect is not a peer dependency`)
  const targets = JSON.stringify(manifest.exports)
  if (targets.includes("/src/") || targets.includes("internal")) fail(`${where}: exports reach ${targets}`)
  for (const target of targets.match(/\.\/dist\/[^"]+/g) ?? []) {
    if (!entries.includes(`package/${target.slice(2)}`)) fail(`${where}: exports name ${target}, not in the tarball`)
  }
}

/** The published bin starts the IPC server as a process and reports ready; SIGTERM stops it cleanly. */
async function checkBin(project) {
  const bin = path.join(project, "node_modules", ".bin", "connection-pool-ipc-server")
  const child = spawn(bin, ["--port", "0", "--host", "127.0.0.1"], { cwd: project, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk) => (output += chunk))
  child.stderr.on("data", (chunk) => (output += chunk))
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)))
  const deadline = Date.now() + 30_000
  while (!output.includes("\n") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  const ready = output.includes("\"event\":\"ready\"")
  child.kill("SIGTERM")
  const status = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("hung"), 10_000))])
  if (status === "hung") child.kill("SIGKILL")
  if (!ready) fail(`connection-pool-ipc-server printed ${JSON.stringify(output)} instead of its ready line`)
  if (status !== 0) fail(`connection-pool-ipc-server exited with ${status} on SIGTERM`)
  results.push(["bin connection-pool-ipc-server", "started, reported ready, stopped on SIGTERM"])
}

function run(command, args, options) {
  const result = spawnSync(command, args, { ...options, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 })
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`)
    fail(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`)
  }
  return result.stdout
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"))
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n")
}

function fail(message) {
  console.error(`packed-install: ${message}`)
  if (keep) console.error(`packed-install: kept ${work}`)
  else if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}
