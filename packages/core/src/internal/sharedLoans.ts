/**
 * Loans of shared connections (`concurrency` above 1). The borrow pipeline is the exclusive one
 * (`Loans`); what differs is what belongs to one loan rather than to the connection: who borrowed it and
 * since when (leak reports, a late shutdown, the hold time) is noted on the loan, since several borrowers
 * hold the connection at once; and a fault counts against the connection only if no other fault was counted
 * since the loan began, so a connection that breaks under ten borrowers loses one fault's worth of score,
 * not ten, and is retired once (when disconnected, by the retire decision).
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { BorrowError, PooledConnection } from "../ConnectionPool.js"
import type { Checks } from "./checks.js"
import * as edge from "./edge/effect.js"
import type { Engine, Restore } from "./engine.js"
import { Loan, Loans } from "./loans.js"
import type { ResolvedOptions } from "./options.js"
import type { BorrowerNote, ConnectionRecord } from "./record.js"

/** One borrower's loan of a shared connection, with its own note of who holds it. */
class SharedLoan<A> extends Loan<A> implements BorrowerNote {
  lentAt: number | undefined = undefined
  borrower: { readonly fiber: string; readonly span: string | undefined } | undefined = undefined
  borrowerFiber: edge.RunningFiber | undefined = undefined
  leakReported = false
  /** The connection's faults counted when this loan began. */
  readonly faultsAtStart: number
  constructor(loans: Loans<A>, record: ConnectionRecord<A>) {
    super(loans, record)
    this.faultsAtStart = record.faultsCounted
  }
}

export class SharedLoans<A> extends Loans<A> {
  constructor(
    options: ResolvedOptions,
    engine: Engine<A>,
    checks: Checks<A, any>,
    isFault: (cause: Cause.Cause<unknown>, connectionId: number) => boolean
  ) {
    super(options, engine, checks, isFault)
    // the borrower is noted on the loan when it is made, not on the connection while acquiring
    this.preparesLoans = options.validateOnBorrow
  }

  /** With metrics: the wait is sampled here; the hold starts with the loan. */
  protected override loanStarted(_record: ConnectionRecord<A>, waitedMillis: number): void {
    this.engine.observer.acquired(waitedMillis)
  }

  /**
   * Validation on borrow runs only for a borrower alone on the connection: one that others hold carries
   * traffic, which is the use that validation would look for.
   */
  protected override acquirePrepared(
    record: ConnectionRecord<A> | undefined,
    restore: Restore
  ): Effect.Effect<ConnectionRecord<A>, BorrowError> {
    const acquired = record === undefined ? this.engine.acquire(restore) : record.lent
    if (!this.preparesLoans) return acquired
    return Effect.flatMap(
      acquired,
      (record) =>
        record.loans === 1 && this.engine.hooks.now() - record.lastUsedAt >= this.validationMillis
          ? this.validate(record, restore)
          : record.lent
    )
  }

  /** A new loan of `record`, noted (who, since when) when borrowers are noted or metrics are on. */
  private startLoan(record: ConnectionRecord<A>, fiber: edge.RunningFiber | undefined) {
    const loan = new SharedLoan(this, record)
    if (this.metrics || fiber !== undefined) loan.lentAt = this.engine.hooks.now()
    if (fiber !== undefined) {
      const span = edge.currentSpan(fiber)
      loan.borrowerFiber = fiber
      loan.borrower = {
        fiber: edge.fiberName(fiber),
        span: span !== undefined && span._tag === "Span" ? span.name : undefined
      }
      ;(record.holders ??= new Set()).add(loan)
    }
    return loan
  }

  private withLoan<X, E, R>(
    record: ConnectionRecord<A>,
    f: (loan: SharedLoan<A>) => Effect.Effect<X, E, R>
  ): Effect.Effect<X, E, R> {
    return this.notesBorrowers
      ? edge.withCurrentFiber((fiber) => f(this.startLoan(record, fiber)))
      : Effect.suspend(() => f(this.startLoan(record, undefined)))
  }

  protected override useWith<B, E, R>(
    record: ConnectionRecord<A>,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E, R>,
    restore: Restore
  ): Effect.Effect<B, E, R> {
    return this.withLoan(
      record,
      (loan) =>
        Effect.matchCauseEffect(restore(Effect.suspend(() => f(record.connection, loan))), {
          onFailure: (cause) => Effect.andThen(this.giveBack(loan, cause), Effect.failCause(cause)),
          onSuccess: (value) => {
            const closing = this.giveBackNow(loan, undefined)
            return closing === undefined ? Effect.succeed(value) : Effect.as(closing, value)
          }
        })
    )
  }

  protected override lendInto(scope: Scope.Scope, record: ConnectionRecord<A>): Effect.Effect<PooledConnection<A>> {
    return this.withLoan(record, (loan) => {
      const release = (exit: Exit.Exit<unknown, unknown>) =>
        this.giveBack(loan, exit._tag === "Failure" ? exit.cause : undefined)
      return Effect.as(Scope.addFinalizerExit(scope, release), loan as PooledConnection<A>)
    })
  }

  protected override giveBackNow(
    loan: Loan<A>,
    failure: Cause.Cause<unknown> | undefined
  ): Effect.Effect<void> | undefined {
    if (loan.returned) return undefined
    loan.returned = true
    const record = loan.record
    const shared = loan as SharedLoan<A>
    shared.borrowerFiber = undefined
    record.holders?.delete(shared)
    if (failure !== undefined && record.faultsCounted === shared.faultsAtStart && this.isFault(failure, record.id)) {
      record.faultsCounted++
      this.checks.faulted(record)
    }
    if (this.metrics && shared.lentAt !== undefined) {
      this.engine.observer.returned(this.engine.hooks.now() - shared.lentAt)
    }
    return this.engine.recycleNow(record)
  }
}
