/**
 * The opener: starts opens when borrowers wait or `minConnections` are wanted, as far as the open gate
 * allows, and brings each new connection into the lending structure. An open serves whichever borrower
 * comes first, not the one whose arrival started it.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { ConnectionError, isPoolError } from "../PoolError.js"
import { closeScope } from "./connectorCalls.js"
import * as edge from "./edge/effect.js"
import type { Engine } from "./engine.js"
import type { Lifetimes } from "./lifetimes.js"
import type { Observer } from "./observer.js"
import type { OpenGate } from "./openGate.js"
import type { ResolvedOptions } from "./options.js"
import { ConnectionRecord } from "./record.js"
import type { Counters } from "./stats.js"

/**
 * Whether a connector failed with a `ConnectionError` of its own, to pass on as it is. By tag, not
 * `instanceof`: a program loading both the ESM and the CommonJS build has two copies of the class, and a
 * connector built against one must be understood by a pool built against the other.
 */
export const isConnectionError = (u: unknown): u is ConnectionError => isPoolError(u) && u._tag === "ConnectionError"

export class Opener<A> {
  /** Opens in flight, interrupted at shutdown. */
  readonly fibers = new Set<edge.RunningFiber>()
  /**
   * The connector's opens still running, including those the pool gave up on (`openTimeout`, shutdown) that
   * cannot be interrupted: each ends once its connection, if it came, is closed. Shutdown waits for them.
   */
  readonly connecting = new Set<edge.RunningFiber>()
  /** Done when `minConnections` are open, or failed by the first failed open before that (warm-up). */
  readonly warmed = edge.makeDeferred<void, ConnectionError>()
  /** Connections are numbered in the order they open. */
  private nextId = 1

  constructor(
    private readonly options: ResolvedOptions,
    private readonly engine: Engine<A>,
    private readonly gate: OpenGate,
    private readonly lifetimes: Lifetimes<A>,
    private readonly counters: Counters,
    private readonly observer: Observer,
    /** Opens one connection in the given scope. */
    private readonly open: (scope: Scope.Scope) => Effect.Effect<A, unknown>,
    /** An open ended, whichever way: shutdown may be done. */
    private readonly openEnded: () => void
  ) {}

  /** Starts opens for waiters not covered by opens in flight or checks, and up to `minConnections`. */
  openIfNeeded(): void {
    const engine = this.engine
    const gate = this.gate
    // An open may complete or fail synchronously inside `run`, so every condition is checked again on
    // each turn, and the loop is bounded per call as well.
    for (
      let started = 0;
      started < gate.concurrentOpens && !engine.isClosed && gate.mayStart() &&
      engine.openCount + gate.opening < engine.maxConnections;
      started++
    ) {
      const forWaiters = engine.wantedOpens(gate.opening)
      const forMinimum = engine.minConnections - engine.openCount - gate.opening
      if (forWaiters <= 0 && forMinimum <= 0) return
      gate.opening++
      const attempt = { counted: false }
      const fiber = engine.hooks.run(this.openOne(attempt))
      this.fibers.add(fiber)
      // An open interrupted before it ever ran (at shutdown) must still leave `opening`.
      fiber.addObserver(() => {
        this.fibers.delete(fiber)
        if (!attempt.counted) {
          attempt.counted = true
          gate.opening--
          this.openEnded()
        }
      })
    }
  }

  /** A connection closed: with nothing open or opening, waiters would wait for nobody, so try again now. */
  afterClose(): void {
    if (this.engine.waiting > 0 && this.engine.openCount === 0 && this.gate.opening === 0) this.gate.resume()
    this.openIfNeeded()
  }

  private openOne(attempt: { counted: boolean }): Effect.Effect<void> {
    const engine = this.engine
    const startedAt = engine.hooks.monotonicNow()
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Scope.make(), (scope) =>
        // Bounded by `openTimeout`. `disconnect` lets the timeout win even over an open that cannot be
        // interrupted (an `acquireRelease` acquire); if that open completes later, its finalizer meets
        // the closed scope and runs at once.
        restore(
          this.detached(this.open(scope)).pipe(
            edge.timeoutFailAfter(this.options.openTimeout, () =>
              new ConnectionError({
                reason: "OpenTimedOut",
                pool: this.options.name,
                cause: `no connection within ${Duration.format(this.options.openTimeout)}`
              })),
            // A root span: an open serves whichever borrower comes first, not the one whose arrival started it.
            Effect.withSpan("connection-pool.open", { root: true, attributes: { "pool.name": this.options.name } })
          )
        ).pipe(
          Effect.exit,
          Effect.flatMap((exit): Effect.Effect<void> => {
            attempt.counted = true
            this.gate.opening--
            if (Exit.isSuccess(exit)) {
              if (engine.isClosed) return closeScope(this.options.name, undefined, scope)
              const record = new ConnectionRecord(
                this.nextId++,
                exit.value,
                engine.hooks.now(),
                this.lifetimes.lifetimeMillis(),
                scope
              )
              this.observer.opened(record.id, engine.hooks.monotonicNow() - startedAt)
              this.gate.succeeded()
              const closing = engine.admit(record)
              if (engine.openCount >= engine.minConnections) edge.completeDeferred(this.warmed, Exit.void)
              if (closing !== undefined) return closing
              this.openIfNeeded()
              return Effect.void
            }
            // Counted before closing the scope yields, so that no open starts in between.
            this.failed(exit.cause)
            return Effect.andThen(closeScope(this.options.name, undefined, scope, exit), Effect.sync(this.openEnded))
          })
        ))
    )
  }

  /**
   * The connector's open in a fiber of its own, as `Effect.disconnect` runs it: a timeout or an interruption
   * wins at once even over an open that cannot be interrupted (an `acquireRelease` acquire), which is then
   * interrupted in the background. Its fiber is kept in `connecting` until it ends: a connection that comes
   * after all meets its closed scope and is closed at once, and shutdown waits for that.
   */
  private detached(open: Effect.Effect<A, unknown>): Effect.Effect<A, unknown> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(edge.forkDaemon(restore(open)), (fiber) => {
        this.connecting.add(fiber)
        fiber.addObserver(() => this.connecting.delete(fiber))
        return Effect.onInterrupt(restore(Fiber.join(fiber)), () => edge.interruptFork(fiber))
      })
    )
  }

  /**
   * A failed open. With no connection open, nobody will hand one back: every waiter hears of the failure
   * now rather than at its timeout. With connections open, waiters keep waiting for one of them.
   */
  private failed(cause: Cause.Cause<unknown>): void {
    if (edge.isInterruptedOnly(cause)) return
    this.counters.openFailures++
    const failure = Cause.squash(cause)
    const error = isConnectionError(failure)
      ? failure
      : new ConnectionError({ reason: "OpenFailed", pool: this.options.name, cause: failure })
    const next = this.gate.failed(error)
    this.observer.openFailed(error)
    edge.completeDeferred(this.warmed, Exit.fail(error))
    switch (next) {
      case "breaker-opened":
        return this.engine.failWaiters(this.gate.unavailable())
      case "retry-scheduled":
        // Waiters keep waiting: the next open comes after the schedule's delay; once the schedule is spent,
        // waiters with nothing open hear of the failure now.
        this.gate.wakeAfterPause(() => this.openIfNeeded())
        return this.gate.scheduleRetry(() => this.openIfNeeded(), () => this.failWaitersIfNothingOpen())
      case "paused":
        // The next open comes when the pause ends (reconnect pacing), for waiters left or `minConnections`.
        this.gate.wakeAfterPause(() => this.openIfNeeded())
        return this.failWaitersIfNothingOpen()
    }
  }

  private failWaitersIfNothingOpen(): void {
    const lastError = this.gate.lastError
    if (this.engine.openCount === 0 && this.gate.opening === 0 && lastError !== undefined) {
      this.engine.failWaiters(lastError)
    }
  }
}
