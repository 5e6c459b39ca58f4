import type { PoolError } from "@connection-pool/core"
import { ConnectionPool, Connector } from "@connection-pool/core"
import { Edge, eventually, it, TestClock } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"

/**
 * A tiny in-process client with a promise API, shaped like the usual database clients: `connect` resolves
 * once connected (or rejects when the server refuses), `query` resolves or rejects with an error carrying a
 * `code`, `end` closes it.
 */
class ClientError extends Error {
  constructor(readonly code: string) {
    super(`client error ${code}`)
  }
}

class Client {
  ended = false
  ends = 0
  constructor(readonly serial: number) {}
  query(sql: string): Promise<string> {
    if (this.ended) return Promise.reject(new ClientError("ECONNRESET"))
    if (sql === "bad sql") return Promise.reject(new ClientError("42601"))
    if (sql === "reset") return Promise.reject(new ClientError("ECONNRESET"))
    return Promise.resolve(`${sql} on ${this.serial}`)
  }
  end(): Promise<void> {
    this.ends++
    this.ended = true
    return Promise.resolve()
  }
}

class Server {
  refusing = false
  readonly clients: Array<Client> = []
  connect(): Promise<Client> {
    if (this.refusing) return Promise.reject(new ClientError("ECONNREFUSED"))
    const client = new Client(this.clients.length + 1)
    this.clients.push(client)
    return Promise.resolve(client)
  }
}

const isConnectionFault = (error: unknown) =>
  error instanceof ClientError && (error.code === "ECONNRESET" || error.code === "ECONNREFUSED")

const query = (client: Client, sql: string) => Effect.tryPromise(() => client.query(sql))

describe("Connector.make", () => {
  it.scoped("open first: check and isOpen read the connection type from an inline acquireRelease", () =>
    Effect.gen(function*() {
      const closed: Array<number> = []
      let serial = 0
      // The form the README's tour uses: no annotation on `check`'s or `isOpen`'s parameter. That this file
      // type-checks is half of the test; the pool using the connector is the other half.
      const connector = Connector.make(
        Effect.acquireRelease(
          Effect.sync(() => ({ serial: ++serial, open: true })),
          (socket) => Effect.sync(() => closed.push(socket.serial))
        ),
        {
          check: (socket) => socket.open ? Effect.void : Effect.fail("closed"),
          isOpen: (socket) => socket.open
        }
      )
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      assert.strictEqual(yield* pool.use((socket) => Effect.succeed(socket.serial)), 1)
      // a connection reported closed is retired when it comes back, and its finalizer closes it
      yield* pool.use((socket) => Effect.sync(() => socket.open = false))
      assert.deepStrictEqual(closed, [1])
      assert.strictEqual(yield* pool.use((socket) => Effect.succeed(socket.serial)), 2)
    }))

  it.effect("open first: the requirements of open (less Scope) and of check are the connector's", () =>
    Effect.gen(function*() {
      class Prefix extends Edge.Service<Prefix, string>()("Prefix") {}
      class Probe extends Edge.Service<Probe, Array<string>>()("Probe") {}
      const connector: Connector.Connector<string, never, Prefix | Probe> = Connector.make(
        Effect.acquireRelease(Effect.map(Prefix, (prefix) => `${prefix}-1`), () => Effect.void),
        { check: (connection) => Effect.flatMap(Probe, (probed) => Effect.sync(() => probed.push(connection))) }
      )
      const probed: Array<string> = []
      const provide = <X, EX>(effect: Effect.Effect<X, EX, Prefix | Probe>) =>
        effect.pipe(Effect.provideService(Probe, probed), Effect.provideService(Prefix, "c"))
      yield* provide(connector.check("c-1"))
      assert.deepStrictEqual(probed, ["c-1"])
      const opened = yield* provide(Effect.scoped(connector.open))
      assert.strictEqual(opened, "c-1")
    }))

  it.effect("the default isFault counts every failure and defect, never an interruption", () =>
    Effect.sync(() => {
      const connector = Connector.make(Effect.succeed(1))
      assert.isTrue(connector.isFault(Cause.fail("query failed")))
      assert.isTrue(connector.isFault(Cause.die(new Error("bug"))))
      assert.isFalse(connector.isFault(Edge.interruption))
      const given = Connector.make(Effect.succeed(1), { isFault: () => true })
      assert.isFalse(given.isFault(Edge.interruption))
    }))

  it.scoped("callbacks that throw are failures, not crashes of the pool", () =>
    Effect.gen(function*() {
      let serial = 0
      const connector = Connector.make(Effect.sync(() => ++serial), {
        check: (): Effect.Effect<void> => {
          throw new Error("check threw")
        },
        isOpen: (connection) => {
          if (connection === 1) throw new Error("isOpen threw")
          return true
        },
        isFault: () => {
          throw new Error("isFault threw")
        }
      })
      // The connector passes them on as they are: the pool guards every call into a connector (and logs the
      // defect), so that a connector built without `make` is guarded too (misuse-connector.test.ts).
      const checked = yield* Effect.exit(connector.check(1))
      assert.isTrue(Exit.isFailure(checked))

      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      // connection 1 is reported closed (its isOpen threw) when it comes back, and replaced
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection)), 1)
      assert.strictEqual(yield* pool.use((connection) => Effect.succeed(connection)), 2)
      const stats = yield* pool.stats
      assert.strictEqual(stats.closedByReason.disconnected, 1)
      // the failure is counted, as an isFault that cannot answer leaves it to the default
      yield* Edge.outcome(pool.use(() => Effect.fail("query failed")))
      assert.strictEqual((yield* pool.connections)[0]!.errorCount, 1)
    }))
})

describe("Connector.fromPromise", () => {
  const connectorFor = (server: Server, options: Partial<Connector.PromiseOptions<Client>> = {}) =>
    Connector.fromPromise({
      connect: () => server.connect(),
      close: (client) => client.end(),
      check: (client) => client.query("SELECT 1"),
      isOpen: (client) => !client.ended,
      ...options
    })

  it.scoped("connects, lends and closes each client once when the pool closes", () =>
    Effect.gen(function*() {
      const server = new Server()
      const rows = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* ConnectionPool.make(connectorFor(server), { maxConnections: 2 })
        // each borrower holds its client until both have one (else, with clients that connect at once, the first
        // client may serve both in turn before the second has connected)
        const bothLent = yield* Deferred.make<void>()
        let lent = 0
        const borrow = (sql: string) =>
          pool.use((client) =>
            Effect.suspend(() => ++lent === 2 ? Deferred.succeed(bothLent, undefined) : Deferred.await(bothLent)).pipe(
              Effect.andThen(query(client, sql))
            )
          )
        return yield* Effect.all([borrow("a"), borrow("b")], { concurrency: 2 })
      }))
      assert.deepStrictEqual(rows, ["a on 1", "b on 2"])
      assert.deepStrictEqual(server.clients.map((client) => client.ends), [1, 1])
    }))

  it.scoped("a rejected connect reaches the borrower as a ConnectionError whose cause is the rejection", () =>
    Effect.gen(function*() {
      const server = new Server()
      server.refusing = true
      const pool = yield* ConnectionPool.make(connectorFor(server), { name: "db", maxConnections: 1 })
      const error = yield* Effect.flip(pool.use((client) => query(client, "a")))
      assert.strictEqual(error._tag, "ConnectionError")
      const connectionError = error as PoolError.ConnectionError
      assert.strictEqual(connectionError.reason, "OpenFailed")
      // the rejection itself (Effect may wrap it in a proxy carrying the span it failed in)
      assert.instanceOf(connectionError.cause, ClientError)
      assert.strictEqual((connectionError.cause as ClientError).code, "ECONNREFUSED")
      assert.include(connectionError.message, "ECONNREFUSED")
      // once the server accepts again, the next borrow after the pause that follows a failed open connects
      server.refusing = false
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* pool.use((client) => query(client, "a")), "a on 1")
    }))

  it.scoped("a connect that throws instead of rejecting fails the same way", () =>
    Effect.gen(function*() {
      const connector = Connector.fromPromise<Client>({
        connect: () => {
          throw new TypeError("port must be a number")
        },
        close: (client) => client.end()
      })
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1 })
      const error = (yield* Effect.flip(pool.use(() => Effect.void))) as PoolError.ConnectionError
      assert.strictEqual(error.reason, "OpenFailed")
      assert.instanceOf(error.cause, TypeError)
      assert.strictEqual((error.cause as TypeError).message, "port must be a number")
    }))

  it.effect("check: healthy when it resolves; unhealthy when it rejects, throws or gives false", () =>
    Effect.gen(function*() {
      const client = new Client(1)
      const verdict = (check: (client: Client) => unknown) =>
        Effect.map(Effect.exit(connectorFor(new Server(), { check }).check(client)), Exit.isSuccess)
      assert.isTrue(yield* verdict((client) => client.query("SELECT 1")))
      assert.isTrue(yield* verdict(() => "PONG"))
      assert.isFalse(yield* verdict((client) => client.query("bad sql")))
      assert.isFalse(
        yield* verdict(() => {
          throw new Error("check threw")
        })
      )
      assert.isFalse(yield* verdict(() => Promise.resolve(false)))
      assert.isFalse(yield* verdict(() => false))
    }))

  it.scoped("isFault sees what the client threw, through Effect.tryPromise and Effect.promise", () =>
    Effect.gen(function*() {
      const pool = yield* ConnectionPool.make(connectorFor(new Server(), { isFault: isConnectionFault }), {
        maxConnections: 1
      })
      const errors = Effect.map(pool.connections, (connections) => connections.map((c) => c.errorCount))
      // a query's own error (a syntax error) leaves the connection's health alone
      yield* Edge.outcome(pool.use((client) => query(client, "bad sql")))
      assert.deepStrictEqual(yield* errors, [0])
      // a reset connection counts, met as a typed failure (tryPromise wraps it in Effect's unknown error)...
      yield* Edge.outcome(pool.use((client) => query(client, "reset")))
      assert.deepStrictEqual(yield* errors, [1])
      // ...or as a defect
      yield* Effect.exit(pool.use((client) => Effect.promise(() => client.query("reset"))))
      assert.deepStrictEqual(yield* errors, [2])
    }))

  it.scoped("without isFault, every failure counts, as for Connector.make", () =>
    Effect.gen(function*() {
      const pool = yield* ConnectionPool.make(connectorFor(new Server()), { maxConnections: 1 })
      yield* Edge.outcome(pool.use((client) => query(client, "bad sql")))
      assert.deepStrictEqual((yield* pool.connections).map((c) => c.errorCount), [1])
    }))

  it.scoped("a close that rejects or throws does not fail closing the pool", () =>
    Effect.gen(function*() {
      let attempts = 0
      for (
        const close of [
          () => Promise.reject(new Error("already closed")),
          () => {
            throw new Error("close threw")
          }
        ]
      ) {
        const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const pool = yield* ConnectionPool.make(
            connectorFor(new Server(), {
              close: () => {
                attempts++
                return close()
              }
            }),
            { maxConnections: 1 }
          )
          return yield* pool.use((client) => query(client, "a"))
        })))
        assert.deepStrictEqual(exit, Exit.succeed("a on 1"))
      }
      assert.strictEqual(attempts, 2)
    }))

  it.scoped("a close that never settles is given up after closeTimeout", () =>
    Effect.gen(function*() {
      const closing = Effect.scoped(Effect.gen(function*() {
        const pool = yield* ConnectionPool.make(
          connectorFor(new Server(), { close: () => new Promise<never>(() => {}), closeTimeout: "2 seconds" }),
          { maxConnections: 1 }
        )
        return yield* pool.use((client) => query(client, "a"))
      }))
      const fiber = yield* Edge.fork(closing)
      // let the fiber reach the close; it must still be waiting on it
      for (let turn = 0; turn < 100; turn++) yield* Edge.yieldNow
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Edge.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      yield* eventually(() => Effect.map(Edge.poll(fiber), Option.isSome))
      assert.strictEqual(yield* Fiber.join(fiber), "a on 1")
    }))

  it.scoped("a client that arrives after the open timed out is closed, not leaked", () =>
    Effect.gen(function*() {
      let arrive: (client: Client) => void = () => {}
      const late = new Client(1)
      const connector = Connector.fromPromise<Client>({
        connect: () => new Promise((resolve) => arrive = resolve),
        close: (client) => client.end()
      })
      const pool = yield* ConnectionPool.make(connector, { maxConnections: 1, openTimeout: "1 second" })
      const borrower = yield* Edge.fork(Effect.flip(pool.use(() => Effect.void)))
      yield* TestClock.adjust("1 second")
      const error = (yield* Fiber.join(borrower)) as PoolError.ConnectionError
      assert.strictEqual(error.reason, "OpenTimedOut")
      yield* eventually(() => Effect.map(pool.stats, (stats) => stats.openFailures === 1))
      assert.strictEqual(late.ends, 0)
      arrive(late)
      yield* eventually(() => late.ends === 1)
      assert.strictEqual((yield* pool.stats).total, 0)
    }))
})
