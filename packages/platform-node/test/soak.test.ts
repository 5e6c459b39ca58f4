/**
 * Soak: long-running worker loops of every common shape (`Effect.forever`, `Effect.repeat` with a `Schedule`, a
 * recursive `Effect.flatMap`, a `while` loop in `Effect.gen`, a `Stream`) borrow under contention: 16 fibers, 4
 * connections. Each shape runs against an in-memory connector, for the count of borrows, and against a real IPC
 * server, for real requests whose every reply is checked. The heap (after a full collection) and the open file
 * descriptors are sampled twelve times along the way.
 *
 * What must hold, per shape: the heap grows by less than 5 MB per 1,000,000 borrows, judged by the slope of the
 * samples (see `slopeLimit` for how a short run is judged); the file descriptors are the same at every sample and
 * back to where they started once the pool has closed; every connection was closed, as the other side sees it, and
 * none was opened beyond the pool's size.
 *
 * Under `RELIABILITY=full` each shape does 1,000,000 borrows in memory and 100,000 IPC requests; by default 20,000
 * and 4,000.
 *
 * Two findings in Effect itself (3.22.4), each with its reproduction and workaround here: one loop shape leaks (see
 * `genRecursion` and the last test), and fibers handing connections to one another never let the event loop turn
 * (see `nextTurn`).
 */
import { ConnectionPool, Connector } from "@connection-pool/core"
import { IpcPool, IpcServer } from "@connection-pool/platform-node"
import { bySize, eventually } from "@connection-pool/test-kit"
import { inScope, yieldNow } from "@connection-pool/test-kit/internal/edge/effect"
import { callback, makeFiberCounter, repeatEffectStream } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit, Schedule, Scope, Stream } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { bytes, openFds, tempSocketPath, text } from "./utils.js"

const size = bySize({ borrows: 20_000, requests: 4_000 }, { borrows: 1_000_000, requests: 100_000 })
const fibers = 16
const connections = 4
const samples = 12
const MB = 1024 * 1024
/** The budget: heap growth under 5 MB per 1,000,000 borrows. */
const budgetBytesPerBorrow = (5 * MB) / 1_000_000

/**
 * How far the heap after a full collection still moves between samples, whatever the loop does: code being optimised
 * (most of it early on), buffers of the test runner. Over a span of `n` borrows a slope below `noise / n` cannot be
 * told from that. In memory it is about 256 KB. Over IPC it is about twice that: the server shares the heap, with
 * the sockets' wrappers and buffers, and the request path takes longer to settle (the `Stream.mapEffect` shape grows
 * by up to 300 KB over its first 20,000 requests, then levels off: it was flat over 300,000).
 */
const heapNoise = { inMemory: 256 * 1024, ipc: 512 * 1024 }

/**
 * The slope a run must stay under: the budget, or the finest slope the run can resolve if that is coarser. The
 * million-borrow runs (`RELIABILITY=full`) resolve about 0.4 bytes per borrow and must meet the budget as it is. The
 * default in-memory runs resolve about 18 bytes per borrow, the IPC runs about 190 per request by default and 7.5
 * under `RELIABILITY=full`: enough to catch whatever keeps an object per borrow (the leaking shape of the last test
 * keeps about 300 bytes), while a leak of a few bytes per borrow is left to the million-borrow runs.
 */
const slopeLimit = (span: number, noise: number): number => Math.max(budgetBytesPerBorrow, noise / span)

// ---- measuring ---------------------------------------------------------------------------------------------------

/**
 * A full collection. vitest.config.ts starts the test workers with `--expose-gc` (`poolOptions.forks.execArgv`), so
 * `global.gc` is there; run some other way, V8's flag is set here instead and the collector taken from a fresh
 * context (what the expose-gc package does), so every figure is still taken after a full collection rather than
 * from a heap full of garbage.
 */
const collectGarbage: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

/** The heap in use after a full collection. */
const heapAfterGc = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

interface Sample {
  readonly borrows: number
  readonly heap: number
  readonly fds: number
  readonly waiting: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * The slope of the heap over the borrows, in bytes per borrow: the median of the slopes between every two samples
 * (Theil-Sen), so that one sample taken while a burst of objects was alive (replies being decoded, code being
 * compiled) does not tilt it as it would tilt a least-squares fit.
 */
const heapSlope = (points: ReadonlyArray<Sample>): number => {
  const slopes: Array<number> = []
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      slopes.push((points[j]!.heap - points[i]!.heap) / (points[j]!.borrows - points[i]!.borrows))
    }
  }
  return median(slopes)
}

/** The growth of the heap from the first samples to the last (medians of three at each end). */
const heapGrowth = (points: ReadonlyArray<Sample>): number =>
  median(points.slice(-3).map((point) => point.heap)) - median(points.slice(0, 3).map((point) => point.heap))

/**
 * Waits for the event loop to turn. Effect 3.22.4's scheduler keeps its guard against starving the event loop (a
 * macrotask after 2,048 microtask drains) per fiber, since 3.20. Fibers that hand connections to one another each
 * drain their own queue empty between hand-offs, so the guard never trips: a contended loop with no I/O runs in
 * microtasks from start to end, no timer fires and nothing is read from any socket (here: vitest's worker misses the
 * 60-second deadline of its calls to the main process, and the run fails with an unhandled error). It is not the
 * pool's doing; the reproduction, with no pool:
 *
 * ```ts
 * const ping = yield* Queue.unbounded<number>()
 * const pong = yield* Queue.unbounded<number>()
 * yield* Effect.all([
 *   Effect.forever(Effect.zipRight(Queue.offer(ping, 1), Queue.take(pong))),
 *   Effect.forever(Effect.zipRight(Queue.take(ping), Queue.offer(pong, 1)))
 * ], { concurrency: "unbounded" }) // a setInterval started before never fires again
 * ```
 *
 * So every worker parks after each 1,000 of its own borrows. The workers progress together (the hand-off is first
 * come, first served), so they park at about the same time; once the last has, the microtask queue is empty, the
 * event loop turns (about every half second here), and one `setImmediate` resumes them all at once. (Resuming each
 * from its own `setImmediate` would not do: Node drains the microtasks after each one, so the first worker resumed
 * would run its next 1,000 borrows alone, then the second, and the contention would be gone.) Only the in-memory
 * runs need this; a request over IPC waits for its socket, which turns the event loop anyway.
 */
const parked: Array<(resume: Effect.Effect<void>) => void> = []
const nextTurn: Effect.Effect<void> = callback<void>((resume) => {
  parked.push(resume)
  if (parked.length === 1) {
    setImmediate(() => {
      for (const resumeParked of parked.splice(0)) resumeParked(Effect.void)
    })
  }
})
const borrowsOfThisFiber = makeFiberCounter()
const takeTurns: Effect.Effect<void> = Effect.flatMap(
  borrowsOfThisFiber,
  (borrows) => borrows % 1_000 === 0 ? nextTurn : Effect.void
)

/**
 * Counts borrows and takes `samples` samples between 20% and 90% of `total`: the first fifth warms up (code
 * optimised, every connection open), and by the end fibers finish one by one, freeing their state. Each sample is
 * taken by the fiber whose borrow reached the mark, so no sampler fiber competes with the workers.
 */
const makeMeter = (total: number, waiting: Effect.Effect<number>) => {
  const marks = Array.from({ length: samples }, (_, k) => Math.round(total * (0.2 + (0.7 * k) / (samples - 1))))
  const taken: Array<Sample> = []
  let borrows = 0
  const sample = Effect.flatMap(waiting, (waiting) =>
    Effect.sync(() => {
      taken.push({ borrows, heap: heapAfterGc(), fds: openFds(), waiting })
    }))
  const count: Effect.Effect<void> = Effect.suspend(() => ++borrows === marks[taken.length] ? sample : Effect.void)
  return { count, taken, borrows: () => borrows }
}

// ---- the loop shapes ---------------------------------------------------------------------------------------------

class QuotaReached extends Data.TaggedError("QuotaReached")<{ readonly reason: "QuotaReached" }> {}

interface Shape {
  readonly name: string
  /** Runs `fibers` workers, each of which borrows `perFiber` times through `borrow`. */
  readonly run: <E>(borrow: Effect.Effect<void, E>, perFiber: number) => Effect.Effect<void, E>
}

const inFibers = <E>(worker: () => Effect.Effect<void, E>): Effect.Effect<void, E> =>
  Effect.forEach(Array.from({ length: fibers }), worker, { concurrency: "unbounded", discard: true })

const forever: Shape = {
  name: "Effect.forever",
  // A forever loop ends only by failing (or by interruption): here with its quota.
  run: (borrow, perFiber) =>
    inFibers(() => {
      let left = perFiber
      const step = Effect.andThen(
        borrow,
        Effect.suspend(() => --left === 0 ? Effect.fail(new QuotaReached({ reason: "QuotaReached" })) : Effect.void)
      )
      return Effect.catchTag(Effect.forever(step), "QuotaReached", () => Effect.void)
    })
}

const repeat: Shape = {
  name: "Effect.repeat(Schedule.recurs)",
  run: (borrow, perFiber) => inFibers(() => Effect.asVoid(Effect.repeat(borrow, Schedule.recurs(perFiber - 1))))
}

const recursive: Shape = {
  name: "recursive Effect.flatMap",
  // The continuation is in tail position: each step's frame is gone before the next one starts.
  run: <E>(borrow: Effect.Effect<void, E>, perFiber: number) => {
    const loop = (left: number): Effect.Effect<void, E> =>
      left === 0 ? Effect.void : Effect.flatMap(borrow, () => loop(left - 1))
    return inFibers(() => loop(perFiber))
  }
}

const genLoop: Shape = {
  name: "Effect.gen while loop",
  run: (borrow, perFiber) =>
    inFibers(() =>
      Effect.gen(function*() {
        for (let i = 0; i < perFiber; i++) yield* borrow
      })
    )
}

const mergedStreams: Shape = {
  name: "Stream.repeatEffect, merged",
  run: (borrow, perFiber) =>
    Stream.runDrain(
      Stream.mergeAll(Array.from({ length: fibers }, () => Stream.take(repeatEffectStream(borrow), perFiber)), {
        concurrency: fibers
      })
    )
}

/**
 * A stream of jobs each borrowing, `fibers` at a time: the usual way to work through a stream with a pool. Its
 * bookkeeping per element (a fiber, a deferred, a queue offer) makes it several times slower than the other shapes,
 * so the million-borrow runs use the merged `Stream.repeatEffect` above and this one runs the IPC requests.
 */
const mappedStream: Shape = {
  name: "Stream.mapEffect, concurrent",
  run: (borrow, perFiber) =>
    Stream.runDrain(Stream.mapEffect(Stream.range(1, fibers * perFiber), () => borrow, { concurrency: fibers }))
}

/**
 * The shape that leaks, in Effect itself (effect 3.22.4). Its minimal reproduction, with no pool at all:
 *
 * ```ts
 * const step = Effect.sync(() => {})
 * const loop: Effect.Effect<void> = Effect.gen(function*() {
 *   yield* step
 *   yield* loop // not a tail call
 * })
 * Effect.runFork(loop) // the heap grows by about 300 bytes per iteration, for as long as it runs
 * ```
 *
 * `yield* loop` runs the inner loop inside the outer generator, which stays suspended until the inner one returns.
 * Effect makes that stack-safe by keeping every suspended generator and its continuation on the heap instead of the
 * stack, so nothing is freed while the loop runs: about 300 bytes per iteration written as above, about 1 KB written
 * `return yield* loop(n - 1)` (a new generator per call). The workaround is any of the shapes above:
 * `Effect.forever(step)`, `Effect.repeat(step, schedule)`, a `while` loop inside one `Effect.gen`, or recursion
 * through `Effect.flatMap(step, () => loop)` or `Effect.zipRight(step, Effect.suspend(() => loop))`, whose
 * continuation is in tail position.
 */
const genRecursion: Shape = {
  name: "recursive Effect.gen (yield* itself)",
  run: <E>(borrow: Effect.Effect<void, E>, perFiber: number) =>
    inFibers(() => {
      let left = perFiber
      const loop: Effect.Effect<void, E> = Effect.gen(function*() {
        yield* borrow
        if (--left > 0) yield* loop
      })
      return loop
    })
}

/** Enough for the leak to stand far above what the run can resolve, at either size. */
const leakingBorrows = 20_000

// ---- the runs ----------------------------------------------------------------------------------------------------

interface SoakReport {
  readonly borrows: number
  readonly samples: ReadonlyArray<Sample>
  readonly bytesPerBorrow: number
  readonly heapDelta: number
  readonly fdsBefore: number
  readonly fdsAfter: number
  readonly stats: ConnectionPool.PoolStats
  /** Connections still open on the other side (the connector's count, or the server's) once the pool closed. */
  readonly leftOpen: number
  readonly wrongReplies: number
  readonly heapNoise: number
}

/** What the pool talks to: made before the pool, and still there after it closed, to count what it left open. */
interface Subject<E> {
  readonly makePool: Effect.Effect<
    { readonly pool: ConnectionPool.ConnectionPool<unknown>; readonly borrow: Effect.Effect<void, E> },
    unknown,
    Scope.Scope
  >
  /** Connections open on the other side now. */
  readonly open: Effect.Effect<number>
  readonly wrongReplies: () => number
  /** See `heapNoise`. */
  readonly heapNoise: number
}

/** Sizes the run to a whole number of borrows per fiber, runs it and measures it. */
const measure = <E>(
  shape: Shape,
  total: number,
  subject: (count: Effect.Effect<void>) => Effect.Effect<Subject<E>, unknown, Scope.Scope>
) =>
  Effect.gen(function*() {
    const perFiber = Math.ceil(total / fibers)
    const fdsBefore = openFds()
    let waiting: Effect.Effect<number> = Effect.succeed(0)
    const meter = makeMeter(perFiber * fibers, Effect.suspend(() => waiting))
    const { heapNoise, leftOpen, stats, wrongReplies } = yield* Effect.scoped(Effect.gen(function*() {
      const { heapNoise, makePool, open, wrongReplies } = yield* subject(meter.count)
      const poolScope = yield* Scope.make()
      const { borrow, pool } = yield* inScope(makePool, poolScope)
      waiting = Effect.map(pool.stats, (stats) => stats.waiting)
      yield* shape.run(borrow, perFiber)
      const stats = yield* pool.stats
      yield* Scope.close(poolScope, Exit.void)
      // A server sees its connections close a moment after the pool closed them.
      yield* eventually(() => Effect.map(open, (n) => n === 0), "the other side to see every connection closed").pipe(
        Effect.ignore
      )
      return { heapNoise, leftOpen: yield* open, stats, wrongReplies: wrongReplies() }
    }))
    // Sockets close asynchronously too.
    yield* eventually(() => openFds() === fdsBefore, "the file descriptors to be closed").pipe(Effect.ignore)
    const measured = meter.taken
    return {
      borrows: meter.borrows(),
      samples: measured,
      bytesPerBorrow: heapSlope(measured),
      heapDelta: heapGrowth(measured),
      fdsBefore,
      fdsAfter: openFds(),
      stats,
      leftOpen,
      wrongReplies,
      heapNoise
    } satisfies SoakReport
  })

/** An in-memory connection: opening, closing and using it cost nothing but the pool's own work. */
const inMemory = (count: Effect.Effect<void>): Effect.Effect<Subject<ConnectionPool.BorrowError>> =>
  Effect.sync(() => {
    let open = 0
    const connector = Connector.make({
      open: Effect.acquireRelease(
        Effect.sync(() => {
          open++
          return { uses: 0 }
        }),
        () =>
          Effect.sync(() => {
            open--
          })
      )
    })
    const makePool = Effect.map(ConnectionPool.make(connector, { maxConnections: connections }), (pool) => ({
      pool: pool as ConnectionPool.ConnectionPool<unknown>,
      // The borrower yields while holding its connection, so that the other fibers run meanwhile and wait for one.
      borrow: Effect.andThen(
        pool.use((connection) =>
          Effect.andThen(
            yieldNow,
            Effect.sync(() => {
              connection.uses++
            })
          )
        ),
        Effect.andThen(count, takeTurns)
      )
    }))
    return { makePool, open: Effect.sync(() => open), wrongReplies: () => 0, heapNoise: heapNoise.inMemory }
  })

/** A real IPC server in this process; each borrow is a request with its own payload, whose reply is checked. */
const overIpc = (count: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const path = yield* tempSocketPath("soak")
    const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler })
    let sent = 0
    let wrongReplies = 0
    // exclusive lending: the soak is about borrowers contending for connections
    const makePool = Effect.map(IpcPool.make({ path }, { maxConnections: connections, concurrency: 1 }), (pool) => ({
      pool: pool as ConnectionPool.ConnectionPool<unknown>,
      borrow: Effect.suspend(() => {
        const payload = `request ${++sent}`
        return IpcPool.request(pool, bytes(payload)).pipe(
          Effect.map((reply) => {
            if (text(reply) !== payload) wrongReplies++
          }),
          Effect.andThen(count)
        )
      })
    }))
    return {
      makePool,
      open: server.openConnections,
      wrongReplies: () => wrongReplies,
      heapNoise: heapNoise.ipc
    } satisfies Subject<unknown>
  })

const toMB = (bytes: number) => Math.round((bytes / MB) * 1000) / 1000

/** The borrows between the first sample and the last. */
const span = (report: SoakReport): number =>
  report.samples[report.samples.length - 1]!.borrows - report.samples[0]!.borrows

/** What must hold for every shape. */
const assertFlat = (report: SoakReport) => {
  const first = report.samples[0]!
  assert.strictEqual(report.samples.length, samples)
  // Contention: fibers were waiting for a connection while others held them.
  assert.isAbove(Math.max(...report.samples.map((sample) => sample.waiting)), 0, "borrowers waited for connections")
  assert.isBelow(
    report.bytesPerBorrow,
    slopeLimit(span(report), report.heapNoise),
    "heap slope under 5 MB per 1,000,000 borrows"
  )
  assert.isBelow(report.heapDelta, 5 * MB, "heap growth from the first samples to the last")
  for (const sample of report.samples) assert.strictEqual(sample.fds, first.fds, "file descriptors flat")
  assert.strictEqual(report.fdsAfter, report.fdsBefore, "file descriptors back to where they started")
  assert.strictEqual(report.stats.created, connections, "no connection opened beyond the pool's size")
  assert.strictEqual(report.stats.inUse, 0)
  assert.strictEqual(report.stats.waiting, 0)
  assert.strictEqual(report.leftOpen, 0, "every connection closed, as the other side sees it")
  assert.strictEqual(report.wrongReplies, 0)
}

/** The figures of the reliability report. */
const figures = (family: string, shape: Shape, report: SoakReport, connector: "in-memory" | "IPC") => ({
  family,
  did: { shape: `${shape.name} (${connector})`, borrows: report.borrows, fibers, connections, samples },
  held: {
    heapDeltaMB: toMB(report.heapDelta),
    heapPerMillionBorrowsMB: toMB(report.bytesPerBorrow * 1_000_000),
    slopeLimitPerMillionBorrowsMB: toMB(slopeLimit(span(report), report.heapNoise) * 1_000_000),
    fdDelta: report.fdsAfter - report.fdsBefore,
    fdSpread: Math.max(...report.samples.map((sample) => sample.fds)) -
      Math.min(...report.samples.map((sample) => sample.fds)),
    connectionsLeaked: report.leftOpen,
    connectionsChurned: report.stats.created - connections,
    wrongReplies: report.wrongReplies
  }
})

const timeout = bySize(60_000, 300_000)

describe("soak: worker loops of every shape borrow under contention; heap and file descriptors stay flat", () => {
  describe(`in memory, ${size.borrows.toLocaleString("en-US")} borrows per shape`, () => {
    for (const shape of [forever, repeat, recursive, genLoop, mergedStreams]) {
      it.live(shape.name, (ctx) =>
        Effect.gen(function*() {
          const report = yield* measure(shape, size.borrows, inMemory)
          const recorded = figures("Soak", shape, report, "in-memory")
          console.log(`soak ${recorded.did.shape}:`, JSON.stringify(recorded.held))
          assert.isAtLeast(report.borrows, size.borrows)
          assertFlat(report)
          Object.assign(ctx.task.meta, { reliability: recorded })
        }), timeout)
    }
  })

  describe(`over IPC, ${size.requests.toLocaleString("en-US")} requests per shape`, () => {
    for (const shape of [forever, repeat, recursive, genLoop, mappedStream]) {
      it.live(shape.name, (ctx) =>
        Effect.gen(function*() {
          const report = yield* measure(shape, size.requests, overIpc)
          const recorded = figures("Soak", shape, report, "IPC")
          console.log(`soak ${recorded.did.shape}:`, JSON.stringify(recorded.held))
          assert.isAtLeast(report.borrows, size.requests)
          assertFlat(report)
          Object.assign(ctx.task.meta, { reliability: recorded })
        }), timeout)
    }
  })

  describe("a shape that leaks in Effect itself", () => {
    it.live(
      "recursive Effect.gen (yield* itself): the heap grows with every borrow, and the measurement says so",
      (ctx) =>
        Effect.gen(function*() {
          const report = yield* measure(genRecursion, leakingBorrows, inMemory)
          const recorded = figures(
            "Soak: a shape that leaks in Effect (see soak.test.ts)",
            genRecursion,
            report,
            "in-memory"
          )
          console.log(`soak ${recorded.did.shape}:`, JSON.stringify(recorded.held))
          // The same measurement that passes the other shapes fails this one, by far: it can fail. Should this start
          // failing, Effect no longer keeps the generators, and the caveat above can go.
          assert.isAbove(report.bytesPerBorrow, 5 * slopeLimit(span(report), report.heapNoise))
          assert.isAbove(report.heapDelta, 1 * MB)
          // The pool itself holds: it is the loop that keeps its generators.
          assert.strictEqual(report.fdsAfter, report.fdsBefore)
          assert.strictEqual(report.stats.created, connections)
          assert.strictEqual(report.leftOpen, 0)
          Object.assign(ctx.task.meta, {
            reliability: {
              ...recorded,
              did: {
                ...recorded.did,
                workaround: "Effect.forever, Effect.repeat, a while loop in Effect.gen, or Effect.flatMap recursion"
              }
            }
          })
        }),
      timeout
    )
  })
})
