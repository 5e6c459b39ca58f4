// Type-checks every TypeScript block of the READMEs and guides, as a user would compile it: strict, with
// exactOptionalPropertyTypes, NodeNext module resolution, against the workspace's packages.
//
//   node scripts/readme-snippets.mjs       (part of `pnpm test`, right after the type-check)
//
// Which files: README.md, packages/*/README.md and docs/guides/*.md, found by glob, so a package's README
// added later is covered without touching this script. Which blocks: every block fenced as ```ts (or
// ```typescript), and ```ts effect4: a block for the Effect 4 line, which resolves its imports as code in
// packages/platform-node-effect4 does (effect 4 and the -effect4 packages). Other fences (```sh, ```text, ...) are
// not read.
//
// The convention every such block follows:
// - It is a complete module on its own: its own imports, nothing borrowed from an earlier block, and
//   nothing prepended by this script.
// - What stands for the reader's own code (their client, their socket) is declared in the block, as a
//   type and a `declare const`, for instance:
//       interface Socket { readonly send: (message: string) => Effect.Effect<string, Error> }
//       declare const openSocket: Effect.Effect<Socket, Error>
// - Code that runs in a generator (`yield*`) is written inside one (`Effect.gen(function*() { ... })`).
// - A block that cannot be made complete is not fenced as TypeScript.
//
// Where imports resolve from: a block in packages/<name>/README.md resolves as code in packages/<name>
// does (its dependencies, and the package itself by name); a block in README.md or docs/guides/*.md
// resolves as code in examples/ does (a workspace package depending on every published package). Each
// block is written to build/readme-snippets/ under that directory, and errors are reported at the
// markdown file's own line numbers.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const outName = path.join("build", "readme-snippets")

/** Markdown files to read, each with the directory its blocks resolve imports from. */
const sources = [
  { file: "README.md", home: "examples" },
  ...listDir("packages")
    .filter((name) => fs.existsSync(path.join(root, "packages", name, "README.md")))
    .map((name) => ({ file: path.join("packages", name, "README.md"), home: path.join("packages", name) })),
  ...listDir(path.join("docs", "guides"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => ({ file: path.join("docs", "guides", name), home: "examples" }))
]

/** Where a block fenced ```ts effect4 resolves its imports from. */
const effect4Home = path.join("packages", "platform-node-effect4")
const snippets = [] // { source, line (of the block's first code line, 1-based), path (absolute) }
for (const home of new Set([...sources.map((source) => source.home), effect4Home])) {
  fs.rmSync(path.join(root, home, outName), { recursive: true, force: true })
}
for (const source of sources) {
  const lines = fs.readFileSync(path.join(root, source.file), "utf8").split("\n")
  let block = undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (block === undefined) {
      const fence = /^```(ts|typescript)( effect4)?\s*$/.exec(line)
      if (fence !== null) {
        block = { start: i + 2, code: [], home: fence[2] === undefined ? source.home : effect4Home }
      }
    } else if (/^```\s*$/.test(line)) {
      const name = `${source.file.replace(/[/\\.]/g, "_")}_L${block.start}.ts`
      const file = path.join(root, block.home, outName, name)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, block.code.join("\n") + "\n")
      snippets.push({ source: source.file, line: block.start, path: file })
      block = undefined
    } else {
      block.code.push(line)
    }
  }
  if (block !== undefined) fail(`${source.file}:${block.start - 1}: a TypeScript block is never closed`)
}

const configDir = path.join(root, outName)
fs.rmSync(configDir, { recursive: true, force: true })
fs.mkdirSync(configDir, { recursive: true })
fs.writeFileSync(
  path.join(configDir, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: true,
        target: "ES2022",
        lib: ["ES2022"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        moduleDetection: "force",
        types: ["node"]
      },
      files: snippets.map((snippet) => snippet.path)
    },
    null,
    2
  )
)

if (snippets.length === 0) fail("no TypeScript blocks found")
const tsc = spawnSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", configDir, "--pretty", "false"], {
  cwd: root,
  encoding: "utf8",
  shell: process.platform === "win32"
})
const output = (tsc.stdout ?? "") + (tsc.stderr ?? "")
if (tsc.status !== 0) {
  // `file(line,col): error TS...` at a snippet's path becomes `README.md:line:col: error TS...`.
  const byPath = new Map(snippets.map((snippet) => [path.normalize(snippet.path), snippet]))
  const located = output.replace(/^(.+?)\((\d+),(\d+)\): /gm, (whole, file, line, column) => {
    const snippet = byPath.get(path.normalize(path.resolve(root, file)))
    return snippet === undefined ? whole : `${snippet.source}:${snippet.line + Number(line) - 1}:${column}: `
  })
  process.stderr.write(located)
  fail(
    `TypeScript blocks do not type-check (each is a complete module: see the header of ${
      path.relative(root, fileURLToPath(import.meta.url))
    })`
  )
}
const files = new Set(snippets.map((snippet) => snippet.source))
console.log(`readme-snippets: ${snippets.length} TypeScript blocks in ${files.size} files type-check`)

function listDir(dir) {
  const full = path.join(root, dir)
  return fs.existsSync(full) ? fs.readdirSync(full).sort() : []
}

function fail(message) {
  console.error(`readme-snippets: ${message}`)
  process.exit(1)
}
