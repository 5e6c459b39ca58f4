/**
 * The reliability switch and its figures. `pnpm reliability` sets `RELIABILITY=full` for the heavy sizes; the
 * default test run (CI) uses modest ones. Each reliability test records what it did and what held in its task
 * meta, which vitest's JSON reporter writes out for the script that builds RELIABILITY.md.
 */
import { Config, Effect } from "effect"
import * as Edge from "./internal/edge/effect.js"

/**
 * Whether this is a full reliability run (`RELIABILITY=full`). Read through `Config` (the environment by default)
 * rather than `process`, because the core package's tests have no Node types.
 */
export const fullRun: boolean =
  Effect.runSync(Edge.configString("RELIABILITY").pipe(Config.withDefault(""))).trim().toLowerCase() === "full"

/** The modest size for the default run, the heavy one under `RELIABILITY=full`. */
export const bySize = <A>(modest: A, full: A): A => fullRun ? full : modest

/** A fixed seed unless `FC_SEED` names another (to replay a failure the property checker printed). */
export const propertySeed: number = Effect.runSync(Edge.configInt("FC_SEED").pipe(Config.withDefault(20251125)))

export interface ReliabilityFigures {
  /** The test family, one of RELIABILITY.md's headings. */
  readonly family: string
  /** What the test did: counts of operations, faults injected, inputs tried (and names, such as the fault's). */
  readonly did: Readonly<Record<string, number | string>>
  /** What held: measured outcomes. */
  readonly held: Readonly<Record<string, number>>
}

/** Records the figures of a reliability test in its task meta (vitest's JSON reporter writes them out). */
export const recordReliability = (ctx: { readonly task: { readonly meta: object } }, figures: ReliabilityFigures) => {
  Object.assign(ctx.task.meta, { reliability: figures })
}
