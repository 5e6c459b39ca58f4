import { type CloseReason, closeReasons } from "../PoolEvent.js"

/** A count per close reason, every one at zero: the starting point of `PoolStats.closedByReason`. */
export const emptyCloseCounts = (): Record<CloseReason, number> =>
  Object.fromEntries(closeReasons.map((reason) => [reason, 0])) as Record<CloseReason, number>
