// `pnpm packed-install`: proves the packages work when installed from their tarballs, the way a user gets
// them. Packs each with `pnpm pack` (its prepack builds it), checks what the tarballs hold, installs them with
// npm into a fresh project outside the workspace (next to effect and TypeScript from the registry), then
// type-checks and runs the same small program (scripts/packed-install/consumer.ts; the JavaScript consumers
// share program.cjs) as each kind of consumer:
//
//   esm        plain JavaScript, `import`
//   cjs        plain JavaScript, `require`
//   nodenext   TypeScript, moduleResolution NodeNext: an .mts and a .cts file (ESM and CommonJS output)
//   bundler    TypeScript, moduleResolution Bundler
//   node10     TypeScript, moduleResolution Node10 (which ignores `exports`: the types come through typesVersions)
//
// and runs the published bin (the IPC server) once. Every consumer must print the same line. The PostgreSQL
// package has a program of its own (scripts/packed-install/pg.ts, as an .mts and a .cts file), which also
// type-checks and runs @effect/sql-pg from the registry on its pg.Pool adapter, and needs no running server; so
// has the Redis package (scripts/packed-install/redis.mts, NodeNext), which needs no server either. One more
// program mixes the halves: a connector typed and loaded through `require`, used by a pool typed and loaded
// through `import` (a CommonJS connector library in an ESM app), which type-checks only if both share one set
// of declarations.
//
//   node scripts/packed-install.mjs [--keep]
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { installedVersion as kitInstalledVersion, makeKit, readJson, writeJson } from "./packed-install/kit.mjs"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixtures = path.join(root, "scripts", "packed-install")
const packages = ["core", "platform-node", "pg", "redis"]
const keep = process.argv.includes("--keep")
const everyConsumerPrints = JSON.stringify({
  inMemory: { connections: 2, timedOut: "PoolTimeoutError", created: 2, inUse: 0 },
  ipc: "hello"
})
const started = Date.now()

const pnpmVersion = readJson(path.join(root, "package.json")).packageManager.split("@")[1]
const installedVersion = (name, from = root) => kitInstalledVersion(name, from)
const pgPackage = path.join(root, "packages", "pg")
const pgProgramPrints = JSON.stringify({
  pg: {
    query: "ConnectionError Unreachable ECONNREFUSED 127.0.0.1:1",
    sqlQuery: "SqlError Unreachable ECONNREFUSED 127.0.0.1:1",
    adapterIsAPgPool: true,
    pool: "packed",
    opened: 0,
    syntaxErrorIsFault: false
  }
})

const work = fs.mkdtempSync(path.join(os.tmpdir(), "connection-pool-packed-"))
if (!path.relative(root, work).startsWith("..")) fail(`${work} is inside the workspace`)
const results = []
const { checkBin, packAll, readTarEntry, run } = makeKit({ root, fail, results })
try {
  // 1. Pack, and check each tarball's manifest and contents.
  const tarballOf = packAll(packages, path.join(work, "tarballs"), pnpmVersion)
  for (const name of packages) checkTarball(name, tarballOf[name])
  results.push(["tarballs", `${packages.length} packed and checked`])

  // 2. A fresh project outside the workspace, installed by npm from the tarballs and the registry.
  const project = path.join(work, "project")
  fs.mkdirSync(project)
  writeJson(path.join(project, "package.json"), {
    name: "packed-install-consumer",
    private: true,
    type: "module",
    dependencies: {
      "@connection-pool/core": `file:${tarballOf.core}`,
      "@connection-pool/platform-node": `file:${tarballOf["platform-node"]}`,
      "@connection-pool/pg": `file:${tarballOf.pg}`,
      "@connection-pool/redis": `file:${tarballOf.redis}`,
      // Only what the packages ask for as peers: effect.
      effect: installedVersion("effect"),
      // What the pg program uses its adapter with: @effect/sql-pg and its peers, at the versions the tests use.
      ...Object.fromEntries(
        ["@effect/sql-pg", "@effect/sql", "@effect/experimental", "@effect/platform"].map((
          name
        ) => [name, installedVersion(name, pgPackage)])
      )
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
  for (const dir of ["nodenext", "bundler", "node10"]) fs.mkdirSync(path.join(project, dir))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "nodenext", "esm.mts"))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "nodenext", "cjs.cts"))
  for (const file of ["mixed.mts", "mixed-connector.cts", "redis.mts"]) {
    fs.copyFileSync(path.join(fixtures, file), path.join(project, "nodenext", file))
  }
  fs.mkdirSync(path.join(project, "pg"))
  fs.copyFileSync(path.join(fixtures, "pg.ts"), path.join(project, "pg", "pg.mts"))
  fs.copyFileSync(path.join(fixtures, "pg.ts"), path.join(project, "pg", "pg.cts"))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "bundler", "main.ts"))
  fs.copyFileSync(path.join(fixtures, "consumer.ts"), path.join(project, "node10", "main.ts"))
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
  writeJson(path.join(project, "tsconfig.node10.json"), {
    compilerOptions: { ...strict, module: "CommonJS", moduleResolution: "Node10", outDir: "out/node10" },
    include: ["node10"]
  })
  // The pg program: NodeNext, strict, library declarations checked too; with the DOM library, because
  // @effect/platform's and @effect/experimental's declarations name Web globals (Storage, Crypto).
  writeJson(path.join(project, "tsconfig.pg.json"), {
    compilerOptions: {
      ...strict,
      lib: ["ES2022", "DOM"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      outDir: "out/pg"
    },
    include: ["pg"]
  })
  const tsc = path.join(project, "node_modules", ".bin", "tsc")

  consumer("esm (JavaScript, import)", ["esm.mjs"], { outcome: "ran" })
  consumer("cjs (JavaScript, require)", ["cjs.cjs"], { outcome: "ran" })
  run(tsc, ["-p", "tsconfig.nodenext.json"], { cwd: project })
  consumer("TypeScript NodeNext, .mts (ESM)", ["out/nodenext/esm.mjs"])
  consumer("TypeScript NodeNext, .cts (CommonJS)", ["out/nodenext/cjs.cjs"])
  consumer("TypeScript NodeNext, ESM and CommonJS halves mixed", ["out/nodenext/mixed.mjs"], {
    expected: JSON.stringify({ mixed: "shared", refused: "ConnectionError from library" })
  })
  consumer("TypeScript NodeNext, @connection-pool/redis", ["out/nodenext/redis.mjs"], {
    expected: JSON.stringify({ redis: "ConnectionError: RedisConnectionError Unreachable ECONNREFUSED" })
  })
  run(tsc, ["-p", "tsconfig.pg.json"], { cwd: project })
  consumer("@connection-pool/pg, TypeScript NodeNext, .mts (ESM)", ["out/pg/pg.mjs"], { expected: pgProgramPrints })
  consumer("@connection-pool/pg, TypeScript NodeNext, .cts (CommonJS)", ["out/pg/pg.cjs"], {
    expected: pgProgramPrints
  })
  run(tsc, ["-p", "tsconfig.bundler.json"], { cwd: project })
  consumer("TypeScript Bundler", ["out/bundler/main.js"])
  run(tsc, ["-p", "tsconfig.node10.json"], { cwd: project })
  // The project is `"type": "module"`; Node10 output is CommonJS.
  writeJson(path.join(project, "out", "node10", "package.json"), { type: "commonjs" })
  consumer("TypeScript Node10 (CommonJS)", ["out/node10/main.js"])
  for (const signal of ["SIGTERM", "SIGINT"]) await checkBin(project, signal)

  function consumer(kind, args, { expected = everyConsumerPrints, outcome = "type-checked and ran" } = {}) {
    const output = run("node", args, { cwd: project, timeout: 60_000 }).trim()
    if (output !== expected) fail(`${kind} printed ${output}, expected ${expected}`)
    results.push([kind, outcome])
  }
} finally {
  if (keep) console.log(`packed-install: kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
}

for (const [what, outcome] of results) console.log(`packed-install: ${what}: ${outcome}`)
console.log(`packed-install: passed in ${((Date.now() - started) / 1000).toFixed(1)}s`)

/** What a tarball must hold: built ESM and CommonJS, one set of declarations, a manifest naming only those. */
function checkTarball(name, file) {
  const where = path.basename(file)
  const entries = run("tar", ["-tzf", file], { cwd: root }).split("\n").filter(Boolean)
  for (const required of ["dist/esm/package.json", "dist/cjs/package.json", "LICENSE", "README.md", "CHANGELOG.md"]) {
    if (!entries.includes(`package/${required}`)) fail(`${where} lacks ${required}`)
  }
  const stray = entries.filter((entry) => /^package\/(test|build|node_modules|docs|dist\/cjs\/bin)\//.test(entry))
  if (stray.length > 0) fail(`${where} holds ${stray.slice(0, 5).join(", ")}`)
  const manifest = readTarEntry(file, "package/package.json")
  if (JSON.stringify(manifest).includes("workspace:")) fail(`${where}: package.json still says workspace:`)
  if (manifest.sideEffects !== false) fail(`${where}: sideEffects is not false`)
  if (manifest.peerDependencies?.effect === undefined) fail(`${where}: effect is not a peer dependency`)
  if (manifest.type !== "commonjs") fail(`${where}: type is ${manifest.type}, not commonjs`)
  if (readTarEntry(file, "package/dist/esm/package.json").type !== "module") fail(`${where}: dist/esm is not ESM`)
  const reach = JSON.stringify([manifest.exports, manifest.typesVersions])
  if (reach.includes("/src/") || reach.includes("internal")) fail(`${where}: exports reach ${reach}`)
  // Every file the manifest names (main, module, types, bin, exports, typesVersions) is in the tarball.
  const leaves = (value) =>
    typeof value === "string" ? [value] : Object.values(value ?? {}).flatMap((inner) => leaves(inner))
  const named = [manifest.main, manifest.module, manifest.types, manifest.bin, manifest.exports, manifest.typesVersions]
  const targets = named.flatMap((field) => leaves(field))
  if (targets.length < 3) fail(`${where}: names no files`)
  for (const target of targets) {
    if (!entries.includes(`package/${target.slice(2)}`)) fail(`${where}: names ${target}, which is not in the tarball`)
  }
}

function fail(message) {
  console.error(`packed-install: ${message}`)
  if (keep) console.error(`packed-install: kept ${work}`)
  else fs.rmSync(work, { recursive: true, force: true })
  process.exit(1)
}
