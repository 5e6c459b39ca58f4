/**
 * Timeouts and retries, composed declaratively around a pool.
 *
 * The pool bounds one thing itself: how long a borrower waits for a connection (`connectionTimeout`, failing
 * with `PoolTimeoutError`). Everything else is plain Effect around a borrow or a request: `Effect.timeout`
 * (failing with `TimeoutException`), `Effect.retry` with `Schedule.exponential` and `Schedule.jittered`, bounded
 * by `times` and `Schedule.upTo`, and `Effect.catchTag` to decide what each typed error means to the program.
 *
 * The server runs in this process; its handler follows a script per request: slow once, busy twice, hanging up
 * once, or always busy. Each case prints its attempts.
 *
 *   npx --yes pnpm@10.34.8 exec tsx examples/timeouts-and-retries.ts
 */
import type { ConnectionPool } from "@connection-pool/core"
import type { IpcError } from "@connection-pool/platform-node"
import { IpcAddress, IpcPool, IpcServer, IpcServerFaults } from "@connection-pool/platform-node"
import { NodeRuntime } from "@effect/platform-node"
import type { Cause, Duration } from "effect"
import { Console, Data, Effect, Exit, Schedule, Scope } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// ---- a server that is slow or fails sometimes ------------------------------------------------------------------

/** The handler's failure: the client sees a `RemoteError` of reason `HandlerFailed`. */
class Busy extends Data.TaggedError("Busy")<{}> {
  override get message() {
    return "busy, try again"
  }
}

/**
 * What the server does on each attempt of a request named `<script>#<n>`; the last step repeats. Every request
 * has its own count of attempts.
 */
const scripts: Record<string, ReadonlyArray<"ok" | "slow" | "busy" | "hang-up">> = {
  "slow-once": ["slow", "ok"],
  "busy-twice": ["busy", "busy", "ok"],
  "hang-up-once": ["hang-up", "ok"],
  "always-busy": ["busy"]
}

const attemptsSeen = new Map<string, number>()

// Hanging up is a fault (test tooling): IpcServerFaults.handler acts it out on the request's connection.
const handler: IpcServer.Handler<Busy> = IpcServerFaults.handler((payload) =>
  Effect.suspend((): Effect.Effect<IpcServerFaults.Reply, Busy> => {
    const request = decoder.decode(payload)
    const attempt = (attemptsSeen.get(request) ?? 0) + 1
    attemptsSeen.set(request, attempt)
    const script = scripts[request.split("#")[0]!] ?? ["ok"]
    switch (script[Math.min(attempt, script.length) - 1]) {
      case "slow":
        return Effect.as(Effect.sleep("1 second"), payload)
      case "busy":
        return Effect.fail(new Busy())
      case "hang-up":
        return Effect.succeed(IpcServerFaults.closeConnection)
      default:
        return Effect.succeed(encoder.encode(`${request} served on attempt ${attempt}`))
    }
  })
)

// ---- the policy -------------------------------------------------------------------------------------------------

/**
 * Which failures are worth another attempt: the connection broke or could not be opened, the attempt took too
 * long, or the server's handler failed (here: it was busy). A handler's defect, a reply too large, a pool that
 * is closed or has too many waiters are not: trying again would fail the same way.
 */
const retryable = (error: IpcError.RequestError | ConnectionPool.BorrowError | Cause.TimeoutException): boolean => {
  switch (error._tag) {
    case "SocketError":
    case "ConnectionError":
    case "PoolTimeoutError":
    case "TimeoutException":
      return true
    case "RemoteError":
      return error.reason === "HandlerFailed"
    default:
      return false
  }
}

/**
 * Failed attempts retried after about 20, 40, 80, ... ms (each delay jittered between 80% and 120%), at most
 * `times` times, while the failure is `retryable`, and no retry is decided once `budget` has passed since the
 * first failure (one decided just before still waits out its delay). Each attempt is bounded on its own with
 * `Effect.timeout` before this, so that one attempt that hangs cannot hold up the rest.
 */
const retryPolicy = (bounds: { readonly times: number; readonly budget: Duration.DurationInput }) => ({
  schedule: Schedule.exponential("20 millis").pipe(Schedule.jittered, Schedule.upTo(bounds.budget)),
  times: bounds.times,
  while: retryable
})

// ---- printing ---------------------------------------------------------------------------------------------------

const describe = (error: { readonly _tag: string; readonly message?: string }) =>
  error.message ? `${error._tag} (${error.message})` : error._tag

/** Prints each attempt of `effect` as it ends, timed from the first. */
const traced = <A, E extends { readonly _tag: string; readonly message?: string }, R>(
  effect: Effect.Effect<A, E, R>
) => {
  const started = Date.now()
  let attempt = 0
  return Effect.suspend(() => {
    const n = ++attempt
    const at = `attempt ${n} at +${Date.now() - started} ms`
    return effect.pipe(
      Effect.tapBoth({
        onFailure: (error) => Console.log(`     ${at}: ${describe(error)}`),
        onSuccess: (value) => Console.log(`     ${at}: ok: ${JSON.stringify(value)}`)
      })
    )
  })
}

const millisSince = (start: number) => `${Date.now() - start} ms`

// ---- the program ------------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const path = yield* IpcAddress.localPath(`connection-pool-timeouts-${process.pid}`)
  const serverScope = yield* Scope.make()
  yield* IpcServer.make({ path, handler }).pipe(Scope.extend(serverScope))

  // One connection, lent to one borrower at a time (concurrency 1: IpcPool shares connections by default), so that
  // borrowers can be kept waiting; a borrower waits at most 150 ms.
  const pool = yield* IpcPool.make({ path }, {
    name: "timeouts-and-retries",
    maxConnections: 1,
    concurrency: 1,
    connectionTimeout: "150 millis"
  })
  const request = (name: string) =>
    Effect.map(IpcPool.request(pool, encoder.encode(name)), (reply) => decoder.decode(reply))

  // 1 and 2: while the only connection is lent, a borrower waits.
  yield* Effect.scoped(Effect.gen(function*() {
    yield* pool.get // holds the connection for the rest of this scope

    let start = Date.now()
    const first = yield* Effect.scoped(pool.get).pipe(
      Effect.timeout("50 millis"),
      Effect.as("got a connection"),
      Effect.catchTag("TimeoutException", () => Effect.succeed(`TimeoutException after ${millisSince(start)}`))
    )
    yield* Console.log(`1. a borrow bounded by Effect.timeout("50 millis"), the only connection lent: ${first}`)

    start = Date.now()
    const second = yield* Effect.scoped(pool.get).pipe(
      Effect.as("got a connection"),
      Effect.catchTag(
        "PoolTimeoutError",
        (error) => Effect.succeed(`PoolTimeoutError after ${millisSince(start)}: ${error.message}`)
      )
    )
    yield* Console.log(`2. the same borrow bounded only by the pool's connectionTimeout (150 ms): ${second}`)
  }))

  // 3. A reply slower than the attempt's timeout: the attempt is interrupted (its connection stays in the pool, and
  //    drops the late reply when it comes) and the next one succeeds.
  yield* Console.log(`3. a slow reply, each attempt bounded by Effect.timeout("200 millis"), retried:`)
  const slow = yield* request("slow-once#1").pipe(
    Effect.timeout("200 millis"),
    traced,
    Effect.retry(retryPolicy({ times: 3, budget: "2 seconds" }))
  )
  const afterSlow = yield* pool.stats
  yield* Console.log(
    `   => ${slow}; the interrupted attempt's connection stayed in the pool (${afterSlow.closed} closed)`
  )

  // 4. The server fails twice (a `RemoteError` of reason HandlerFailed), then answers.
  yield* Console.log(`4. a busy server, retried with Schedule.exponential("20 millis") and Schedule.jittered:`)
  const busy = yield* request("busy-twice#1").pipe(
    Effect.timeout("1 second"),
    traced,
    Effect.retry(retryPolicy({ times: 4, budget: "2 seconds" }))
  )
  yield* Console.log(`   => ${busy}`)

  // 5. The server hangs up on the request: a `SocketError`; the retry gets a fresh connection.
  yield* Console.log(`5. the server hangs up, the retry goes out on a fresh connection:`)
  const hangUp = yield* request("hang-up-once#1").pipe(
    Effect.timeout("1 second"),
    traced,
    Effect.retry(retryPolicy({ times: 4, budget: "2 seconds" }))
  )
  yield* Console.log(`   => ${hangUp}`)

  // 6. Busy on every attempt: the retries stop at the budget of Schedule.upTo, and catchTag decides what the last
  //    error means: here, an answer from elsewhere.
  yield* Console.log(`6. always busy: retries bounded by Schedule.upTo("300 millis"), then Effect.catchTag:`)
  let start = Date.now()
  const fallback = yield* request("always-busy#1").pipe(
    Effect.timeout("1 second"),
    traced,
    Effect.retry(retryPolicy({ times: 100, budget: "300 millis" })),
    Effect.catchTag(
      "RemoteError",
      (error) => Effect.succeed(`gave up after ${millisSince(start)} (${error.reason}); used the cached answer instead`)
    )
  )
  yield* Console.log(`   => ${fallback}`)

  // 7. The server goes away. The idle connection it closed may be lent before the pool sees it closed (a
  //    `SocketError`); then opening a new one fails, a `ConnectionError` whose cause is the socket's.
  yield* Scope.close(serverScope, Exit.void)
  yield* Console.log(
    `7. the server stopped: its connection is dead, then opens fail; retried for at most 300 ms, then Effect.catchTag:`
  )
  start = Date.now()
  const unreachable = yield* request("anyone#1").pipe(
    Effect.timeout("1 second"),
    traced,
    Effect.retry(retryPolicy({ times: 100, budget: "300 millis" })),
    Effect.catchTag("ConnectionError", (error) =>
      Effect.succeed(
        `gave up after ${millisSince(start)}: ConnectionError ${error.reason}, caused by ${
          (error.cause as { readonly _tag?: string; readonly reason?: string })._tag
        } ${(error.cause as { readonly reason?: string }).reason}`
      ))
  )
  yield* Console.log(`   => ${unreachable}`)

  yield* Console.log((yield* pool.stats).summary)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
