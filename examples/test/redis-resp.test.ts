/**
 * The RESP2 parser of the Redis example, without a server: every reply type, replies split at every byte (partial
 * reads) and several replies in one chunk (pipelining), and garbage.
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeCommand, MalformedReply, RedisReplyError, type RedisValue, ReplyParser } from "../redis/connector.js"

const wire = [
  "+OK\r\n",
  "-ERR unknown command 'NOPE'\r\n",
  ":42\r\n",
  ":-7\r\n",
  "$11\r\nhello world\r\n",
  "$0\r\n\r\n",
  "$-1\r\n",
  "$6\r\nh\u00e9llo\r\n", // 6 bytes, 5 characters
  "$4\r\na\r\nb\r\n", // a CRLF inside a bulk string is data
  "*0\r\n",
  "*-1\r\n",
  "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n-WRONGTYPE nested\r\n"
].join("")

const expected: Array<RedisValue> = [
  "OK",
  new RedisReplyError({ reason: "ErrorReply", code: "ERR", detail: "unknown command 'NOPE'" }),
  42,
  -7,
  "hello world",
  "",
  null,
  "h\u00e9llo",
  "a\r\nb",
  [],
  null,
  [1, ["a", "b"], new RedisReplyError({ reason: "ErrorReply", code: "WRONGTYPE", detail: "nested" })]
]

const parseChunks = (chunks: ReadonlyArray<Buffer>): Array<RedisValue> => {
  const parser = new ReplyParser()
  const replies: Array<RedisValue> = []
  for (const chunk of chunks) parser.push(chunk, (reply) => replies.push(reply))
  return replies
}

describe("RESP2 parser", () => {
  const bytes = Buffer.from(wire)

  it("parses every reply type, several in one chunk", () => {
    assert.deepStrictEqual(parseChunks([bytes]), expected)
  })

  it("parses the same replies fed one byte at a time", () => {
    const chunks = Array.from(bytes, (byte) => Buffer.from([byte]))
    assert.deepStrictEqual(parseChunks(chunks), expected)
  })

  it("parses the same replies split at every possible point", () => {
    for (let split = 1; split < bytes.length; split++) {
      assert.deepStrictEqual(parseChunks([bytes.subarray(0, split), bytes.subarray(split)]), expected, `split ${split}`)
    }
  })

  it("delivers nothing for an incomplete reply until its last byte", () => {
    const parser = new ReplyParser()
    const replies: Array<RedisValue> = []
    parser.push(Buffer.from("*2\r\n$3\r\nabc\r\n$3\r\nde"), (reply) => replies.push(reply))
    assert.deepStrictEqual(replies, [])
    parser.push(Buffer.from("f\r\n"), (reply) => replies.push(reply))
    assert.deepStrictEqual(replies, [["abc", "def"]])
  })

  it("throws on bytes that are not RESP2", () => {
    for (const garbage of ["?what\r\n", ":4x\r\n", "$3\r\nabcXY", "$-2\r\n", "*-5\r\n"]) {
      assert.throws(() => parseChunks([Buffer.from(garbage)]), MalformedReply, undefined, garbage)
    }
  })

  it("encodes commands as arrays of bulk strings, lengths in bytes", () => {
    assert.strictEqual(encodeCommand(["SET", "k\u00e9y", 12]), "*3\r\n$3\r\nSET\r\n$4\r\nk\u00e9y\r\n$2\r\n12\r\n")
  })
})
