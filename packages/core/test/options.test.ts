import { ConnectionPool, Connector, PoolError } from "@connection-pool/core"
import { Edge, it } from "@connection-pool/test-kit"
import { assert, describe } from "@effect/vitest"
import { Config, Duration, Effect, Layer, type Scope } from "effect"

const connector = Connector.make({ open: Effect.succeed("connection") })

class Pool extends Edge.Service<Pool, ConnectionPool.ConnectionPool<string>>()("test/Pool") {}

/** The construction error, which must be `InvalidPoolOptions` (never a failed open: the connector works). */
const invalid = <E extends { readonly _tag: string }>(self: Effect.Effect<unknown, E, Scope.Scope>) =>
  Effect.flatMap(
    Effect.flip(Effect.scoped(self)),
    (error) =>
      error instanceof PoolError.InvalidPoolOptions
        ? Effect.succeed(error)
        : Effect.die(new Error(`expected InvalidPoolOptions, got ${error._tag}`))
  )

/** Builds a pool through its layer (as users do) and returns the construction error. */
const rejection = (options: ConnectionPool.Options) =>
  invalid(Layer.build(ConnectionPool.layer(Pool, connector, options)))

const assertRejects = (options: ConnectionPool.Options, field: string, value: unknown) =>
  Effect.gen(function*() {
    const error = yield* rejection(options)
    assert.strictEqual(error._tag, "InvalidPoolOptions")
    assert.strictEqual(error.reason, "InvalidValue")
    assert.deepStrictEqual(error.fields, [field])
    const issue = error.issues[0]!
    if (Number.isNaN(value)) assert.isTrue(Number.isNaN(issue.value))
    else assert.deepStrictEqual(issue.value, value)
    assert.include(error.message, field)
  })

describe("options", () => {
  describe("maxConnections", () => {
    it.effect("0 is rejected", () => assertRejects({ maxConnections: 0 }, "maxConnections", 0))
    it.effect("a negative number is rejected", () => assertRejects({ maxConnections: -3 }, "maxConnections", -3))
    it.effect("a fraction is rejected", () => assertRejects({ maxConnections: 2.5 }, "maxConnections", 2.5))
    it.effect("NaN is rejected", () => assertRejects({ maxConnections: NaN }, "maxConnections", NaN))
    it.effect("Infinity is rejected", () => assertRejects({ maxConnections: Infinity }, "maxConnections", Infinity))
  })

  it.effect("minConnections above maxConnections is rejected, naming both limits", () =>
    Effect.gen(function*() {
      yield* assertRejects({ minConnections: 5, maxConnections: 3 }, "minConnections", 5)
      const error = yield* rejection({ minConnections: 11 })
      assert.include(error.message, "maxConnections (10)")
    }))

  it.effect("a negative minConnections is rejected", () => assertRejects({ minConnections: -1 }, "minConnections", -1))

  describe("durations", () => {
    const fields = [
      "connectionTimeout",
      "healthCheckInterval",
      "healthCheckTimeout",
      "staleAfter",
      "timeToLive"
    ] as const
    for (const field of fields) {
      it.effect(`${field}: zero is rejected`, () => assertRejects({ [field]: 0 }, field, 0))
      it.effect(`${field}: a negative number of milliseconds is rejected`, () =>
        assertRejects({ [field]: -1000 }, field, -1000))
      it.effect(`${field}: a negative Duration string is rejected`, () =>
        assertRejects({ [field]: "-5 seconds" as Edge.DurationInput }, field, "-5 seconds"))
      it.effect(`${field}: a zero Duration is rejected`, () =>
        assertRejects({ [field]: Duration.zero }, field, Duration.zero))
      it.effect(`${field}: NaN is rejected`, () => assertRejects({ [field]: NaN }, field, NaN))
      it.effect(`${field}: an unparsable string is rejected`, () =>
        assertRejects({ [field]: "soon" as Edge.DurationInput }, field, "soon"))
    }
    for (const field of ["connectionTimeout", "healthCheckInterval", "healthCheckTimeout"] as const) {
      it.effect(`${field}: infinity is rejected (the pool never waits forever)`, () =>
        assertRejects({ [field]: Duration.infinity }, field, Duration.infinity))
    }

    // Effect's live clock treats a sleep above 2^31-1 ms as one that never ends: a reaper or sweep given such a
    // duration would never wake again, so the value is refused, naming the option.
    const allDurations = [
      "validationWindow",
      "leakDetectionThreshold",
      "shutdownTimeout",
      "breakerResetAfter",
      "connectionTimeout",
      "openTimeout",
      "healthCheckInterval",
      "healthCheckTimeout",
      "staleAfter",
      "timeToLive",
      "maxLifetime",
      "idleTimeout"
    ] as const
    for (const field of allDurations) {
      it.effect(`${field}: a finite duration above 2^31-1 ms (about 24.8 days) is rejected`, () =>
        Effect.gen(function*() {
          yield* assertRejects({ [field]: "30 days" as Edge.DurationInput }, field, "30 days")
          yield* assertRejects({ [field]: 2 ** 31 }, field, 2 ** 31)
          yield* assertRejects({ [field]: Duration.days(25) }, field, Duration.days(25))
          const error = yield* rejection({ [field]: "30 days" as Edge.DurationInput })
          assert.include(error.issues[0]!.message, "at most 2^31-1 ms")
        }))
    }

    it.scoped("durations of up to 2^31-1 ms are accepted, and infinity where an option allows it", () =>
      Effect.gen(function*() {
        const longest = 2 ** 31 - 1
        const pool = yield* ConnectionPool.make(
          connector,
          Object.fromEntries(allDurations.map((field) => [field, longest]))
        )
        assert.isTrue(Duration.equals(pool.connectionTimeout, Duration.millis(longest)))
        const infinite = [
          "leakDetectionThreshold",
          "shutdownTimeout",
          "staleAfter",
          "timeToLive",
          "maxLifetime",
          "idleTimeout"
        ] as const
        yield* ConnectionPool.make(connector, Object.fromEntries(infinite.map((field) => [field, Duration.infinity])))
        for (const field of allDurations.filter((field) => !(infinite as ReadonlyArray<string>).includes(field))) {
          yield* assertRejects({ [field]: Duration.infinity }, field, Duration.infinity)
        }
      }))
  })

  it.effect("unhealthyScore outside 0 to 100 is rejected", () =>
    Effect.gen(function*() {
      yield* assertRejects({ unhealthyScore: 101 }, "unhealthyScore", 101)
      yield* assertRejects({ unhealthyScore: -1 }, "unhealthyScore", -1)
    }))

  it.effect("maxErrors must be a whole number above zero", () =>
    Effect.gen(function*() {
      yield* assertRejects({ maxErrors: 0 }, "maxErrors", 0)
      yield* assertRejects({ maxErrors: 1.5 }, "maxErrors", 1.5)
    }))

  it.effect("an unknown timeToLiveStrategy is rejected", () =>
    assertRejects({ timeToLiveStrategy: "sometimes" as "usage" }, "timeToLiveStrategy", "sometimes"))

  it.effect("an empty name is rejected", () => assertRejects({ name: "" }, "name", ""))

  it.effect("a misspelt option is rejected instead of being ignored", () =>
    Effect.gen(function*() {
      const error = yield* rejection({ maxConnection: 3 } as ConnectionPool.Options)
      assert.deepStrictEqual(error.fields, ["maxConnection"])
    }))

  it.effect("every bad field is named at once", () =>
    Effect.gen(function*() {
      const error = yield* rejection({ maxConnections: 0, connectionTimeout: -1, maxErrors: NaN })
      assert.sameMembers([...error.fields], ["maxConnections", "connectionTimeout", "maxErrors"])
    }))

  it.effect("ConnectionPool.make rejects bad options the same way", () =>
    Effect.gen(function*() {
      const error = yield* invalid(ConnectionPool.make(connector, { maxConnections: 0 }))
      assert.strictEqual(error._tag, "InvalidPoolOptions")
      assert.deepStrictEqual(error.fields, ["maxConnections"])
    }))

  it.scoped("valid options of every kind are accepted", () =>
    Effect.gen(function*() {
      const pool = yield* ConnectionPool.make(connector, {
        name: "valid",
        maxConnections: 3,
        minConnections: 3,
        connectionTimeout: 1500,
        healthCheckInterval: Duration.seconds(10),
        healthCheckTimeout: "1 second",
        staleAfter: Duration.infinity,
        unhealthyScore: 0,
        maxErrors: 1,
        timeToLive: "1 hour",
        timeToLiveStrategy: "creation"
      })
      assert.strictEqual(pool.maxConnections, 3)
      assert.isTrue(Duration.equals(pool.connectionTimeout, Duration.millis(1500)))
    }))

  describe("layerConfig", () => {
    const configLayer = ConnectionPool.layerConfig(Pool, connector, {
      maxConnections: Edge.configInt("POOL_MAX").pipe(Config.withDefault(10)),
      connectionTimeout: Edge.configDuration("POOL_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
      name: Edge.configString("POOL_NAME").pipe(Config.withDefault("from-config"))
    })
    const withEnv = Edge.withEnv

    it.effect("reads options from the environment", () =>
      Effect.gen(function*() {
        const pool = yield* Pool.pipe(
          Effect.provide(configLayer),
          withEnv({ POOL_MAX: "4", POOL_TIMEOUT: "2 seconds", POOL_NAME: "env-pool" })
        )
        assert.strictEqual(pool.maxConnections, 4)
        assert.strictEqual(pool.name, "env-pool")
        assert.isTrue(Duration.equals(pool.connectionTimeout, Duration.seconds(2)))
      }))

    it.effect("an unparsable number is rejected, naming the option and its key", () =>
      Effect.gen(function*() {
        const error = yield* invalid(Layer.build(configLayer)).pipe(withEnv({ POOL_MAX: "ten" }))
        assert.strictEqual(error._tag, "InvalidPoolOptions")
        assert.strictEqual(error.reason, "UnreadableConfig")
        assert.deepStrictEqual(error.fields, ["maxConnections"])
        assert.include(error.message, "POOL_MAX")
        // what Effect says of the value (Effect 4's message no longer quotes it: see the test edge)
        assert.include(error.message, Edge.unreadableIntegerDetail("ten"))
      }))

    it.effect("an unparsable duration is rejected, naming the option", () =>
      Effect.gen(function*() {
        const error = yield* invalid(Layer.build(configLayer)).pipe(
          withEnv({ POOL_TIMEOUT: "whenever", POOL_MAX: "x" })
        )
        assert.sameMembers([...error.fields], ["connectionTimeout", "maxConnections"])
      }))

    it.effect("a readable but invalid value is rejected like a direct option", () =>
      Effect.gen(function*() {
        const error = yield* invalid(Layer.build(configLayer)).pipe(withEnv({ POOL_MAX: "0" }))
        assert.strictEqual(error.reason, "InvalidValue")
        assert.deepStrictEqual(error.fields, ["maxConnections"])
        assert.strictEqual(error.issues[0]!.value, 0)
      }))

    it.effect("a whole Config of options works too", () =>
      Effect.gen(function*() {
        const layer = ConnectionPool.layerConfig(
          Pool,
          connector,
          Config.all({ maxConnections: Edge.configInt("POOL_MAX") })
        )
        const pool = yield* Pool.pipe(Effect.provide(layer), withEnv({ POOL_MAX: "7" }))
        assert.strictEqual(pool.maxConnections, 7)
        const error = yield* invalid(Layer.build(layer)).pipe(withEnv({ POOL_MAX: "many" }))
        assert.strictEqual(error.reason, "UnreadableConfig")
      }))
  })

  it("errors are tagged and recognised by isPoolError", () => {
    const error = new PoolError.InvalidPoolOptions({ reason: "InvalidValue", issues: [] })
    assert.isTrue(PoolError.isPoolError(error))
    assert.isFalse(PoolError.isPoolError(new Error("x")))
    assert.isTrue(Edge.isFailure(Edge.failed(error)))
  })
})

describe("maxWaiting", () => {
  it.effect("must be a whole number above zero", () =>
    Effect.gen(function*() {
      yield* assertRejects({ maxWaiting: 0 }, "maxWaiting", 0)
      yield* assertRejects({ maxWaiting: 2.5 }, "maxWaiting", 2.5)
    }))
})

describe("maxConnecting", () => {
  it.effect("must be a whole number above zero", () =>
    Effect.gen(function*() {
      yield* assertRejects({ maxConnecting: 0 }, "maxConnecting", 0)
      yield* assertRejects({ maxConnecting: 1.5 }, "maxConnecting", 1.5)
    }))
})
