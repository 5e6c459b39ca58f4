/**
 * The health-score policy. A connection starts at 100. A health check that succeeds raises the score by
 * 10 (at most 100), one that fails or times out lowers it by 25 and counts an error; a borrower's
 * failure that the connector calls the connection's fault lowers it by 10 and counts an error. A
 * connection at or below the pool's `unhealthyScore`, or with `maxErrors` errors, is retired. With the
 * defaults, two failed checks in a row (100 -> 75 -> 50) retire a connection.
 */

export const initialScore = 100
export const checkSucceededBonus = 10
export const checkFailedPenalty = 25
export const faultPenalty = 10

const clamp = (score: number): number => Math.min(100, Math.max(0, score))

export const afterCheckSucceeded = (score: number): number => clamp(score + checkSucceededBonus)
export const afterCheckFailed = (score: number): number => clamp(score - checkFailedPenalty)
export const afterFault = (score: number): number => clamp(score - faultPenalty)
