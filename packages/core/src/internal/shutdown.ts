/**
 * Shutdown: stops lending, ends the opens in flight, and completes when every connection the pool opened, or
 * was opening, is closed; past `shutdownTimeout`, it interrupts the borrowers still holding a connection, and
 * leaves opens that cannot be interrupted to finish on their own (their connections are closed as they come).
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as edge from "./edge/effect.js"
import type { Engine } from "./engine.js"
import type { Opener } from "./opener.js"
import type { OpenGate } from "./openGate.js"
import type { ResolvedOptions } from "./options.js"
import type { ConnectionRecord } from "./record.js"
import * as Retire from "./retire.js"
import type { Counters } from "./stats.js"

export class Shutdown<A> {
  /** Done once the pool is closed, with nothing open and nothing opening. */
  private readonly drained = edge.makeDeferred<void>()

  constructor(
    private readonly options: ResolvedOptions,
    private readonly engine: Engine<A>,
    private readonly gate: OpenGate,
    private readonly counters: Counters
  ) {}

  checkDrained(): void {
    if (this.engine.isClosed && this.engine.openCount === 0 && this.gate.opening === 0) {
      edge.completeDeferred(this.drained, Exit.void)
    }
  }

  /**
   * Stops lending, fails every waiter with `PoolClosedError`, closes idle connections now and lent ones
   * as they come back, and completes when every connection is closed.
   */
  run(opener: Opener<A>): Effect.Effect<void> {
    return Effect.suspend(() =>
      Retire.stopLending(this.engine).pipe(
        Effect.andThen(Fiber.interruptAll(Array.from(opener.fibers))),
        Effect.andThen(Effect.sync(() => this.checkDrained())),
        // The opens are awaited beside; the returns in this fiber, which may be a borrower closing its own pool.
        Effect.andThen(edge.forkChild(this.awaitOpens(opener))),
        Effect.flatMap((opens) => Effect.andThen(this.awaitReturns, Fiber.join(opens)))
      )
    )
  }

  /**
   * Waits for the connector's opens still running (interrupted above, or given up earlier but not
   * interruptible): each ends once its connection, if it came, is closed. At most `shutdownTimeout`, or
   * `openTimeout` when that is infinite (such an open was given up already); then logs how many are left.
   */
  private awaitOpens(opener: Opener<A>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const running = Array.from(opener.connecting)
      if (running.length === 0) return Effect.void
      const bound = Duration.isFinite(this.options.shutdownTimeout)
        ? this.options.shutdownTimeout
        : this.options.openTimeout
      // Interruptible: shutdown runs in a finalizer, where an uninterruptible wait could not lose the race.
      return Effect.interruptible(Fiber.awaitAll(running)).pipe(
        Effect.timeoutOption(bound),
        Effect.flatMap((ended) =>
          Option.isSome(ended) ? Effect.void : Effect.logWarning(
            `${opener.connecting.size} open(s) could not be interrupted and did not end within ${
              Duration.format(bound)
            }: left to finish (a connection that comes is closed at once)`
          ).pipe(Effect.annotateLogs({ pool: this.options.name }))
        )
      )
    })
  }

  /**
   * Waits for lent connections to come back, at most `shutdownTimeout`; then interrupts the borrowers
   * still holding one (they give it back as they end) and waits for those.
   */
  private get awaitReturns(): Effect.Effect<void> {
    const drained = Deferred.await(this.drained)
    if (!Duration.isFinite(this.options.shutdownTimeout)) return drained
    // Interruptible: shutdown runs in a finalizer, where an uninterruptible wait could not lose the race.
    return Effect.interruptible(drained).pipe(
      Effect.timeoutOption(this.options.shutdownTimeout),
      Effect.flatMap((returned) =>
        Option.isSome(returned) ? Effect.void : Effect.andThen(this.interruptBorrowers, drained)
      )
    )
  }

  private readonly interruptBorrowers: Effect.Effect<void> = edge.withCurrentFiber((closingFiber) => {
    const borrowers: Array<edge.RunningFiber> = []
    // A borrower may be the very fiber closing the pool (it closed the pool's scope inside `use`): it cannot
    // give its connection back before the close ends, so the connection is closed under it. Its late return
    // finds the connection retired and does nothing more.
    const heldByClosingFiber: Array<ConnectionRecord<A>> = []
    for (const record of this.engine.records.values()) {
      if (record.state !== "in-use") continue
      // shared lending: every loan's borrower, each interrupted on its own
      const holders = record.holders ?? [record]
      for (const { borrowerFiber } of holders) {
        if (borrowerFiber === undefined) continue
        if (borrowerFiber === closingFiber) {
          if (!heldByClosingFiber.includes(record)) heldByClosingFiber.push(record)
        } else borrowers.push(borrowerFiber)
      }
    }
    this.counters.interruptedAtShutdown += borrowers.length + heldByClosingFiber.length
    return Effect.logWarning(
      `shutdownTimeout (${Duration.format(this.options.shutdownTimeout)}) passed: interrupting ${
        borrowers.length + heldByClosingFiber.length
      } borrower(s)`
    ).pipe(
      Effect.annotateLogs({ pool: this.options.name }),
      // not awaited: they give their connections back as they end
      Effect.andThen(Effect.forEach(borrowers, (fiber) => edge.interruptFork(fiber), { discard: true })),
      Effect.andThen(
        Effect.forEach(heldByClosingFiber, (record) => Retire.underBorrower(this.engine, record), { discard: true })
      )
    )
  })
}
