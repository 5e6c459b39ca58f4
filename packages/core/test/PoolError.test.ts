import { PoolError } from "@connection-pool/core"
import { Edge, it } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { hasProperty } from "effect/Predicate"

const connectionError = new PoolError.ConnectionError({ reason: "OpenFailed", pool: "p", cause: new Error("refused") })

/** One error of each class of the module. */
const everyError: ReadonlyArray<PoolError.PoolError> = [
  new PoolError.PoolTimeoutError({ reason: "AcquireTimeout", pool: "p", timeout: Duration.seconds(1) }),
  connectionError,
  new PoolError.PoolExhaustedError({ reason: "TooManyWaiting", pool: "p", maxWaiting: 3 }),
  new PoolError.PoolUnavailableError({ reason: "CircuitOpen", pool: "p", lastError: connectionError }),
  new PoolError.PoolClosedError({ reason: "PoolClosed", pool: "p" }),
  new PoolError.InvalidPoolOptions({ reason: "InvalidValue", issues: [] }),
  new PoolError.ReleasedHandleError({ reason: "UsedAfterRelease", pool: "p", connectionId: 1 })
]

describe("PoolError", () => {
  it("every error is recognised by isPoolError, named by its tag and keeps its fields and message", () => {
    for (const error of everyError) {
      assert.isTrue(PoolError.isPoolError(error), error._tag)
      assert.strictEqual(error.name, error._tag)
      assert.isTrue(error.message.length > 0, error._tag)
    }
    assert.sameMembers(everyError.map((error) => error._tag), [
      "PoolTimeoutError",
      "ConnectionError",
      "PoolExhaustedError",
      "PoolUnavailableError",
      "PoolClosedError",
      "InvalidPoolOptions",
      "ReleasedHandleError"
    ])
    assert.isFalse(PoolError.isPoolError(new Error("x")))
    assert.isFalse(PoolError.isPoolError({ _tag: "PoolClosedError" }))
  })

  it.effect("an error fails an effect when yielded and is caught by its tag", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.gen(function*() {
        return yield* new PoolError.PoolClosedError({ reason: "ClosedWhileWaiting", pool: "p" })
      }))
      assert.isTrue(Exit.isFailure(exit))
      const caught = yield* new PoolError.PoolExhaustedError({ reason: "TooManyWaiting", pool: "p", maxWaiting: 1 })
        .pipe(Effect.catchTag("PoolExhaustedError", (error) => Effect.succeed(error.maxWaiting)))
      assert.strictEqual(caught, 1)
    }))

  it("TypeIdError marks a class of another module with that module's type id only", () => {
    const TypeId: unique symbol = Symbol.for("test/QuotaError")
    class QuotaError extends PoolError.TypeIdError(TypeId, "QuotaError")<{ readonly limit: number }> {}
    const error = new QuotaError({ limit: 3 })
    assert.isTrue(hasProperty(error, TypeId))
    assert.strictEqual(error[TypeId], TypeId)
    assert.isFalse(PoolError.isPoolError(error))
    assert.strictEqual(error._tag, "QuotaError")
    assert.strictEqual(error.name, "QuotaError")
    assert.strictEqual(error.limit, 3)
    assert.isFalse(everyError.some((poolError) => hasProperty(poolError, TypeId)))
  })

  it("decodeDurationOption decodes a duration or names the option; infinity only when allowed", () => {
    const decoded = PoolError.decodeDurationOption("timeout", "5 seconds")
    assert.isTrue(Edge.isSuccess(decoded) && Duration.equals(Edge.successOf(decoded)!, Duration.seconds(5)))
    for (const value of ["30 days", 2 ** 31, 0, -5, Number.NaN, "soon", Duration.infinity]) {
      const refused = PoolError.decodeDurationOption("timeout", value)
      assert.isTrue(Edge.isFailure(refused), String(value))
      const issue = Edge.failureOf(refused)
      if (issue !== undefined) {
        assert.strictEqual(issue.field, "timeout")
        assert.deepStrictEqual(issue.value, value)
      }
    }
    const messages = new Set(
      ["30 days", 0, "soon"].map((value) => Edge.failureOf(PoolError.decodeDurationOption("t", value))?.message)
    )
    assert.strictEqual(messages.size, 1)
    assert.isTrue(Edge.isSuccess(PoolError.decodeDurationOption("t", Duration.infinity, { allowInfinite: true })))
    assert.isTrue(Edge.isSuccess(PoolError.decodeDurationOption("t", 2 ** 31 - 1)))
  })
})
