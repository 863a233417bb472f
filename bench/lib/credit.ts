/**
 * Issues messages as fast as the receivers can take them, and no faster: a sliding window of
 * `window` messages beyond what every receiver has already counted (the parent turns client
 * progress into `credit(upTo)` calls). Pipelining this way keeps the sender busy and the server
 * the bottleneck, without letting socket backlogs grow until the server drops slow readers.
 */
import { nowMs } from './ipc.ts'

export interface DriveResult {
  /** Messages issued. */
  sent: number
  /** When the first message was issued (nowMs). */
  startAt: number
  /** When issuing stopped (deadline reached). */
  stopAt: number
}

export interface DriveOptions {
  /** Messages that may be outstanding beyond the receivers' progress. */
  window: number
  /** Stop issuing after this long. */
  durationMs: number
}

export class CreditDriver {
  private allowed: number
  private sent = 0
  private startAt = 0
  private deadline = 0
  private done: ((r: DriveResult) => void) | null = null
  private timer: NodeJS.Timeout | undefined

  /** @param issue sends message number `i` (0-based); must not throw. */
  constructor(private readonly issue: (i: number) => void, private readonly opts: DriveOptions) {
    this.allowed = opts.window
  }

  run(): Promise<DriveResult> {
    return new Promise((resolve) => {
      this.done = resolve
      this.startAt = nowMs()
      this.deadline = this.startAt + this.opts.durationMs
      this.timer = setTimeout(() => this.finish(), this.opts.durationMs)
      this.pump()
    })
  }

  /** Receivers have taken `delivered` messages each: `window` more may be outstanding. */
  credit(delivered: number): void {
    const upTo = delivered + this.opts.window
    if (upTo <= this.allowed) return
    this.allowed = upTo
    this.pump()
  }

  private pump(): void {
    if (!this.done) return
    // The deadline is checked per message: a slow issuer (the naive baseline writes to every socket
    // inside issue) must not overrun it by a whole window.
    while (this.sent < this.allowed) {
      if (nowMs() >= this.deadline) return this.finish()
      this.issue(this.sent++)
    }
  }

  private finish(): void {
    const done = this.done
    if (!done) return
    this.done = null
    clearTimeout(this.timer)
    done({ sent: this.sent, startAt: this.startAt, stopAt: nowMs() })
  }
}
