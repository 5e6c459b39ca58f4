// `pnpm build`: compiles each published package to dist/ as it is packed.
//
//   dist/esm/  ES modules with their .d.ts (the package is `"type": "module"`)
//   dist/cjs/  CommonJS with their own .d.ts, under a package.json saying `"type": "commonjs"`, so a
//              `require` consumer's TypeScript sees CommonJS declarations, not ESM ones
//
// In the workspace, `exports` points at src/*.ts (tests, examples and tsx run the sources); the published
// manifest takes `publishConfig` instead, which pnpm applies when packing. This script checks that
// `publishConfig.exports` offers exactly the public modules (src/*.ts, never src/internal/), so a new
// module cannot ship unexported and nothing deep can be imported.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
// In dependency order: platform-node compiles against core's built declarations.
const packages = ["core", "platform-node"]
const tsc = path.join(root, "node_modules", ".bin", "tsc")

for (const name of packages) {
  const dir = path.join(root, "packages", name)
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  checkManifest(name, dir, manifest)

  fs.rmSync(path.join(dir, "dist"), { recursive: true, force: true })
  for (const config of ["tsconfig.build.json", "tsconfig.build.cjs.json"]) {
    const result = spawnSync(tsc, ["-p", config], { cwd: dir, stdio: "inherit" })
    if (result.status !== 0) fail(`tsc -p ${config} failed in packages/${name}`)
  }
  fs.writeFileSync(path.join(dir, "dist", "cjs", "package.json"), JSON.stringify({ type: "commonjs" }) + "\n")
  for (const bin of Object.values(manifest.publishConfig.bin ?? {})) fs.chmodSync(path.join(dir, bin), 0o755)
  console.log(`build: packages/${name} -> dist/esm, dist/cjs`)
}

function checkManifest(name, dir, manifest) {
  const where = `packages/${name}/package.json`
  if (manifest.sideEffects !== false) fail(`${where}: "sideEffects" must be false`)
  if (manifest.peerDependencies?.effect === undefined) fail(`${where}: effect must be a peer dependency`)
  if (manifest.dependencies?.effect !== undefined) fail(`${where}: effect must not be a direct dependency`)
  const exports = manifest.publishConfig?.exports
  if (exports === undefined) fail(`${where}: no publishConfig.exports`)
  const modules = fs.readdirSync(path.join(dir, "src"))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts")
    .map((file) => file.slice(0, -".ts".length))
  const expected = new Set([".", "./package.json", ...modules.map((module) => `./${module}`)])
  const offered = Object.keys(exports)
  const missing = [...expected].filter((key) => !offered.includes(key))
  const extra = offered.filter((key) => !expected.has(key))
  if (missing.length > 0) fail(`${where}: publishConfig.exports lacks ${missing.join(", ")}`)
  if (extra.length > 0) fail(`${where}: publishConfig.exports offers ${extra.join(", ")}, which is not a public module`)
  for (const module of [".", ...modules.map((module) => `./${module}`)]) {
    const file = module === "." ? "index" : module.slice(2)
    const want = {
      import: { types: `./dist/esm/${file}.d.ts`, default: `./dist/esm/${file}.js` },
      require: { types: `./dist/cjs/${file}.d.ts`, default: `./dist/cjs/${file}.js` }
    }
    if (JSON.stringify(exports[module]) !== JSON.stringify(want)) {
      fail(`${where}: publishConfig.exports["${module}"] should be ${JSON.stringify(want)}`)
    }
  }
}

function fail(message) {
  console.error(`build: ${message}`)
  process.exit(1)
}
