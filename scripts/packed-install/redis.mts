/**
 * `@connection-pool/redis` as a user installs it (with node-redis from the registry): a pooled command through the
 * layer, against a port where nothing listens, so the run needs no Redis server. It must fail as documented: the
 * pool's `ConnectionError` carrying the package's typed error, which names the reason and the errno code.
 */
import { RedisError, RedisPool } from "@connection-pool/redis"
import { Effect } from "effect"

const program = RedisPool.run((client) => client.ping()).pipe(
  Effect.map((reply): string => `answered ${reply}`),
  Effect.catchTag("ConnectionError", (error) =>
    Effect.succeed(
      RedisError.isRedisError(error.cause) && error.cause._tag === "RedisConnectionError"
        ? `${error._tag}: ${error.cause._tag} ${error.cause.reason} ${error.cause.code}`
        : `${error._tag}: ${String(error.cause)}`
    )),
  Effect.provide(RedisPool.layer({ host: "127.0.0.1", port: 1, connectTimeout: "5 seconds" }, { name: "packed" }))
)

Effect.runPromise(program).then((redis) => console.log(JSON.stringify({ redis })))
