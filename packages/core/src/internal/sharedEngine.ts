/**
 * Shared lending (`concurrency` above 1): the lending structure when one connection may carry several
 * borrowers at once. It is the exclusive `Engine` with the connections that carry some borrowers and have
 * room kept in buckets by load, so that a borrower takes the least-loaded connection with room in O(1):
 * an idle connection first (the idle stack, as with exclusive lending), else the top of the lowest bucket
 * that is not empty (at most `concurrency` - 1 buckets to look at, whatever the number of connections).
 * Moving a connection between buckets is a swap-remove and a push.
 *
 * A connection the retire decision retires while borrowers hold it is "draining": out of the buckets, so
 * it takes no new borrower, and closed (once) when its last borrower gives it back.
 *
 * The exclusive engine (`concurrency` 1) is left exactly as it is: this class is used only when sharing.
 */
import type * as Effect from "effect/Effect"
import type { CloseReason } from "../PoolEvent.js"
import { Engine } from "./engine.js"
import * as Health from "./health.js"
import type { ConnectionRecord } from "./record.js"

export class SharedEngine<A> extends Engine<A> {
  /** `partial[n]`: connections held by `n` borrowers (0 < n < concurrency), each knowing its `slot`. */
  private readonly partial: Array<Array<ConnectionRecord<A>>> = []
  /** Connections held by one borrower or more. */
  private busy = 0
  /** Connections retired while held, closed when their last borrower returns. */
  private draining = 0

  private get capacity(): number {
    return this.options.concurrency
  }

  /** Open connections that are neither closing nor draining: those that can take borrowers. */
  override get liveCount(): number {
    return this.records.size - this.closing - this.draining
  }

  override get inUseCount(): number {
    return this.busy
  }

  /**
   * Opens wanted: one per `concurrency` waiters; and, with `targetUtilization` below 1, enough that the
   * borrowers (holding or waiting) carry less than that share of the capacity open: another connection once
   * `loans >= targetUtilization x open x concurrency`.
   */
  override wantedOpens(opening: number): number {
    const perConnection = this.capacity
    const forWaiters = Math.ceil(this.waiting / perConnection) - opening - this.checking
    const target = this.options.targetUtilization
    const borrowers = this.lent + this.waiting
    if (target === 1 || borrowers === 0) return forWaiters
    const wanted = Math.floor(borrowers / (target * perConnection)) + 1
    return Math.max(forWaiters, wanted - this.liveCount - opening)
  }

  /** The least-loaded connection that may be lent, lent: an idle one, else the one with fewest borrowers. */
  override takeIdle(): ConnectionRecord<A> | undefined {
    return super.takeIdle() ?? this.takeShared()
  }

  private takeShared(): ConnectionRecord<A> | undefined {
    const partial = this.partial
    for (let load = 1; load < partial.length; load++) {
      const bucket = partial[load]!
      while (bucket.length > 0) {
        const record = bucket[bucket.length - 1]!
        // invalidated by one of its borrowers: it is as good as retired
        const reason = record.invalidated ? "invalidated" : Health.retireReason(record, "lend", this, this.limits)
        if (reason === undefined) {
          this.lend(record)
          return record
        }
        this.drain(record, reason)
      }
    }
    return undefined
  }

  protected override lend(record: ConnectionRecord<A>): void {
    const load = record.loans
    if (load === 0) {
      record.state = "in-use"
      this.busy++
    } else {
      this.unslot(record)
    }
    record.loans = load + 1
    record.useCount++
    this.lent++
    if (load + 1 < this.capacity) this.slot(record)
    if (this.metrics) this.observer.counted(this)
    const target = this.options.targetUtilization
    if (target < 1 && this.lent >= target * this.liveCount * this.capacity) this.listener.loadRose()
  }

  /** Hands the connection's room to the oldest waiters, then keeps it (idle when nobody holds it). */
  protected override deliver(record: ConnectionRecord<A>): void {
    while (record.loans < this.capacity) {
      const waiter = this.waiters.next()
      if (waiter === undefined) break
      this.lend(record)
      waiter.handed = record
      this.waiters.settle(waiter, record.lent)
    }
    if (record.loans === 0) {
      record.state = "idle"
      this.idle.push(record)
    }
  }

  /**
   * Takes back one loan of a connection: noted as used; closed if it was draining and this was its last
   * borrower; drained (or closed, with no borrower left) if the retire decision says so; else its room
   * goes to the oldest waiter, or back to its bucket.
   */
  override recycleNow(record: ConnectionRecord<A>): Effect.Effect<void> | undefined {
    this.unslot(record)
    this.lent--
    const load = --record.loans
    if (load === 0) this.busy--
    const now = this.hooks.now()
    record.lastUsedAt = now
    if (this.metrics) this.observer.counted(this)
    // closed under its borrowers (a late shutdown): nothing more to do
    if (record.state === "retired") return undefined
    const draining = record.draining
    if (draining !== undefined) {
      if (load > 0) return undefined
      record.draining = undefined
      this.draining--
      return this.close(record, draining)
    }
    const reason = Health.retireReason(record, "return", this, this.limits, now)
    if (reason !== undefined) {
      if (load === 0) return this.close(record, reason)
      record.draining = reason
      this.draining++
      return undefined
    }
    if (load > 0) this.slot(record)
    this.deliver(record)
    return undefined
  }

  override close(record: ConnectionRecord<A>, reason: CloseReason): Effect.Effect<void> {
    if (record.state !== "retired") {
      this.unslot(record)
      if (record.draining !== undefined) {
        record.draining = undefined
        this.draining--
      }
    }
    return super.close(record, reason)
  }

  /** A shared connection retired while held: no new borrower; closed when its last borrower returns. */
  private drain(record: ConnectionRecord<A>, reason: CloseReason): void {
    this.unslot(record)
    record.draining = reason
    this.draining++
  }

  private slot(record: ConnectionRecord<A>): void {
    const load = record.loans
    while (this.partial.length <= load) this.partial.push([])
    const bucket = this.partial[load]!
    record.slot = bucket.length
    bucket.push(record)
  }

  /** Out of its bucket (swap-remove); call it before its number of borrowers changes. */
  private unslot(record: ConnectionRecord<A>): void {
    if (record.slot < 0) return
    const bucket = this.partial[record.loans]!
    const last = bucket.pop()!
    if (last !== record) {
      bucket[record.slot] = last
      last.slot = record.slot
    }
    record.slot = -1
  }
}
