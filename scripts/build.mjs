// `pnpm build`: compiles each published package to dist/ as it is packed (each package's `prepack` runs this
// for itself, so `pnpm pack` and `pnpm publish` never ship a stale dist/).
//
//   dist/esm/  ES modules, under a package.json saying `"type": "module"`
//   dist/cjs/  CommonJS, under a package.json saying `"type": "commonjs"` (the bin is ESM only)
//   dist/dts/  one set of declarations for both: a type declared twice (a TypeId's unique symbol, a class)
//              would make the ESM and CommonJS halves of one program incompatible
//
// In the workspace, `exports` points at src/*.ts (tests, examples and tsx run the sources); the published
// manifest takes `publishConfig` instead, which pnpm applies when packing: `"type": "commonjs"` (as effect's
// own packages), `exports` for each public module, and `typesVersions` for TypeScript's older node10
// resolution, which ignores `exports`. This script checks that both offer exactly the public modules
// (src/*.ts, never src/internal/), so a new module cannot ship unexported and nothing deep can be imported.
//
//   node scripts/build.mjs [package...]   (default: every package; a package that depends on core builds core first)
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
// In dependency order: the others compile against core's built declarations.
const allPackages = ["core", "platform-node", "pg", "redis"]
const tsc = path.join(root, "node_modules", ".bin", "tsc")
const asked = process.argv.slice(2)
for (const name of asked) if (!allPackages.includes(name)) fail(`no package ${name}: use ${allPackages.join(", ")}`)
// The others compile against core's declarations, so building one rebuilds core first (never a stale one).
const packages = asked.length === 0
  ? allPackages
  : allPackages.filter((name) => asked.includes(name) || (name === "core" && asked.length > 0))

// npm ignores publishConfig: it would pack the workspace manifest, whose exports point at src/*.ts.
if (process.env.npm_lifecycle_event === "prepack" && process.env.npm_config_user_agent?.startsWith("npm/")) {
  fail("pack and publish with pnpm (pnpm pack, pnpm publish, pnpm release): npm ignores publishConfig")
}

for (const name of packages) {
  const dir = path.join(root, "packages", name)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  checkManifest(name, dir, manifest)

  fs.rmSync(path.join(dir, "dist"), { recursive: true, force: true })
  for (const config of ["tsconfig.build.json", "tsconfig.build.cjs.json"]) {
    const result = spawnSync(tsc, ["-p", config], { cwd: dir, stdio: "inherit" })
    if (result.status !== 0) fail(`tsc -p ${config} failed in packages/${name}`)
  }
  fs.writeFileSync(path.join(dir, "dist", "esm", "package.json"), JSON.stringify({ type: "module" }) + "\n")
  fs.writeFileSync(path.join(dir, "dist", "cjs", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n")
  for (const bin of Object.values(manifest.publishConfig.bin ?? {})) fs.chmodSync(path.join(dir, bin), 0o755)
  console.log(`build: packages/${name} -> dist/esm, dist/cjs, dist/dts`)
}

function checkManifest(name, dir, manifest) {
  const where = `packages/${name}/package.json`
  if (manifest.sideEffects !== false) fail(`${where}: "sideEffects" must be false`)
  if (manifest.peerDependencies?.effect === undefined) fail(`${where}: effect must be a peer dependency`)
  if (manifest.dependencies?.effect !== undefined) fail(`${where}: effect must not be a direct dependency`)
  const published = manifest.publishConfig
  if (published?.exports === undefined) fail(`${where}: no publishConfig.exports`)
  if (published.type !== "commonjs") fail(`${where}: publishConfig.type must be "commonjs" (dist/esm says module)`)
  const modules = fs.readdirSync(path.join(dir, "src"))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .map((file) => file.slice(0, -".ts".length))
    .sort()
  const index = fs.readFileSync(path.join(dir, "src", "index.ts"), "utf8")
  for (const module of modules) {
    if (!index.includes(`export * as ${module} from "./${module}.js"`)) {
      fail(`packages/${name}/src/index.ts does not re-export ${module}`)
    }
  }
  const entry = (file) => ({
    types: `./dist/dts/${file}.d.ts`,
    import: `./dist/esm/${file}.js`,
    default: `./dist/cjs/${file}.js`
  })
  const want = {
    main: "./dist/cjs/index.js",
    module: "./dist/esm/index.js",
    types: "./dist/dts/index.d.ts",
    exports: {
      "./package.json": "./package.json",
      ".": entry("index"),
      ...Object.fromEntries(modules.map((module) => [`./${module}`, entry(module)]))
    },
    typesVersions: { "*": Object.fromEntries(modules.map((module) => [module, [`./dist/dts/${module}.d.ts`]])) }
  }
  for (const [field, value] of Object.entries(want)) {
    if (JSON.stringify(published[field]) !== JSON.stringify(value)) {
      fail(`${where}: publishConfig.${field} should be ${JSON.stringify(value)} (the public modules are src/*.ts)`)
    }
  }
}

function fail(message) {
  console.error(`build: ${message}`)
  process.exit(1)
}
