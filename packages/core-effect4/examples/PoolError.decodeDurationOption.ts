import { PoolError } from "@connection-pool/core"
import { Result } from "effect"

console.log(Result.isSuccess(PoolError.decodeDurationOption("timeout", "5 seconds"))) // true
const refused = PoolError.decodeDurationOption("timeout", "30 days")
if (Result.isFailure(refused)) console.log(PoolError.formatOptionIssues([refused.failure]))
// timeout ("30 days"): must be a duration above zero and at most 2^31-1 ms (about 24.8 days): ...
