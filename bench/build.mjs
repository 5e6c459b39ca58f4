// Bundles the benchmark with esbuild before it runs. The workspace packages are TypeScript; running them
// through tsx would transpile them with `keepNames`, which wraps every closure this library creates in a
// naming helper (about 15% of the borrow path) while the peers run as plain JavaScript from node_modules.
// Bundling without `keepNames` measures every contender as the JavaScript a user would run.
import { build } from "esbuild"

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  // Third-party packages are loaded from node_modules as they are; only the workspace is bundled.
  external: ["effect", "effect/*", "@effect/*", "generic-pool", "tarn"],
  logLevel: "warning"
}

await build({
  ...common,
  entryPoints: [new URL("src/main.ts", import.meta.url).pathname],
  outfile: new URL("build/bench.mjs", import.meta.url).pathname
})
// The IPC server runs as its own process; bundled the same way so that it is no slower for anyone.
await build({
  ...common,
  entryPoints: [new URL("../packages/platform-node/src/bin/server.ts", import.meta.url).pathname],
  outfile: new URL("build/server.mjs", import.meta.url).pathname
})
