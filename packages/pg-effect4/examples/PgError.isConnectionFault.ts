import { PgError, PgPool } from "@connection-pool/pg"
import { Effect, Schedule } from "effect"

const read = PgPool.query<{ readonly id: number }>("SELECT id FROM users").pipe(
  Effect.retry({ schedule: Schedule.exponential("10 millis"), times: 5, while: PgError.isConnectionFault })
)
