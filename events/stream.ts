/**
 * Events into a Redis stream the backend consumes itself (README "Events to your backend", Redis
 * stream): `XADD <key> MAXLEN ~ <maxLen> * type <type> id <id> ts <ts> event <json>`.
 *
 * publish() only pushes on a bounded buffer; once per event-loop turn the buffer leaves in one
 * pipeline. While Redis is down the buffer holds what it can and retries every second; events that
 * do not fit are dropped and counted. Consumer groups give the backend its own acks and
 * redelivery, so this sink keeps no log of its own.
 */
import type { Logger } from 'pino'
import type { CimEvent, EventSink, EventSinkStats } from './index.ts'
import type { EventStreamWriter } from '../adapters/events/index.ts'

export interface StreamSinkOptions {
  writer: EventStreamWriter
  /** The stream's key, e.g. `cim:events`. */
  key: string
  /** Approximate cap of the stream's length (MAXLEN ~). */
  maxLen: number
  /** Events held in memory while Redis does not take them; beyond, they are dropped. */
  bufferMax: number
  logger: Logger
  /** How long close() waits for the buffer to reach Redis. Default 5 000. */
  closeWaitMs?: number
}

const LOG_EVERY_MS = 10_000

export class RedisStreamSink implements EventSink {
  readonly name = 'stream'
  private buffer: Array<readonly string[]> = []
  private scheduled = false
  private writing?: Promise<void>
  private closed = false
  /** Events of the write waiting on Redis; counted as dropped if close() gives up on it. */
  private inFlight = 0
  private givenUp = false
  private sent = 0
  private dropped = 0
  private lastWarned = 0

  constructor(private readonly opts: StreamSinkOptions) {}

  publish(event: CimEvent): void {
    if (this.closed || this.buffer.length >= this.opts.bufferMax) { this.drop(1); return }
    this.buffer.push(['type', event.type, 'id', event.id, 'ts', String(event.ts), 'event', JSON.stringify(event)])
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushNow)
    }
  }

  stats(): EventSinkStats {
    return { queued: this.buffer.length + this.inFlight, sent: this.sent, retries: 0, deadLetters: 0, dropped: this.dropped }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const deadline = Date.now() + (this.opts.closeWaitMs ?? 5_000)
    // A write waiting on an unreachable Redis is not awaited past the deadline (ioredis may hold it for long).
    const untilDeadline = () => new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))
    while (this.buffer.length > 0 && Date.now() < deadline) {
      await Promise.race([this.flush(), untilDeadline()])
      if (this.buffer.length > 0) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))))
    }
    if (this.writing) await Promise.race([this.writing, untilDeadline()])
    const lost = this.buffer.length + this.inFlight
    if (lost > 0) {
      this.opts.logger.error({ events: lost }, 'stream events lost at close: Redis did not take them')
      this.dropped += lost
      this.buffer = []
      this.givenUp = true
    }
  }

  private readonly flushNow = (): void => {
    this.scheduled = false
    void this.flush()
  }

  private flush(): Promise<void> {
    this.writing ??= this.write().finally(() => { this.writing = undefined })
    return this.writing
  }

  private async write(): Promise<void> {
    try {
      await this.writeBuffer()
    } finally {
      this.inFlight = 0
    }
  }

  private async writeBuffer(): Promise<void> {
    const batch = this.buffer
    if (batch.length === 0) return
    this.buffer = []
    this.inFlight = batch.length
    try {
      await this.opts.writer.append(this.opts.key, this.opts.maxLen, batch)
      this.sent += batch.length
      if (this.givenUp) this.dropped -= batch.length // counted lost at close, yet Redis took them
    } catch (err) {
      if (this.givenUp) return
      // Back in front, as far as the bound allows: these are older than what arrived meanwhile.
      const keep = Math.max(0, this.opts.bufferMax - this.buffer.length)
      if (keep < batch.length) this.drop(batch.length - keep)
      this.buffer = batch.slice(0, keep).concat(this.buffer)
      this.warn({ err: (err as Error).message, buffered: this.buffer.length }, 'event stream unavailable; events wait in memory')
      if (!this.closed && !this.scheduled) {
        this.scheduled = true
        setTimeout(this.flushNow, 1_000).unref()
      }
      return
    }
    if (this.buffer.length > 0 && !this.scheduled && !this.closed) {
      this.scheduled = true
      setImmediate(this.flushNow)
    }
  }

  private drop(n: number): void {
    this.dropped += n
    this.warn({ dropped: this.dropped }, 'stream events dropped: buffer full')
  }

  private warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now()
    if (now - this.lastWarned < LOG_EVERY_MS) return
    this.lastWarned = now
    this.opts.logger.warn(fields, msg)
  }
}
