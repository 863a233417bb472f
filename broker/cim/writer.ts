/**
 * Outbound path of a CIM socket: a bounded per-socket queue, flushed for every dirty socket once per
 * event-loop turn (one global setImmediate), so a burst of pushes to one client becomes one write.
 *
 * Hot path: enqueueing a frame is one or two array pushes and a bounds check — no closure, no
 * promise, no copy. Frames are pre-framed Buffers (varint length + body), usually shared between
 * recipients (a broadcast's body) plus a per-recipient tail.
 */
import type { Socket } from 'node:net'

/** Chunks totalling at most this many bytes are joined into one buffer before writing. */
const CONCAT_LIMIT = 64 * 1024
/**
 * A queue this large is handed to the socket at once instead of at the end of the turn, so a
 * burst to a client that does read lands in its kernel buffer rather than counting against
 * maxQueuedBytes.
 */
const EAGER_FLUSH_BYTES = 64 * 1024

/** Flushes every writer that queued something during this turn, in one setImmediate callback. */
export class FlushScheduler {
  private dirty: Writer[] = []
  private spare: Writer[] = []
  private scheduled = false
  private readonly run = (): void => this.flushAll()

  /**
   * @param maxQueuedBytes a socket whose kernel-side backlog (writableLength) plus queued bytes
   *   would exceed this is a slow reader and is dropped (config.maxQueuedBytes, default 1 MiB).
   */
  constructor(readonly maxQueuedBytes: number) {}

  mark(w: Writer): void {
    this.dirty.push(w)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.run)
    }
  }

  /** Writes everything queued now (also used before closing a socket). */
  flushAll(): void {
    this.scheduled = false
    const list = this.dirty
    // Swap lists so writers marked while flushing (none today) land in the next turn.
    this.dirty = this.spare
    this.spare = list
    for (let i = 0; i < list.length; i++) list[i].flush()
    list.length = 0
  }
}

/**
 * One socket's queue. Sessions extend it (one object per connection keeps idle memory small).
 */
export abstract class Writer {
  /** Pending chunks; created on first use and reused. */
  private chunks: Buffer[] | null = null
  private queued = 0
  private dirty = false

  constructor(readonly socket: Socket, protected readonly scheduler: FlushScheduler) {}

  /** Called once when the socket's backlog passes the limit; the subclass logs and destroys. */
  protected abstract onSlowConsumer(bytes: number): void

  /** True while frames may still be queued (not closing, not destroyed). */
  protected abstract get writable(): boolean

  /** Bytes queued here and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.queued
  }

  private admit(len: number): boolean {
    if (!this.writable) return false
    const total = this.socket.writableLength + this.queued + len
    if (total > this.scheduler.maxQueuedBytes) {
      this.drop()
      this.onSlowConsumer(total)
      return false
    }
    if (!this.dirty) {
      this.dirty = true
      this.scheduler.mark(this)
    }
    return true
  }

  /** Queues one framed buffer. Returns false when the socket is closing or was just dropped. */
  write(frame: Buffer): boolean {
    if (!this.admit(frame.length)) return false
    ;(this.chunks ??= []).push(frame)
    if ((this.queued += frame.length) >= EAGER_FLUSH_BYTES) this.writeOut()
    return true
  }

  /** Queues a frame made of two parts (shared length-prefixed body + per-recipient tail). */
  write2(head: Buffer, tail: Buffer): boolean {
    const len = head.length + tail.length
    if (!this.admit(len)) return false
    const c = (this.chunks ??= [])
    c.push(head, tail)
    if ((this.queued += len) >= EAGER_FLUSH_BYTES) this.writeOut()
    return true
  }

  /**
   * Writes queued frames then `frame` at once, calling `done` when the socket has taken it
   * (used where an action waits for the write: acking replayed messages of upstream clients).
   */
  writeNow(frame: Buffer, done: (err?: Error | null) => void): void {
    this.writeOut()
    if (this.socket.destroyed) return done(new Error('socket closed'))
    this.socket.write(frame, done)
  }

  /** The scheduler's end-of-turn flush (also used before closing). */
  flush(): void {
    this.dirty = false
    this.writeOut()
  }

  /** Hands queued chunks to the socket: one write, or a corked batch for large backlogs. */
  private writeOut(): void {
    const c = this.chunks
    if (c === null || c.length === 0) return
    const bytes = this.queued
    this.queued = 0
    const s = this.socket
    if (s.destroyed || !s.writable) {
      c.length = 0
      return
    }
    if (c.length === 1) s.write(c[0])
    else if (bytes <= CONCAT_LIMIT) s.write(Buffer.concat(c, bytes))
    else {
      s.cork()
      for (let i = 0; i < c.length; i++) s.write(c[i])
      s.uncork()
    }
    c.length = 0
  }

  /** Forgets queued chunks (the socket is going away). */
  protected drop(): void {
    if (this.chunks) this.chunks.length = 0
    this.queued = 0
  }
}
