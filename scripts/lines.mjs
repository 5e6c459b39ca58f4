// Builds the Effect 4 line's sources from the one shared source.
//
// The packages under packages/<name> are the Effect 3 line and the source of both lines. Everything that differs
// between Effect 3 and Effect 4 sits in an edge: the files under src/internal/edge/ (the Effect 3 side, in place)
// and, with the same file names, packages/<name>-effect4/edge/ (the Effect 4 side). For each package that has an
// Effect 4 twin, this script writes packages/<name>-effect4/src and test (gitignored, never edited by hand):
//
//   - a copy of packages/<name>/src and packages/<name>/test,
//   - with every file of src/internal/edge/ replaced by packages/<name>-effect4/edge/<same name>,
//   - with every import of a workspace package "@connection-pool/<x>" turned into "@connection-pool/<x>-effect4".
//
// It fails when the two edges of a package do not hold the same files: an edge file on one side only would leave
// the other line with the wrong code, or none.
//
// Documentation examples are code too: an `@example` that must be written differently on Effect 4 (a tag class,
// `Metric.withAttributes` for `Metric.tagged`, `Result` for `Either`) has its Effect 4 version in
// packages/<name>-effect4/examples/<Module>.<export>.ts (<Module>.module.ts for the module's own example), which
// replaces the first example of that export's JSDoc in the generated src/<Module>.ts. An example file that finds
// no example to replace fails the script; docgen type-checks the result (`pnpm run docs`).
//
//   node scripts/lines.mjs            (every package with an Effect 4 twin)
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const packagesDir = path.join(root, "packages")
const edgeDir = path.join("internal", "edge")
const suffix = "-effect4"

const shared = fs.readdirSync(packagesDir).filter((name) =>
  !name.endsWith(suffix) && fs.existsSync(path.join(packagesDir, name + suffix, "package.json"))
)
/** Workspace package names whose imports are renamed in the Effect 4 sources. */
const renamed = new Set(shared)

const fail = (message) => {
  console.error(`lines: ${message}`)
  process.exit(1)
}

const listFiles = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) =>
      // `parentPath` from Node 20.12, `path` before it
      path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name))
    ).sort()
    : []

const renameImports = (text) =>
  text.replace(
    /(["'])@connection-pool\/([a-z0-9-]+)(?=["'/])/g,
    (whole, quote, name) => renamed.has(name) ? `${quote}@connection-pool/${name}${suffix}` : whole
  )

let written = 0
for (const name of shared) {
  const from = path.join(packagesDir, name)
  const to = path.join(packagesDir, name + suffix)
  const effect3Edge = listFiles(path.join(from, "src", edgeDir))
  const effect4Edge = listFiles(path.join(to, "edge"))
  const only3 = effect3Edge.filter((file) => !effect4Edge.includes(file))
  const only4 = effect4Edge.filter((file) => !effect3Edge.includes(file))
  if (only3.length > 0 || only4.length > 0) {
    fail(
      `packages/${name}: the edges differ: ` +
        [
          ...only3.map((file) => `src/${edgeDir}/${file} has no packages/${name}${suffix}/edge/${file}`),
          ...only4.map((file) => `packages/${name}${suffix}/edge/${file} has no src/${edgeDir}/${file}`)
        ].join("; ")
    )
  }
  for (const tree of ["src", "test"]) {
    const target = path.join(to, tree)
    fs.rmSync(target, { recursive: true, force: true })
    for (const file of listFiles(path.join(from, tree))) {
      const isEdge = tree === "src" && file.startsWith(edgeDir + path.sep)
      const source = isEdge ? path.join(to, "edge", path.relative(edgeDir, file)) : path.join(from, tree, file)
      const destination = path.join(target, file)
      fs.mkdirSync(path.dirname(destination), { recursive: true })
      const text = fs.readFileSync(source, "utf8")
      fs.writeFileSync(destination, /\.(ts|mts|cts)$/.test(file) ? renameImports(text) : text)
      written++
    }
  }
  for (const file of listFiles(path.join(to, "examples"))) replaceExample(name, path.join(to, "examples", file))
}
/**
 * Puts the example in `file` (packages/<name>-effect4/examples/<Module>.<export>.ts) in place of the first
 * `@example` code block of that export's JSDoc (or of the module's header) in the generated src/<Module>.ts.
 */
function replaceExample(name, file) {
  const [module, exportName] = path.basename(file, ".ts").split(".")
  const target = path.join(packagesDir, name + suffix, "src", `${module}.ts`)
  if (!fs.existsSync(target)) fail(`packages/${name}${suffix}/examples/${path.basename(file)}: no src/${module}.ts`)
  const text = fs.readFileSync(target, "utf8")
  let commentEnd
  if (exportName === "module") {
    commentEnd = text.indexOf("*/")
  } else {
    const declaration = new RegExp(`^export (?:declare )?(?:const|function|interface|type|class) ${exportName}\\b`, "m")
      .exec(text)
    if (declaration === null) fail(`packages/${name}${suffix}/examples/${path.basename(file)}: no export ${exportName}`)
    commentEnd = text.lastIndexOf("*/", declaration.index)
    // the comment must be the export's own: nothing but white space between it and the declaration
    if (commentEnd === -1 || text.slice(commentEnd + 2, declaration.index).trim() !== "") {
      fail(`packages/${name}${suffix}/examples/${path.basename(file)}: ${module}.${exportName} has no JSDoc`)
    }
  }
  const commentStart = text.lastIndexOf("/**", commentEnd)
  const comment = text.slice(commentStart, commentEnd)
  const fence = /^ \* ```ts\n[\s\S]*?^ \* ```$/m.exec(comment)
  if (commentStart === -1 || fence === null) {
    fail(`packages/${name}${suffix}/examples/${path.basename(file)}: ${module}.${exportName} has no example to replace`)
  }
  const code = renameImports(fs.readFileSync(file, "utf8")).trimEnd().split("\n")
  const block = [" * ```ts", ...code.map((line) => (line === "" ? " *" : ` * ${line}`)), " * ```"].join("\n")
  const start = commentStart + fence.index
  fs.writeFileSync(target, text.slice(0, start) + block + text.slice(start + fence[0].length))
}

console.log(`lines: ${written} files written for the Effect 4 line (${shared.map((name) => name + suffix).join(", ")})`)
