/**
 * The cases of issue 17 at scale: what one careless or hostile local client did to the server before it had
 * limits, re-run. Modest sizes by default; `RELIABILITY=full` runs the issue's own sizes.
 */
import { IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { bySize, eventually, recordReliability, within } from "@connection-pool/test-kit"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { rawClient, requestFrame } from "./rawClient.js"
import { bytes, forkServer, rssOf, tempSocketPath, text } from "./utils.js"

const MiB = 1024 * 1024
const family = "Hostile IPC clients"
const timeout = bySize(60_000, 300_000)

const heapAfterGc = (): number => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed
}

describe("the IPC server under hostile clients, at scale", () => {
  it.live(
    "a client sending 1 MiB echo requests and never reading: the server process's RSS stays bounded",
    (ctx) =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("scale-no-read")
        const server = yield* forkServer(["--path", path])
        const before = rssOf(server.pid)
        const client = yield* rawClient({ path }, { read: false })
        const frame = requestFrame(1, new Uint8Array(MiB).fill(1))
        const seconds = bySize(2, 14)
        const end = Date.now() + seconds * 1000
        let sent = 0
        let peak = before
        // Writes as fast as the server takes them (the client's own buffer kept under 4 MiB).
        while (Date.now() < end) {
          if (client.socket.writableLength < 4 * MiB) {
            client.socket.write(frame)
            sent++
          } else {
            yield* Effect.sleep("20 millis")
          }
          if (sent % 16 === 0) peak = Math.max(peak, rssOf(server.pid))
        }
        peak = Math.max(peak, rssOf(server.pid))
        const growth = peak - before
        console.log(
          `no-read client, ${seconds} s: ${sent} MiB offered, server RSS ${before} -> peak ${peak} (+${growth})`
        )
        // Before the limits it grew by 2 GiB in 14 s; now replies queue to writeHighWaterMark (1 MiB), then it
        // stops reading.
        assert.isBelow(growth, 64 * MiB)
        // It still serves others.
        const other = yield* IpcConnection.connect({ path })
        assert.strictEqual(text(yield* other.request(bytes("hi")).pipe(within("5 seconds", "a reply"))), "hi")
        recordReliability(ctx, {
          family,
          did: { case: "no-read client", seconds, requestsOfferedMiB: sent },
          held: { serverRssGrowthMiB: Math.round(growth / MiB), boundMiB: 64 }
        })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "pipelined requests to a slow handler are held to maxInFlight: the heap stays bounded, then all are answered",
    (ctx) =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("scale-pipelined")
        const gate = yield* Deferred.make<void>()
        let running = 0
        const server = yield* IpcServer.make({
          path,
          handler: (payload) => {
            running++
            return Effect.as(Deferred.await(gate), payload).pipe(Effect.ensuring(Effect.sync(() => running--)))
          }
        })
        const count = bySize(3_000, 300_000)
        const heapBefore = heapAfterGc()
        const client = yield* rawClient({ path })
        const frames = Buffer.concat(Array.from({ length: count }, (_, i) => requestFrame(i + 1, bytes(`${i + 1}`))))
        client.socket.write(frames)
        yield* eventually(() => running === 1024, "the default cap of 1,024 to fill", "10 seconds")
        yield* Effect.sleep("300 millis") // time to start more, if the cap did not hold
        const heapHeld = heapAfterGc() - heapBefore
        assert.strictEqual(running, 1024)
        assert.strictEqual((yield* server.stats).requests, 1024)
        console.log(`${count} pipelined: 1024 running, heap +${heapHeld} bytes while held`)
        // Before the cap, 300,000 were all accepted: 1.4 GiB of heap.
        assert.isBelow(heapHeld, 64 * MiB)
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(
          () => client.frames.length === count,
          `all ${count} replies`,
          bySize("20 seconds", "240 seconds")
        )
        assert.strictEqual((yield* server.stats).requests, count)
        recordReliability(ctx, {
          family,
          did: { case: "pipelined requests", requests: count },
          held: { peakRunning: 1024, heapHeldMiB: Math.round(heapHeld / MiB), answered: client.frames.length }
        })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "slow connections (a 16 MiB header, then a byte every 10 ms) against a server with a 64 MiB heap: it survives, they are closed at the frame deadline",
    (ctx) =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("scale-slow")
        const deadlineMillis = bySize(1_000, 12_000)
        const server = yield* forkServer(["--path", path, "--frame-deadline", String(deadlineMillis)], [
          "--max-old-space-size=64"
        ])
        const count = bySize(100, 300)
        const clients = yield* Effect.forEach(Array.from({ length: count }), () => rawClient({ path }))
        const header = Buffer.from(requestFrame(1, new Uint8Array(0)))
        header.writeUInt32BE(16 * MiB - 1, 0)
        for (const client of clients) client.socket.write(header)
        let dribbled = 0
        const dribble = setInterval(() => {
          for (const client of clients) {
            if (client.socket.writable) {
              client.socket.write(Buffer.of(0))
              dribbled++
            }
          }
        }, 10)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(dribble)))
        let peak = rssOf(server.pid)
        const sampler = setInterval(() => {
          if (server.child.exitCode === null) peak = Math.max(peak, rssOf(server.pid))
        }, 100)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sampler)))
        const started = Date.now()
        yield* Effect.forEach(clients, (client) => Deferred.await(client.closed), { discard: true }).pipe(
          within(`${deadlineMillis + 5_000} millis`, "every slow connection to be closed")
        )
        const took = Date.now() - started
        assert.isNull(server.child.exitCode, "the server is alive")
        assert.isAtLeast(took, deadlineMillis - 200, "closed by the deadline, not before")
        const connection = yield* IpcConnection.connect({ path })
        assert.strictEqual(
          text(yield* connection.request(bytes("alive")).pipe(within("5 seconds", "a reply"))),
          "alive"
        )
        console.log(
          `${count} slow connections, ${dribbled} bytes dribbled: closed after ${took} ms, server peak RSS ${peak}`
        )
        recordReliability(ctx, {
          family,
          did: { case: "slow connections, 64 MiB heap", connections: count, bytesDribbled: dribbled, deadlineMillis },
          held: { closedAfterMillis: took, serverPeakRssMiB: Math.round(peak / MiB), serverAlive: 1 }
        })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "idle connections: held to maxConnections, the rest refused, the idle ones closed at idleTimeout",
    (ctx) =>
      Effect.gen(function*() {
        const path = yield* tempSocketPath("scale-idle")
        const maxConnections = bySize(100, 1024)
        const count = bySize(300, 3_000)
        const server = yield* IpcServer.make({
          path,
          handler: IpcServer.echoHandler,
          maxConnections,
          idleTimeout: bySize("2 seconds", "20 seconds")
        })
        const clients = yield* Effect.forEach(Array.from({ length: count }), () => rawClient({ path }))
        yield* Effect.forEach(clients, (client) => Deferred.await(client.closed), { discard: true }).pipe(
          within("30 seconds", "every connection to be closed")
        )
        yield* server.awaitOpenConnections((open) => open === 0).pipe(
          within("5 seconds", "the server to drop them all")
        )
        const stats = yield* server.stats
        console.log(`${count} idle connections: ${JSON.stringify(stats)}`)
        assert.strictEqual(stats.open, 0)
        assert.strictEqual(stats.peakOpen, maxConnections)
        assert.strictEqual(stats.closed.TooManyConnections, count - maxConnections)
        assert.strictEqual(stats.closed.IdleTimeout, maxConnections)
        recordReliability(ctx, {
          family,
          did: { case: "idle connections", connections: count, maxConnections },
          held: {
            peakOpen: stats.peakOpen,
            refused: stats.closed.TooManyConnections,
            closedIdle: stats.closed.IdleTimeout
          }
        })
      }).pipe(Effect.scoped),
    timeout
  )
})
