/**
 * Loans: the borrow pipeline (take an idle connection or wait, validate, note the borrower, time it) and
 * the way back (a borrower's fault counted against the connection, then recycled or retired). Each loan
 * has a handle of its own; the hot path is one uninterruptible region in which only the wait for a
 * connection and the user's effect are interruptible (`restore`), so a borrower interrupted anywhere
 * returns what it holds.
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { BorrowError, PooledConnection } from "../ConnectionPool.js"
import { ReleasedHandleError } from "../PoolError.js"
import type { Checks } from "./checks.js"
import * as edge from "./edge/effect.js"
import type { Engine, Restore } from "./engine.js"
import type { ResolvedOptions } from "./options.js"
import { ConnectionRecord } from "./record.js"

const borrowSpanName = "connection-pool.borrow"

/** One loan of a connection: returning it twice, or after a later loan began, does nothing. */
export class Loan<A> implements PooledConnection<A> {
  returned = false
  constructor(private readonly loans: Loans<A>, readonly record: ConnectionRecord<A>) {}
  get id() {
    return this.record.id
  }
  get connection() {
    // once returned, the connection may be someone else's: the handle no longer reaches it
    if (this.returned) {
      throw new ReleasedHandleError({
        reason: "UsedAfterRelease",
        pool: this.loans.options.name,
        connectionId: this.record.id
      })
    }
    return this.record.connection
  }
  get createdAt() {
    return this.record.createdAt
  }
  get lastUsedAt() {
    return this.record.lastUsedAt
  }
  get healthScore() {
    return this.record.healthScore
  }
  get errorCount() {
    return this.record.errorCount
  }
  get useCount() {
    return this.record.useCount
  }
  get release(): Effect.Effect<void> {
    return this.loans.giveBack(this, undefined)
  }
  get invalidate(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.returned) this.record.invalidated = true
    })
  }
}

export class Loans<A> {
  /** Whether loans need more than taking a connection: validation on borrow, or noting the borrower. */
  protected preparesLoans: boolean
  /** Whether each loan's borrower is noted: for leak detection, or to interrupt it at a late shutdown. */
  protected readonly notesBorrowers: boolean
  protected readonly validationMillis: number
  private readonly traceBorrows: boolean
  protected readonly metrics: boolean

  constructor(
    readonly options: ResolvedOptions,
    protected readonly engine: Engine<A>,
    protected readonly checks: Checks<A, any>,
    /** The connector's `isFault`, guarded (`ConnectorCalls`): it never throws. */
    protected readonly isFault: (cause: Cause.Cause<unknown>, connectionId: number) => boolean
  ) {
    this.validationMillis = Duration.toMillis(options.validationWindow)
    this.notesBorrowers = Duration.isFinite(options.leakDetectionThreshold) ||
      Duration.isFinite(options.shutdownTimeout)
    this.preparesLoans = options.validateOnBorrow || this.notesBorrowers
    this.traceBorrows = options.traceBorrows
    this.metrics = options.metrics
  }

  use<B, E, R>(
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>
  ): Effect.Effect<B, E | BorrowError, R> {
    return Effect.uninterruptibleMask((restore) => {
      const acquired = this.acquire(restore)
      return acquired instanceof ConnectionRecord
        ? this.useWith(acquired, f, restore)
        : Effect.flatMap(acquired, (record) => this.useWith(record, f, restore))
    })
  }

  // The finalizer goes straight onto the scope: `Effect.addFinalizer` would also diff and patch the
  // fiber's FiberRefs around it, which costs more than the rest of the borrow.
  readonly get: Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> = edge.withScope((scope) =>
    Effect.uninterruptibleMask((restore) => {
      const acquired = this.acquire(restore)
      return acquired instanceof ConnectionRecord
        ? this.lendInto(scope, acquired)
        : Effect.flatMap(acquired, (record) => this.lendInto(scope, record))
    })
  )

  /**
   * An idle connection taken synchronously when nothing needs preparing (the hot path: no effect is
   * spent on acquiring it), or else the effect that acquires one. Called inside the uninterruptible region.
   */
  private acquire(restore: Restore): ConnectionRecord<A> | Effect.Effect<ConnectionRecord<A>, BorrowError> {
    if (this.traceBorrows) return this.tracedAcquire(restore)
    const record = this.engine.isClosed ? undefined : this.engine.takeIdle()
    if (record !== undefined && !this.preparesLoans) {
      if (this.metrics) this.loanStarted(record, 0)
      return record
    }
    return this.acquireTimed(record, restore)
  }

  /**
   * With `traceBorrows`: the acquisition (waiting, validating) in a `connection-pool.borrow` span that
   * names the connection lent. Off the hot path: a span costs more than a borrow.
   */
  private tracedAcquire(restore: Restore): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    return Effect.suspend(() => this.acquireTimed(this.engine.isClosed ? undefined : this.engine.takeIdle(), restore))
      .pipe(
        Effect.tap((record) => Effect.annotateCurrentSpan("connection.id", record.id)),
        Effect.withSpan(borrowSpanName, { attributes: { "pool.name": this.options.name } })
      )
  }

  /**
   * The slow path, timed when metrics are on: the wait and the hold start once the borrower has the
   * connection, validated, so a connection that fails validation (or goes back from an interrupted
   * waiter) adds no sample.
   */
  private acquireTimed(
    record: ConnectionRecord<A> | undefined,
    restore: Restore
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    if (!this.metrics) return this.acquirePrepared(record, restore)
    const startedAt = this.engine.hooks.monotonicNow()
    return Effect.map(this.acquirePrepared(record, restore), (record) => {
      this.loanStarted(record, this.engine.hooks.monotonicNow() - startedAt)
      return record
    })
  }

  /** With metrics: the borrower has the connection after waiting this long; its hold starts now. */
  protected loanStarted(record: ConnectionRecord<A>, waitedMillis: number): void {
    record.lentAt = this.engine.hooks.now()
    this.engine.observer.acquired(waitedMillis)
  }

  /** Waits for a connection if `record` is undefined, then validates it and notes its borrower if asked. */
  protected acquirePrepared(
    record: ConnectionRecord<A> | undefined,
    restore: Restore
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    const acquired = record === undefined ? this.engine.acquire(restore) : record.lent
    if (!this.preparesLoans) return acquired
    return Effect.flatMap(acquired, (record) => {
      const validated = this.options.validateOnBorrow &&
          this.engine.hooks.now() - record.lastUsedAt >= this.validationMillis
        ? this.validate(record, restore)
        : record.lent
      return this.notesBorrowers ? Effect.flatMap(validated, (record) => this.noteBorrower(record)) : validated
    })
  }

  /** Validation on borrow: a connection that fails it is retired, and the borrower acquires again. */
  protected validate(record: ConnectionRecord<A>, restore: Restore): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    return Effect.flatMap(Effect.exit(restore(this.checks.check(record))), (exit) => {
      if (Exit.isSuccess(exit)) {
        this.checks.passed(record)
        return record.lent
      }
      // Interrupted while validating: the connection goes back as it was.
      if (edge.isInterruptedOnly(exit.cause)) {
        // only interruption in this cause: no failure of the check's own type escapes
        const interrupted = exit.cause as Cause.Cause<never>
        return Effect.andThen(this.engine.recycle(record), Effect.failCause(interrupted))
      }
      this.checks.failed(record)
      record.failedValidation = true
      return Effect.andThen(this.engine.recycle(record), this.acquirePrepared(undefined, restore))
    })
  }

  /** Notes who borrowed (for leak reports and a late shutdown): the fiber, and the span it is in. */
  private noteBorrower(record: ConnectionRecord<A>): Effect.Effect<ConnectionRecord<A>> {
    return edge.withCurrentFiber((fiber) => {
      // With `traceBorrows` this runs in the pool's own borrow span: the borrower's span is its parent.
      const current = edge.currentSpan(fiber)
      const span = current !== undefined && current._tag === "Span" && current.name === borrowSpanName
        ? Option.getOrUndefined(current.parent)
        : current
      record.lentAt = this.engine.hooks.now()
      record.leakReported = false
      record.borrowerFiber = fiber
      record.borrower = {
        fiber: edge.fiberName(fiber),
        span: span !== undefined && span._tag === "Span" ? span.name : undefined
      }
      return record.lent
    })
  }

  protected useWith<B, E, R>(
    record: ConnectionRecord<A>,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>,
    restore: Restore
  ): Effect.Effect<B, E, R> {
    const loan = new Loan(this, record)
    // `suspend`: a callback that throws while building its effect is a defect of the borrow, and the
    // connection still goes back.
    return Effect.matchCauseEffect(restore(Effect.suspend(() => f(record.connection, loan))), {
      onFailure: (cause) => Effect.andThen(this.giveBack(loan, cause), Effect.failCause(cause)),
      onSuccess: (value) => {
        const closing = this.giveBackNow(loan, undefined)
        return closing === undefined ? Effect.succeed(value) : Effect.as(closing, value)
      }
    })
  }

  protected lendInto(scope: Scope.Scope, record: ConnectionRecord<A>): Effect.Effect<PooledConnection<A>> {
    const loan = new Loan(this, record)
    const release = (exit: Exit.Exit<unknown, unknown>) =>
      this.giveBack(loan, exit._tag === "Failure" ? exit.cause : undefined)
    return Effect.as(Scope.addFinalizerExit(scope, release), loan)
  }

  /**
   * Ends a loan with the borrower's failure (`undefined` for success): a fault counts against the
   * connection, then it is recycled or retired. Returns the effect that closes it, or `undefined` on the
   * hot path.
   */
  protected giveBackNow(loan: Loan<A>, failure: Cause.Cause<unknown> | undefined): Effect.Effect<void> | undefined {
    if (loan.returned) return undefined
    loan.returned = true
    const record = loan.record
    record.borrowerFiber = undefined
    if (failure !== undefined && this.isFault(failure, record.id)) this.checks.faulted(record)
    return this.engine.recycleNow(record)
  }

  giveBack(loan: Loan<A>, failure: Cause.Cause<unknown> | undefined): Effect.Effect<void> {
    return Effect.suspend(() => this.giveBackNow(loan, failure) ?? Effect.void)
  }
}
