import { IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { eventually, within } from "@connection-pool/test-kit"
import { it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { rawClient, requestFrame } from "./rawClient.js"
import { bytes, tempSocketPath, text } from "./utils.js"

describe("IpcServer limits", () => {
  it.scopedLive("maxConnections: connections beyond it are destroyed at once and counted; a freed slot is reused", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("max-connections")
      const server = yield* IpcServer.make({ path, handler: IpcServer.echoHandler, maxConnections: 3 })
      const clients = yield* Effect.forEach(Array.from({ length: 8 }), () => rawClient({ path }))
      yield* eventually(
        () => Effect.map(server.stats, (stats) => stats.closed.TooManyConnections === 5),
        "five connections refused"
      )
      const stats = yield* server.stats
      assert.strictEqual(stats.open, 3)
      assert.strictEqual(stats.peakOpen, 3)
      // The refused ones see their connection closed; the three others still work.
      const refused = clients.slice(3)
      yield* Effect.forEach(refused, (client) => Deferred.await(client.closed)).pipe(
        within("2 seconds", "the refusals")
      )
      clients[0]!.socket.destroy()
      yield* server.awaitOpenConnections((open) => open === 2).pipe(within("2 seconds", "the slot to free"))
      const connection = yield* IpcConnection.connect({ path })
      assert.strictEqual(text(yield* connection.request(bytes("in")).pipe(within("2 seconds", "reply"))), "in")
    }))

  it.scopedLive("maxInFlight: at the cap the server stops reading; 300 pipelined requests never run more than the cap at once", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("in-flight")
      const gate = yield* Deferred.make<void>()
      let running = 0
      let peakRunning = 0
      const server = yield* IpcServer.make({
        path,
        maxInFlight: 4,
        handler: (payload) =>
          Effect.acquireUseRelease(
            Effect.sync(() => {
              running++
              peakRunning = Math.max(peakRunning, running)
            }),
            () => Effect.as(Deferred.await(gate), payload),
            () => Effect.sync(() => running--)
          )
      })
      const client = yield* rawClient({ path })
      const count = 300
      client.socket.write(
        Buffer.concat(Array.from({ length: count }, (_, i) => requestFrame(i + 1, bytes(`r${i + 1}`))))
      )
      yield* eventually(() => running === 4, "the cap to fill")
      yield* Effect.sleep("200 millis") // time to start more, if the cap did not hold
      assert.strictEqual(running, 4)
      assert.strictEqual((yield* server.stats).requests, 4)
      assert.isAtLeast((yield* server.stats).inFlightPauses, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* eventually(() => client.frames.length === count, `all ${count} replies`, "10 seconds")
      assert.strictEqual(peakRunning, 4)
      assert.deepStrictEqual(
        client.frames.map((frame) => text(frame.payload)).sort(),
        Array.from({ length: count }, (_, i) => `r${i + 1}`).sort()
      )
      assert.strictEqual((yield* server.stats).requests, count)
    }))

  it.scopedLive("idleTimeout: a silent connection is closed; one with a request being handled is not", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("idle")
      const server = yield* IpcServer.make({
        path,
        idleTimeout: "200 millis",
        handler: (payload) => Effect.as(Effect.sleep("600 millis"), payload)
      })
      const silent = yield* rawClient({ path })
      const busy = yield* IpcConnection.connect({ path })
      const reply = yield* busy.request(bytes("slow")).pipe(within("3 seconds", "the slow reply"))
      assert.strictEqual(text(reply), "slow")
      yield* Deferred.await(silent.closed).pipe(within("3 seconds", "the silent connection to be closed"))
      yield* eventually(() => Effect.map(server.stats, (stats) => stats.closed.IdleTimeout >= 1), "the count")
    }))

  it.scopedLive("frameDeadline: a header then a byte now and then is closed; idle limits are not what closes it", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath("slow-sender")
      const server = yield* IpcServer.make({
        path,
        handler: IpcServer.echoHandler,
        frameDeadline: "300 millis",
        idleTimeout: "1 minute"
      })
      const client = yield* rawClient({ path })
      const frame = requestFrame(1, new Uint8Array(1000))
      client.socket.write(frame.subarray(0, 10))
      let sent = 10
      const dribble = setInterval(() => {
        if (client.socket.writable && sent < frame.length) client.socket.write(frame.subarray(sent, ++sent))
      }, 20)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(dribble)))
      yield* Deferred.await(client.closed).pipe(within("3 seconds", "the slow sender to be closed"))
      const stats = yield* server.stats
      assert.strictEqual(stats.closed.FrameDeadline, 1)
      assert.strictEqual(stats.closed.IdleTimeout, 0)
      assert.strictEqual(stats.requests, 0)
      assert.isBelow(sent, frame.length)
    }))

  it.effect("each limit is validated, naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        IpcServer.make({
          port: 0,
          handler: IpcServer.echoHandler,
          maxConnections: 0,
          maxInFlight: 1.5,
          idleTimeout: -1,
          frameDeadline: "soon" as never
        })
      ).pipe(Effect.scoped)
      assert.strictEqual(error._tag, "InvalidIpcOptions")
      assert.deepStrictEqual(
        error._tag === "InvalidIpcOptions" && error.fields,
        ["maxConnections", "maxInFlight", "idleTimeout", "frameDeadline"]
      )
    }))
})
