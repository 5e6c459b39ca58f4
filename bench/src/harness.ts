/**
 * Measuring helpers: every contender of a scenario runs in the same process, alternating round by round
 * after a warm-up round, and each figure is the median of its rounds.
 */
import { Effect } from "effect"

/** A way to borrow a connection of type `C`, run `work` with it and give it back. */
export interface Contender<C> {
  readonly name: string
  readonly borrow: <A, E, R>(work: (connection: C) => Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R>
}

/** How peers open and close connections: promise functions, which Effect contenders wrap. */
export interface Factory<C> {
  readonly create: () => Promise<C>
  readonly destroy: (connection: C) => Promise<void>
  /** How many connections were created so far. */
  readonly created: () => number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Runs `body` `times` times in a row, without building an array of effects. */
export const repeatN = <E, R>(times: number, body: Effect.Effect<unknown, E, R>): Effect.Effect<void, E, R> =>
  Effect.suspend(() => {
    let done = 0
    return Effect.whileLoop({ while: () => done++ < times, body: () => body, step: () => {} })
  })

/**
 * Operations per second of `concurrency` fibers each running `borrow` the same number of times, `total` in
 * all.
 */
export const throughput = <E, R>(
  concurrency: number,
  total: number,
  borrow: Effect.Effect<unknown, E, R>
): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const perFiber = Math.max(1, Math.floor(total / concurrency))
    const start = performance.now()
    return Effect.forEach(
      Array.from({ length: concurrency }),
      () => repeatN(perFiber, borrow),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.map(() => (perFiber * concurrency) / ((performance.now() - start) / 1000)))
  })

/**
 * Measures each named contender with `measure`, alternating: one warm-up round, then `rounds` rounds;
 * returns the median of each contender's rounds.
 */
export const alternate = <K extends string, E, R>(
  names: ReadonlyArray<K>,
  rounds: number,
  measure: (name: K) => Effect.Effect<number, E, R>
): Effect.Effect<Record<K, number>, E, R> =>
  Effect.gen(function*() {
    const samples = Object.fromEntries(names.map((name) => [name, [] as Array<number>])) as Record<K, Array<number>>
    for (let round = 0; round <= rounds; round++) {
      for (const name of names) {
        const value = yield* measure(name)
        if (round > 0) samples[name].push(value)
      }
    }
    return Object.fromEntries(names.map((name) => [name, median(samples[name])])) as Record<K, number>
  })

/** A factory of plain objects that open after `openDelayMillis` (0: at once). */
export const objectFactory = (openDelayMillis = 0): Factory<{ readonly id: number }> => {
  let created = 0
  return {
    create: () =>
      openDelayMillis === 0
        ? Promise.resolve({ id: ++created })
        : new Promise((resolve) => setTimeout(() => resolve({ id: ++created }), openDelayMillis)),
    destroy: () => Promise.resolve(),
    created: () => created
  }
}

export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with node --expose-gc (pnpm bench does)")
  collect()
  collect()
}

export const heapUsed = (): number => {
  gc()
  return process.memoryUsage().heapUsed
}
