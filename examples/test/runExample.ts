import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url))

/** Runs an example as a user would (`tsx examples/<file>`), bounded by `timeoutMillis`. */
export const runExample = (file: string, args: ReadonlyArray<string> = [], timeoutMillis = 30_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      tsx,
      [`examples/${file}`, ...args],
      { cwd: root, timeout: timeoutMillis },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? 1, stdout, stderr })
    )
  })
