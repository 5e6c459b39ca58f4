/**
 * Test support shared by the workspace's tests (private; never published): bounded waits, the reliability
 * switch, an in-memory connector and pool, the chaos run, and the test edge: what differs between the Effect 3 and
 * Effect 4 lines, under one name (`Edge`, with `it` and `TestClock` also exported by themselves).
 */
export * as Chaos from "./chaos.js"
export * as Edge from "./internal/edge/effect.js"
export { it, TestClock } from "./internal/edge/effect.js"
export * from "./liveServers.js"
export * from "./reliability.js"
export * from "./testPool.js"
export * from "./waiting.js"
