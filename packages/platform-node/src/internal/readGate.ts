import type * as net from "node:net"

/** Why reading a connection is paused: bits, since several reasons can hold at once. */
export const PausedFor = {
  /** Its queued replies passed `writeHighWaterMark`. */
  Backpressure: 1,
  /** It has `maxInFlight` requests being handled. */
  InFlight: 2
} as const

/**
 * Owns whether a connection's socket is read, and the deadline of the frame it is partway through. One timer
 * per connection, armed when a frame starts arriving and left running between frames (re-armed for what is
 * left when it fires early), so that the request path arms no timer.
 */
export class ReadGate {
  private pausedFor = 0
  /** When the frame now arriving began to arrive (`Date.now()`), 0 when no frame is partly in. */
  private partialSince = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    private readonly socket: net.Socket,
    private readonly frameDeadlineMillis: number,
    private readonly onDeadline: () => void
  ) {}

  isPausedFor(reason: number): boolean {
    return (this.pausedFor & reason) !== 0
  }

  pause(reason: number): void {
    if (this.pausedFor === 0) this.socket.pause()
    this.pausedFor |= reason
  }

  resume(reason: number): void {
    if ((this.pausedFor & reason) === 0) return
    this.pausedFor &= ~reason
    if (this.pausedFor === 0 && !this.socket.destroyed) {
      // The deadline counts the client's slowness, not the time the server would not read.
      if (this.partialSince !== 0) this.partialSince = Date.now()
      this.socket.resume()
    }
  }

  /** After each chunk: whether a frame is now partly received. */
  received(partial: boolean): void {
    if (!partial) {
      this.partialSince = 0
    } else if (this.partialSince === 0) {
      this.partialSince = Date.now()
      if (this.timer === undefined) this.arm(this.frameDeadlineMillis)
    }
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm(millis: number): void {
    this.timer = setTimeout(this.onTimer, millis)
    this.timer.unref?.()
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    if (this.partialSince === 0 || this.socket.destroyed) return
    if (this.pausedFor !== 0) return this.arm(this.frameDeadlineMillis)
    const left = this.partialSince + this.frameDeadlineMillis - Date.now()
    if (left > 0) return this.arm(left)
    this.onDeadline()
  }
}
