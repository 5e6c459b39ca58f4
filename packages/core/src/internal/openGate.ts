/**
 * The open gate: whether a new connection may be opened now, and how many at once. It owns the opens in
 * flight, the pause after a failed open, the retry schedule (`openRetry`) and the circuit breaker
 * (`breakerThreshold`, `breakerResetAfter`). It decides; the opener opens.
 *
 * Plain state; the retry schedule's driver is its one edge into Effect's runtime.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Schedule from "effect/Schedule"
import { type ConnectionError, PoolUnavailableError } from "../PoolError.js"
import type { ResolvedOptions } from "./options.js"

/**
 * The most opens in flight at once. Opening one at a time or two at a time, as HikariCP does, lets
 * returned connections serve a burst of borrowers before new ones are needed: 50 borrowers with 2 ms of
 * work do not need 50 connections that each take 150 ms to open.
 */
const maxConcurrentOpens = 2

/** What follows a failed open. */
export type AfterFailure =
  /** The breaker opened: nothing opens until `breakerResetAfter`; waiters hear of it now. */
  | "breaker-opened"
  /** A retry is scheduled by `openRetry`: waiters keep waiting for it. */
  | "retry-scheduled"
  /** Opens pause until a borrower arrives or the next health tick. */
  | "paused"

export class OpenGate {
  /** Opens in flight. */
  opening = 0
  /**
   * Set when an open fails, so a server that refuses at once is not asked again in a tight loop; cleared
   * when a borrower arrives, on the next health tick, or when an open succeeds.
   */
  paused = false
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
    private readonly retryDriver: Schedule.ScheduleDriver<unknown, unknown> | undefined,
    private readonly run: (effect: Effect.Effect<unknown>) => Fiber.RuntimeFiber<unknown>
  ) {
    this.breakerResetMillis = Duration.toMillis(options.breakerResetAfter)
  }

  /** The breaker is open and its reset time has not come: no open may start, no borrower may wait. */
  blocks(): boolean {
    return this.breakerOpenUntil !== 0 && this.monotonicNow() < this.breakerOpenUntil
  }

  /** Opens allowed in flight at once: past the breaker's reset time (half open), one probe at a time. */
  get concurrentOpens(): number {
    return this.breakerOpenUntil === 0 ? maxConcurrentOpens : 1
  }

  /** Whether one more open may start now: not paused, not blocked, and under the opens allowed at once. */
  mayStart(): boolean {
    return !this.paused && this.opening < this.concurrentOpens && !this.blocks()
  }

  /**
   * A borrower's arrival is a reason to try again, unless a backoff delay is running: then it waits for
   * the scheduled retry, so that opens stay bounded by the schedule, not by arrivals.
   */
  borrowerArrived(): void {
    if (!this.retryScheduled) this.paused = false
  }

  /** Lifts the pause after a failure (a health tick, or waiters with nothing open or opening). */
  resume(): void {
    this.paused = false
  }

  /** A successful open: the failure streak ends, the breaker closes, the backoff starts over. */
  succeeded(): void {
    this.lastError = undefined
    this.paused = false
    this.consecutiveFailures = 0
    this.breakerOpenUntil = 0
    if (this.retryDriver !== undefined) this.run(this.retryDriver.reset)
  }

  failed(error: ConnectionError): AfterFailure {
    this.consecutiveFailures++
    this.paused = true
    this.lastError = error
    if (this.consecutiveFailures >= this.options.breakerThreshold) {
      this.breakerOpenUntil = this.monotonicNow() + this.breakerResetMillis
      return "breaker-opened"
    }
    return this.retryDriver === undefined ? "paused" : "retry-scheduled"
  }

  unavailable(): PoolUnavailableError {
    return new PoolUnavailableError({ reason: "CircuitOpen", pool: this.options.name, lastError: this.lastError })
  }

  /**
   * Waits for the schedule's next delay, then calls `ready` (the pause is lifted); when the schedule is
   * spent, calls `spent` instead.
   */
  scheduleRetry(ready: () => void, spent: () => void): void {
    const driver = this.retryDriver
    if (this.retryScheduled || driver === undefined) return
    this.retryScheduled = true
    this.run(
      driver.next(undefined).pipe(
        Effect.matchEffect({
          onFailure: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              spent()
            }),
          onSuccess: () =>
            Effect.sync(() => {
              this.retryScheduled = false
              this.paused = false
              ready()
            })
        })
      )
    )
  }
}
