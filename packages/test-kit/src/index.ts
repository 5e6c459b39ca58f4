/**
 * Test support shared by the workspace's tests (private; never published): bounded waits, the reliability
 * switch, an in-memory connector and pool, and the chaos run.
 */
export * as Chaos from "./chaos.js"
export * from "./liveServers.js"
export * from "./reliability.js"
export * from "./testPool.js"
export * from "./waiting.js"
