import { configDefaults, defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    // packages/*-effect4 are the Effect 4 line: vitest 5 under Node 22 runs them (lines/effect4/vitest.config.ts).
    exclude: [...configDefaults.exclude, "packages/*-effect4/**"],
    reporters: ["default", "json"],
    outputFile: { json: "build/vitest-results.json" },
    // Live tests bound their own waits; these are backstops so a regression fails instead of hanging.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The soak tests measure the heap after a full collection, which needs `global.gc`.
    poolOptions: { forks: { execArgv: ["--expose-gc"] } }
  }
})
