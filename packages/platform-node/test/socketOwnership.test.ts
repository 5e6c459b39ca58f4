import { IpcAddress, IpcConnection, IpcServer } from "@connection-pool/platform-node"
import { within } from "@connection-pool/test-kit"
import { failureOption, inScope } from "@connection-pool/test-kit/internal/edge/effect"
import { callback, it } from "@connection-pool/test-kit/internal/edge/platformNode"
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { bytes, tempSocketPath, text } from "./utils.js"

/** The uid tests give a file to make it another user's (nobody). */
const nobody = 65534

/** Leaves a socket file at `target` that nothing listens on, as a server killed without closing would. */
const staleSocketAt = (target: string): Effect.Effect<void> =>
  callback<void>((resume) => {
    const bound = `${target}.bound`
    const server = net.createServer()
    server.listen(bound, () => {
      // A second name for the socket file: Node unlinks the first when the listener closes, this one stays.
      fs.linkSync(bound, target)
      server.close(() => resume(Exit.void))
    })
  })

const inodeOf = (file: string): number | undefined => {
  try {
    return fs.lstatSync(file).ino
  } catch {
    return undefined
  }
}

/** A server answering `<name>:<payload>`, so that a reply says which server it came from. */
const named = (name: string) => (payload: Uint8Array) => Effect.succeed(bytes(`${name}:${text(payload)}`))

/** A directory of the test's own under the system's temporary one, removed with the scope. */
const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "cp-dir-"))),
  (directory) => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true }))
)

/** Runs `self` with environment variables set (or removed, for `undefined`), restored after. */
const withEnv = (vars: Record<string, string | undefined>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const previous: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(vars)) {
        previous[name] = process.env[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return previous
    }),
    () => self,
    (previous) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

describe("Unix socket files: who owns them, who may remove them", () => {
  it.scopedLive("two servers started at once on one stale path: one listens, the other fails, and the live file stays (30 rounds)", () =>
    Effect.gen(function*() {
      const socketPath = yield* tempSocketPath("race")
      const rounds = 30
      let listened = 0
      for (let round = 1; round <= rounds; round++) {
        yield* staleSocketAt(socketPath)
        const roundScope = yield* Scope.make()
        const results = yield* Effect.all(
          ["a", "b"].map((name) =>
            Effect.exit(inScope(IpcServer.make({ path: socketPath, handler: named(name) }), roundScope))
          ),
          { concurrency: "unbounded" }
        )
        const winners = results.filter(Exit.isSuccess)
        assert.strictEqual(winners.length, 1, `round ${round}: exactly one server listens`)
        listened += winners.length
        const loser = Option.getOrUndefined(failureOption(results.find(Exit.isFailure)!.cause))
        assert.strictEqual(loser?._tag === "ServerError" && loser.reason, "AddressInUse")
        // The file at the path is the winner's live one (it answers), and stays (a filesystem may give it the stale
        // file's inode number, so the answer is what tells it apart).
        const live = inodeOf(socketPath)
        const connection = yield* inScope(IpcConnection.connect({ path: socketPath }), roundScope)
        const reply = text(yield* connection.request(bytes(`r${round}`)).pipe(within("2 seconds", "the reply")))
        assert.match(reply, new RegExp(`^[ab]:r${round}$`))
        assert.strictEqual(inodeOf(socketPath), live, `round ${round}: the live socket file is still there`)
        yield* Scope.close(roundScope, Exit.void)
        // Closed, the winner removes its own file.
        assert.isUndefined(inodeOf(socketPath))
      }
      assert.strictEqual(listened, rounds)
    }))

  it.scopedLive("a server closing after its file was replaced by another's leaves the other's file in place", () =>
    Effect.gen(function*() {
      const socketPath = yield* tempSocketPath("replaced")
      const firstScope = yield* Scope.make()
      yield* inScope(IpcServer.make({ path: socketPath, handler: named("first") }), firstScope)
      // Someone removes the first server's file, and a second server binds the path.
      fs.unlinkSync(socketPath)
      yield* IpcServer.make({ path: socketPath, handler: named("second") })
      const second = inodeOf(socketPath)
      yield* Scope.close(firstScope, Exit.void)
      assert.strictEqual(inodeOf(socketPath), second)
      const connection = yield* IpcConnection.connect({ path: socketPath })
      assert.strictEqual(text(yield* connection.request(bytes("x")).pipe(within("2 seconds", "the reply"))), "second:x")
    }))

  it.scopedLive("the connector refuses a socket owned by another user, naming the owner, before sending a byte", () =>
    Effect.gen(function*() {
      const socketPath = yield* tempSocketPath("other-user")
      // A server another user started: tests run as root, so the socket file is given to nobody.
      let received = 0
      const foreign = net.createServer((socket) => socket.on("data", (chunk) => received += chunk.length))
      yield* Effect.acquireRelease(
        callback<void>((resume) => void foreign.listen(socketPath, () => resume(Exit.void))),
        () => callback<void>((resume) => void foreign.close(() => resume(Exit.void)))
      )
      fs.chownSync(socketPath, nobody, nobody)
      const me = process.getuid!()
      const refused = yield* Effect.flip(
        IpcConnection.connect({ path: socketPath, auth: { token: "a-secret-token-of-some-length" } })
      )
      assert.strictEqual(refused._tag, "SocketError")
      assert.strictEqual(refused._tag === "SocketError" && refused.reason, "WrongOwner")
      assert.strictEqual(refused._tag === "SocketError" && refused.owner, nobody)
      assert.strictEqual(refused._tag === "SocketError" && refused.expectedOwner, me)
      assert.include(refused.message, `uid ${nobody}`)
      // Nothing reached the other user's server: not the token, not a request.
      yield* Effect.sleep("50 millis")
      assert.strictEqual(received, 0)
      // Trusted by name, or any owner at all, it connects.
      yield* IpcConnection.connect({ path: socketPath, socketOwner: nobody })
      yield* IpcConnection.connect({ path: socketPath, socketOwner: "any" })
    }))

  it.effect("socketOwner is validated, naming the field", () =>
    Effect.gen(function*() {
      for (const socketOwner of [-1, 1.5, "nobody"] as const) {
        const error = yield* Effect.flip(IpcConnection.connect({ path: "/tmp/x.sock", socketOwner: socketOwner as 0 }))
        assert.deepStrictEqual(error._tag === "InvalidIpcOptions" && error.fields, ["socketOwner"])
      }
    }).pipe(Effect.scoped))
})

describe("IpcAddress.localPath", () => {
  it.scopedLive("puts sockets in a 0700 directory of the user's under the temporary directory, made under any umask", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDirectory
      const previous = process.umask(0o000)
      const socketPath = yield* IpcAddress.localPath("app").pipe(
        withEnv({ TMPDIR: tmp, XDG_RUNTIME_DIR: undefined }),
        Effect.ensuring(Effect.sync(() => process.umask(previous)))
      )
      const directory = path.join(tmp, `connection-pool-${process.getuid!()}`)
      assert.strictEqual(socketPath, path.join(directory, "app.sock"))
      const stats = fs.lstatSync(directory)
      assert.isTrue(stats.isDirectory())
      assert.strictEqual((stats.mode & 0o777).toString(8), "700")
      // A server listens there, and its socket is the owner's only.
      yield* IpcServer.make({ path: socketPath, handler: IpcServer.echoHandler })
      assert.strictEqual((fs.statSync(socketPath).mode & 0o777).toString(8), "600")
      const connection = yield* IpcConnection.connect({ path: socketPath })
      assert.strictEqual(text(yield* connection.request(bytes("ok")).pipe(within("2 seconds", "the reply"))), "ok")
    }))

  it.scopedLive("refuses a directory there that is open to others, another user's, or not a directory", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDirectory
      const directory = path.join(tmp, `connection-pool-${process.getuid!()}`)
      const attempt = Effect.flip(IpcAddress.localPath("app")).pipe(
        withEnv({ TMPDIR: tmp, XDG_RUNTIME_DIR: undefined })
      )

      fs.mkdirSync(directory)
      fs.chmodSync(directory, 0o755)
      const open = yield* attempt
      assert.strictEqual(open._tag === "SocketDirectoryError" && open.reason, "OpenToOthers")
      assert.strictEqual(open._tag === "SocketDirectoryError" && open.mode, 0o755)

      fs.chmodSync(directory, 0o700)
      fs.chownSync(directory, nobody, nobody)
      const theirs = yield* attempt
      assert.strictEqual(theirs._tag === "SocketDirectoryError" && theirs.reason, "WrongOwner")
      assert.strictEqual(theirs._tag === "SocketDirectoryError" && theirs.owner, nobody)
      assert.include(theirs.message, directory)

      fs.rmdirSync(directory)
      fs.symlinkSync(tmp, directory)
      const link = yield* attempt
      assert.strictEqual(link._tag === "SocketDirectoryError" && link.reason, "NotADirectory")
    }))

  it.scopedLive("uses $XDG_RUNTIME_DIR when it is private to the user, and not otherwise", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDirectory
      const runtime = path.join(tmp, "runtime")
      fs.mkdirSync(runtime, { mode: 0o700 })
      const inRuntime = yield* IpcAddress.localPath("app").pipe(withEnv({ TMPDIR: tmp, XDG_RUNTIME_DIR: runtime }))
      assert.strictEqual(inRuntime, path.join(runtime, "app.sock"))
      fs.chmodSync(runtime, 0o777)
      const fallback = yield* IpcAddress.localPath("app").pipe(withEnv({ TMPDIR: tmp, XDG_RUNTIME_DIR: runtime }))
      assert.strictEqual(fallback, path.join(tmp, `connection-pool-${process.getuid!()}`, "app.sock"))
    }))

  it.effect("refuses a name that would leave the directory, naming the field", () =>
    Effect.gen(function*() {
      for (const name of ["", "../up", "a/b", "..", "nul\0"]) {
        const error = yield* Effect.flip(IpcAddress.localPath(name))
        assert.deepStrictEqual(error._tag === "InvalidIpcOptions" && error.fields, ["name"], JSON.stringify(name))
      }
    }))
})
