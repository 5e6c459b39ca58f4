import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import type {
  BorrowError,
  ConnectionPool,
  Options as PoolOptions,
  PooledConnection,
  PoolStats
} from "../ConnectionPool.js"
import type * as Connector from "../Connector.js"
import type { KeyedConnectionPool, Options, TypeId as KeyedTypeId } from "../KeyedConnectionPool.js"
import {
  type ConnectionError,
  InvalidPoolOptions,
  isPoolError,
  type OptionIssue,
  PoolClosedError
} from "../PoolError.js"
import * as internalPool from "./connectionPool.js"
import { decodeDurationOption } from "./duration.js"
import * as edge from "./edge/effect.js"
import type { Engine } from "./engine.js"
import { resolve } from "./options.js"

/** @internal */
export const TypeId: KeyedTypeId = Symbol.for("@connection-pool/core/KeyedConnectionPool") as KeyedTypeId

interface Entry<A> {
  readonly pool: ConnectionPool<A>
  readonly scope: edge.CloseableScope
  lastUsedAt: number
}

class KeyedPoolImpl<K, A, E, R> implements KeyedConnectionPool<K, A> {
  readonly [TypeId]: KeyedTypeId = TypeId
  readonly entries = MutableHashMap.empty<K, Entry<A>>()
  /** One key's pool is made at a time, so that two first borrowers of a key do not make two. */
  readonly making = edge.makeSemaphore(1)
  isClosed = false
  /** With `maxTotal`: the permits of `total` taken (connections open or opening across keys). */
  taken = 0

  constructor(
    readonly connector: (key: K) => Connector.Connector<A, E, R>,
    readonly poolOptions: PoolOptions,
    readonly keyName: (key: K) => string,
    readonly total: edge.Semaphore | undefined,
    readonly maxTotal: number,
    readonly keyIdleMillis: number,
    readonly scope: Scope.Scope,
    readonly context: Context.Context<R>,
    readonly now: () => number
  ) {}

  pipe() {
    return pipeArguments(this, arguments)
  }

  /**
   * With a total bound, a connection holds one permit of the shared semaphore while it is open. At the bound,
   * the oldest idle connection of another key is closed to make room (as Apache commons-pool's keyed pool
   * does) rather than waiting for one to close; a lent connection is never taken. With none idle, the open
   * waits for a permit.
   */
  connectorFor(key: K): Connector.Connector<A, E, R> {
    const base = this.connector(key)
    const total = this.total
    if (total === undefined) return base
    const permit = Effect.uninterruptibleMask((restore) =>
      Effect.andThen(
        restore(Effect.andThen(this.makeRoom(key), total.take(1))),
        Effect.andThen(
          Effect.sync(() => this.taken++),
          Effect.addFinalizer(() => Effect.andThen(Effect.sync(() => this.taken--), total.release(1)))
        )
      )
    )
    // The callbacks are passed on as they are: the key's pool guards its calls into them.
    return { ...base, open: Effect.andThen(permit, base.open) }
  }

  /** At `maxTotal`, closes the oldest idle connection of a key other than `key` (reason `evicted`), if any. */
  makeRoom(key: K): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.taken < this.maxTotal) return Effect.void
      let oldest: { readonly engine: Engine<A>; readonly record: Engine<A>["idle"][number] } | undefined
      for (const [other, entry] of this.entries) {
        if (Equal.equals(other, key)) continue
        // the pools are made by `internalPool.make`: each has its lending structure
        const engine = (entry.pool as unknown as { readonly engine: Engine<A> }).engine
        // the bottom of the idle stack has waited longest
        const record = engine.idle[0]
        if (record !== undefined && (oldest === undefined || record.lastUsedAt < oldest.record.lastUsedAt)) {
          oldest = { engine, record }
        }
      }
      return oldest === undefined ? Effect.void : oldest.engine.retireIdleIfDue(oldest.record, "evict") ?? Effect.void
    })
  }

  entryFor(key: K): Effect.Effect<Entry<A>, PoolClosedError | ConnectionError> {
    return Effect.suspend((): Effect.Effect<Entry<A>, PoolClosedError | ConnectionError> => {
      if (this.isClosed) return Effect.fail(new PoolClosedError({ reason: "PoolClosed", pool: this.keyName(key) }))
      const existing = MutableHashMap.get(this.entries, key)
      if (Option.isSome(existing)) return Effect.succeed(existing.value)
      return this.making.withPermits(1)(Effect.suspend((): Effect.Effect<Entry<A>, ConnectionError> => {
        const raced = MutableHashMap.get(this.entries, key)
        if (Option.isSome(raced)) return Effect.succeed(raced.value)
        return Effect.flatMap(
          edge.forkScope(this.scope),
          (scope) =>
            internalPool.make(this.connectorFor(key), { ...this.poolOptions, name: this.keyName(key) }).pipe(
              (effect) => edge.inScope(effect, scope),
              // The connector's requirements `R` were captured whole when the keyed pool was made; TypeScript
              // cannot see that they cover `Exclude<R, Scope>`, hence the casts.
              (effect) =>
                Effect.provide(effect, this.context as Context.Context<unknown>) as Effect.Effect<
                  ConnectionPool<A>,
                  InvalidPoolOptions | ConnectionError
                >,
              // the options were checked when the keyed pool was made
              Effect.catchTag("InvalidPoolOptions", (error) => Effect.die(error)),
              Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
              Effect.map((pool) => {
                const entry: Entry<A> = { pool, scope, lastUsedAt: this.now() }
                MutableHashMap.set(this.entries, key, entry)
                return entry
              })
            )
        )
      }))
    })
  }

  /** Runs `borrow` on `key`'s pool; once again on a fresh pool if that key was closed in between. */
  withEntry<X, E2, R2>(
    key: K,
    borrow: (entry: Entry<A>) => Effect.Effect<X, E2, R2>,
    retried = false
  ): Effect.Effect<X, E2 | PoolClosedError | ConnectionError, R2> {
    return Effect.flatMap(this.entryFor(key), (entry) => {
      entry.lastUsedAt = this.now()
      return borrow(entry).pipe(
        Effect.catchIf(
          // by tag, as everywhere else: `instanceof` misses errors made by the other (ESM or CommonJS) build
          (error): error is E2 & PoolClosedError =>
            !retried && !this.isClosed && isPoolError(error) && error._tag === "PoolClosedError" &&
            error.reason === "PoolClosed",
          () => this.withEntry(key, borrow, true)
        )
      )
    })
  }

  get(key: K): Effect.Effect<PooledConnection<A>, BorrowError, Scope.Scope> {
    return this.withEntry(key, (entry) =>
      Effect.tap(
        entry.pool.get,
        () =>
          Effect.addFinalizer(() =>
            Effect.sync(() => {
              entry.lastUsedAt = this.now()
            })
          )
      ))
  }

  use<B, E2, R2>(
    key: K,
    f: (connection: A, handle: PooledConnection<A>) => Effect.Effect<B, E2, R2>
  ): Effect.Effect<B, E2 | BorrowError, R2> {
    return this.withEntry(key, (entry) =>
      entry.pool.use(f).pipe(
        Effect.ensuring(Effect.sync(() => {
          entry.lastUsedAt = this.now()
        }))
      ))
  }

  readonly keys: Effect.Effect<ReadonlyArray<K>> = Effect.sync(() => Array.from(MutableHashMap.keys(this.entries)))

  readonly stats: Effect.Effect<ReadonlyArray<readonly [K, PoolStats]>> = Effect.suspend(() =>
    Effect.forEach(
      Array.from(this.entries),
      ([key, entry]) => Effect.map(entry.pool.stats, (stats) => [key, stats] as const)
    )
  )

  readonly totalConnections: Effect.Effect<number> = Effect.suspend(() =>
    Effect.map(
      Effect.forEach(Array.from(this.entries), ([, entry]) => entry.pool.activeConnections),
      (counts) => counts.reduce((sum, n) => sum + n, 0)
    )
  )

  closeKey(key: K): Effect.Effect<void> {
    return Effect.suspend(() => {
      const entry = MutableHashMap.get(this.entries, key)
      if (Option.isNone(entry)) return Effect.void
      // forgotten first: a borrower from now on gets a new pool
      MutableHashMap.remove(this.entries, key)
      return Scope.close(entry.value.scope, Exit.void)
    })
  }

  /** Closes keys whose pool lent nothing and had no borrower for `keyIdleTimeout`; sleeps until the next is due. */
  get idleKeys(): Effect.Effect<void> {
    // Effect 3's `Effect.gen(self, f)` and Effect 4's `Effect.gen({ self }, f)` differ: the fields are read here.
    const { entries, keyIdleMillis } = this
    const now = () => this.now()
    const closeKey = (key: K) => this.closeKey(key)
    const sweep: Effect.Effect<void> = Effect.gen(function*() {
      const startedAt = now()
      let next = startedAt + keyIdleMillis
      for (const [key, entry] of Array.from(entries)) {
        const stats = yield* entry.pool.stats
        const due = entry.lastUsedAt + keyIdleMillis
        // a busy key is looked at again a whole timeout later: its idle time starts when it is given back
        if (stats.inUse > 0 || stats.waiting > 0) continue
        if (due <= startedAt) yield* closeKey(key)
        else next = Math.min(next, due)
      }
      yield* Effect.sleep(Duration.millis(Math.max(1, next - startedAt)))
    }).pipe(Effect.andThen(Effect.suspend(() => sweep)))
    return sweep
  }
}

const defaultKeyIdleTimeout = Duration.minutes(5)

/** The keyed options' own checks; `keyIdleTimeout` may be infinite (keys are then never closed for idleness). */
const keyedOptions = (options: { readonly maxTotal?: unknown; readonly keyIdleTimeout?: unknown }) => {
  const issues: Array<OptionIssue> = []
  const { keyIdleTimeout, maxTotal } = options
  if (maxTotal !== undefined && !(typeof maxTotal === "number" && Number.isSafeInteger(maxTotal) && maxTotal > 0)) {
    issues.push({ field: "maxTotal", value: maxTotal, message: "must be a whole number above zero" })
  }
  const idle = decodeDurationOption("keyIdleTimeout", keyIdleTimeout ?? defaultKeyIdleTimeout, { allowInfinite: true })
  if (edge.isFailed(idle)) issues.push(edge.failureOf(idle)!)
  return { issues, keyIdleTimeout: edge.successOf(idle) ?? defaultKeyIdleTimeout }
}

/** @internal */
export const make = <K, A, E, R>(
  connector: (key: K) => Connector.Connector<A, E, R>,
  options?: Options<K> | undefined
): Effect.Effect<KeyedConnectionPool<K, A>, InvalidPoolOptions | ConnectionError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const { keyIdleTimeout, keyName, maxTotal, ...poolOptions } = options ?? {}
    const checked = resolve(poolOptions)
    const keyed = keyedOptions({ maxTotal, keyIdleTimeout })
    const resolved = edge.successOf(checked)
    if (resolved === undefined || keyed.issues.length > 0) {
      const issues = [...(edge.failureOf(checked)?.issues ?? []), ...keyed.issues]
      return yield* Effect.fail(new InvalidPoolOptions({ reason: "InvalidValue", issues }))
    }
    const name = resolved.name
    const scope = yield* Effect.scope
    const context = yield* Effect.context<R>()
    const { now } = yield* edge.clockReaders
    const total = maxTotal === undefined ? undefined : edge.makeSemaphore(maxTotal)
    const pool = new KeyedPoolImpl(
      connector,
      poolOptions,
      keyName ?? ((key: K) => `${name}:${String(key)}`),
      total,
      maxTotal ?? Number.POSITIVE_INFINITY,
      Duration.toMillis(keyed.keyIdleTimeout),
      scope,
      context,
      now
    )
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        pool.isClosed = true
      })
    )
    yield* Effect.forkScoped(pool.idleKeys)
    return pool
  })
