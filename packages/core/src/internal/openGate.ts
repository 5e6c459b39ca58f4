/**
 * The open gate: whether a new connection may be opened now, and how many at once. It owns the opens in
 * flight, the pause after a failed open, the retry schedule (`openRetry`) and the circuit breaker
 * (`breakerThreshold`, `breakerResetAfter`). It decides; the opener opens.
 *
 * Plain state; the retry schedule's stepper is its one edge into Effect's runtime.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type ConnectionError, PoolUnavailableError } from "../PoolError.js"
import type * as edge from "./edge/effect.js"
import type { ResolvedOptions } from "./options.js"

/**
 * Reconnect pacing: after a failed open, the next one waits a delay that starts at `pacingBaseMillis` and
 * doubles with each failure in a row, up to `pacingCapMillis`, less a random part of up to half (so pools
 * that lost the same server do not retry in step). A successful open resets it. The cap is kept short, so
 * that a pool finds a returned server within half a second.
 */
export const pacingBaseMillis = 50
export const pacingCapMillis = 500

/** The pause after `failures` failed opens in a row, before jitter. */
export const pacingDelayMillis = (failures: number): number =>
  Math.min(pacingCapMillis, pacingBaseMillis * 2 ** Math.min(30, Math.max(0, failures - 1)))

/** What follows a failed open. */
export type AfterFailure =
  /** The breaker opened: nothing opens until `breakerResetAfter`; waiters hear of it now. */
  | "breaker-opened"
  /** A retry is scheduled by `openRetry`: waiters keep waiting for it. */
  | "retry-scheduled"
  /** Opens pause for the pacing delay (growing while failures continue); waiters with nothing open hear of it. */
  | "paused"

export class OpenGate {
  /** Opens in flight. */
  opening = 0
  /**
   * Monotonic time until which opens pause after a failed open (reconnect pacing), so a server that refuses
   * at once is not asked again in a tight loop, whatever the borrowers do; 0 once an open succeeds.
   */
  private pausedUntil = 0
  private wakeScheduled = false
  lastError: ConnectionError | undefined = undefined
  private consecutiveFailures = 0
  /** Monotonic time until which the breaker is open; 0 when closed. Past it, one probe open is let through. */
  private breakerOpenUntil = 0
  private retryScheduled = false
  private readonly breakerResetMillis: number

  constructor(
    private readonly options: ResolvedOptions,
    private readonly monotonicNow: () => number,
    /** Drives `openRetry`'s delays; undefined without one. */
    private readonly retryStepper: edge.ScheduleStepper | undefined,
    private readonly run: (effect: Effect.Effect<unknown>) => edge.RunningFiber
  ) {
    this.breakerResetMillis = Duration.toMillis(options.breakerResetAfter)
  }

  /** The breaker is open and its reset time has not come: no open may start, no borrower may wait. */
  blocks(): boolean {
    return this.breakerOpenUntil !== 0 && this.monotonicNow() < this.breakerOpenUntil
  }

  /**
   * Opens allowed in flight at once (`maxConnecting`): while opens fail (past the breaker's reset time, half
   * open, among them), one at a time, until one succeeds.
   */
  get concurrentOpens(): number {
    return this.consecutiveFailures === 0 ? this.options.maxConnecting : 1
  }

  /** Whether opens pause after a failure (the pacing delay has not passed). */
  get paused(): boolean {
    return this.pausedUntil !== 0 && this.monotonicNow() < this.pausedUntil
  }

  /**
   * The error a borrower arriving now gets at once instead of waiting: during the pause after a failed open,
   * with nothing open or opening and no retry of `openRetry` to wait for, the last open's error.
   */
  refusal(openCount: number): ConnectionError | undefined {
    return openCount === 0 && this.opening === 0 && !this.retryScheduled && this.paused ? this.lastError : undefined
  }

  /** Calls `ready` once the pause ends (one timer at a time), so waiters and `minConnections` are served then. */
  wakeAfterPause(ready: () => void): void {
    if (this.wakeScheduled || !this.paused) return
    this.wakeScheduled = true
    this.run(
      Effect.sleep(Duration.millis(this.pausedUntil - this.monotonicNow())).pipe(
        Effect.ensuring(Effect.sync(() => {
          this.wakeScheduled = false
        })),
        Effect.andThen(Effect.sync(ready))
      )
    )
  }

  /**
   * Whether one more open may start now: not paused, no retry of `openRetry` pending, not blocked, and under
   * the opens allowed at once.
   */
  mayStart(): boolean {
    return !this.paused && !this.retryScheduled && this.opening < this.concurrentOpens && !this.blocks()
  }

  /**
   * A borrower arrived. It is no reason to open sooner: opens after a failure are paced by the pause and
   * `openRetry`'s schedule, not by arrivals (a storm of retrying borrowers would otherwise be a storm of
   * opens against a server that is down).
   */
  borrowerArrived(): void {}

  /** Lifts the pause after a failure (a health tick, or waiters left with nothing open or opening). */
  resume(): void {
    this.pausedUntil = 0
  }

  /** A successful open: the failure streak ends, the breaker closes, the backoff starts over. */
  succeeded(): void {
    this.lastError = undefined
    this.pausedUntil = 0
    this.consecutiveFailures = 0
    this.breakerOpenUntil = 0
    if (this.retryStepper !== undefined) this.run(this.retryStepper.reset)
  }

  failed(error: ConnectionError): AfterFailure {
    this.consecutiveFailures++
    const delay = pacingDelayMillis(this.consecutiveFailures)
    this.pausedUntil = this.monotonicNow() + Math.max(1, Math.round(delay * (1 - Math.random() / 2)))
    this.lastError = error
    if (this.consecutiveFailures >= this.options.breakerThreshold) {
      this.breakerOpenUntil = this.monotonicNow() + this.breakerResetMillis
      return "breaker-opened"
    }
    return this.retryStepper === undefined ? "paused" : "retry-scheduled"
  }

  unavailable(): PoolUnavailableError {
    return new PoolUnavailableError({ reason: "CircuitOpen", pool: this.options.name, lastError: this.lastError })
  }

  /**
   * Waits for the schedule's next delay, then calls `ready` (the pause is lifted); when the schedule is
   * spent, calls `spent` instead.
   */
  scheduleRetry(ready: () => void, spent: () => void): void {
    const stepper = this.retryStepper
    if (this.retryScheduled || stepper === undefined) return
    this.retryScheduled = true
    this.run(
      stepper.next.pipe(
        Effect.matchEffect({
          onFailure: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              spent()
            }),
          onSuccess: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              ready()
            })
        })
      )
    )
  }
}
