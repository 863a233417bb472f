/**
 * The webhook (README "Events to your backend"): events POSTed to the backend in signed JSON
 * batches, at least once, in order per source.
 *
 * publish() only stringifies the event and pushes it on an in-memory buffer (bounded by
 * `queueMax`; beyond, events are dropped and counted); once per event-loop turn the buffer goes
 * to the EventLog adapter (Redis: durable and shared by the cluster; memory: bounded, in process).
 * The log is cut into partitions by the event's source; this node works the partitions whose
 * lease it holds, each in its own loop: read a batch, POST it, retry it with backoff until it is
 * answered 2xx or given up as dead letters, record it delivered, next batch. A later batch of a
 * partition never leaves before an earlier one is settled, which is what keeps a source's order.
 */
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { sourceOf, type CimEvent, type EventSink, type EventSinkStats } from './index.ts'
import { batchBody, postBatch, retryDelayMs } from './webhook-http.ts'
import type { EventLog, LogEntry } from '../adapters/events/index.ts'

export interface WebhookOptions {
  url: string
  /** HMAC key of `x-cim-signature`; empty: requests go unsigned. */
  secret: string
  batchSize: number
  batchMs: number
  timeoutMs: number
  maxAttempts: number
  /** Events held in this node's memory before the log takes them; beyond, they are dropped. */
  queueMax: number
  log: EventLog
  /** This node's name, in the lease owner's name (logs, Redis keys). */
  nodeId: string
  logger: Logger
  /** How long a partition stays this node's without a renewal: the failover time. Default 10 000. */
  leaseMs?: number
  /** Backoff: attempt n waits a random time in [0, min(cap, base·2^(n-1))] ("full jitter"). */
  retryBaseMs?: number
  retryCapMs?: number
  /** How long close() may take to hand its events over (and, with a memory log, to deliver them). Default 5 000. */
  closeWaitMs?: number
}

/**
 * Plain counters read at scrape time (README "Operations"): the hot path only adds to them.
 * `queued` is buffered + pending.
 */
export interface WebhookStats extends EventSinkStats {
  /** Events in this node's memory, not yet in the log. */
  buffered: number
  /** Undelivered events in the log partitions this node works (as of their last read). */
  pending: number
  /** Events the backend answered 2xx. */
  sent: number
  /** POSTs that failed and were tried again. */
  retries: number
  /** Events given up after the last attempt. */
  deadLetters: number
  /** Events refused because the buffer or the memory log was full, or lost at close. */
  dropped: number
  /** Log partitions this node holds the lease of. */
  partitions: number
}

/** FNV-1a: the same source lands in the same partition on every node. */
export function partitionOf(source: string, partitions: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < source.length; i++) h = Math.imul(h ^ source.charCodeAt(i), 0x01000193)
  return (h >>> 0) % partitions
}

const LOG_EVERY_MS = 10_000

export class WebhookSink implements EventSink {
  readonly name = 'webhook'
  private readonly log: EventLog
  private readonly owner: string
  private readonly leaseMs: number
  private readonly retryBaseMs: number
  private readonly retryCapMs: number
  private readonly closeWaitMs: number
  private readonly logger: Logger

  private buffers: string[][]
  private bufferedCount = 0
  private flushScheduled = false
  private flushing?: Promise<void>

  /** Per partition: lease end as this node knows it (0: not held), its worker, last known depth, appends since its last read, and its wake-up while idle. */
  private readonly heldUntil: number[]
  private readonly workers: Array<Promise<void> | undefined>
  private readonly depth: number[]
  private readonly appendedSinceRead: number[]
  private readonly wakers: Array<(() => void) | undefined>

  private readonly leaseTimer: NodeJS.Timeout
  private claiming = false
  private closing?: Promise<void>
  /** Aborts idle waits and backoff pauses; `hardStop` also aborts POSTs in flight. */
  private readonly quiet = new AbortController()
  private readonly hardStop = new AbortController()
  private readonly lastLogged = new Map<string, number>()

  private sent = 0
  private retries = 0
  private deadLetters = 0
  private dropped = 0

  constructor(private readonly opts: WebhookOptions) {
    // One listener per partition's POST or wait: up to 16 at once is expected, not a leak.
    setMaxListeners(0, this.quiet.signal, this.hardStop.signal)
    this.log = opts.log
    this.logger = opts.logger
    this.owner = `${opts.nodeId}/${randomUUID().slice(0, 8)}`
    this.leaseMs = opts.leaseMs ?? 10_000
    this.retryBaseMs = opts.retryBaseMs ?? 500
    this.retryCapMs = opts.retryCapMs ?? 30_000
    this.closeWaitMs = opts.closeWaitMs ?? 5_000
    const n = this.log.partitions
    this.buffers = Array.from({ length: n }, () => [])
    this.heldUntil = new Array<number>(n).fill(0)
    this.workers = new Array(n).fill(undefined)
    this.depth = new Array<number>(n).fill(0)
    this.appendedSinceRead = new Array<number>(n).fill(0)
    this.wakers = new Array(n).fill(undefined)
    this.leaseTimer = setInterval(() => void this.claim(), Math.max(50, Math.floor(this.leaseMs / 3)))
    this.leaseTimer.unref()
    void this.claim()
  }

  publish(event: CimEvent): void {
    if (this.closing || this.bufferedCount >= this.opts.queueMax) { this.drop(1, this.closing ? 'webhook closed' : 'webhook queue full'); return }
    this.buffers[partitionOf(sourceOf(event), this.buffers.length)]!.push(JSON.stringify(event))
    this.bufferedCount++
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flushNow)
    }
  }

  stats(): WebhookStats {
    let pending = 0
    let partitions = 0
    for (let p = 0; p < this.heldUntil.length; p++) {
      if (!this.holds(p)) continue
      partitions++
      pending += this.depth[p]!
    }
    return { queued: this.bufferedCount + pending, buffered: this.bufferedCount, pending, sent: this.sent, retries: this.retries, deadLetters: this.deadLetters, dropped: this.dropped, partitions }
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown()
    return this.closing
  }

  // --- from the buffer into the log --------------------------------------------------------------

  private readonly flushNow = (): void => {
    this.flushScheduled = false
    void this.flush()
  }

  private flush(): Promise<void> {
    this.flushing ??= this.appendBuffers().finally(() => { this.flushing = undefined })
    return this.flushing
  }

  private async appendBuffers(): Promise<void> {
    const batches = this.buffers
    this.buffers = batches.map(() => [])
    let failure: unknown
    await Promise.all(batches.map(async (batch, p) => {
      if (batch.length === 0) return
      try {
        const taken = await this.log.append(p, batch)
        this.bufferedCount -= batch.length
        if (taken < batch.length) this.drop(batch.length - taken, 'webhook log full')
        this.appendedSinceRead[p]! += taken
        this.depth[p]! += taken // until the next read says exactly
        if (this.appendedSinceRead[p]! >= this.opts.batchSize) this.wakers[p]?.()
      } catch (err) {
        // Back in front of what arrived meanwhile: these are older. Still counted in bufferedCount.
        this.buffers[p] = batch.concat(this.buffers[p]!)
        failure = err
      }
    }))
    if (this.closing) return
    if (failure) {
      this.warn('append', { err: (failure as Error).message, buffered: this.bufferedCount }, 'webhook log unavailable; events wait in memory')
      this.flushScheduled = true
      setTimeout(this.flushNow, 1_000).unref()
    } else if (this.bufferedCount > 0 && !this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flushNow)
    }
  }

  // --- leases ------------------------------------------------------------------------------------

  private holds(p: number): boolean {
    return this.heldUntil[p]! > Date.now()
  }

  /** Takes or renews every partition it can; starts a worker on each newly held one. */
  private async claim(): Promise<void> {
    if (this.claiming) return
    this.claiming = true
    try {
      await Promise.all(this.heldUntil.map(async (_, p) => {
        const askedAt = Date.now()
        try {
          if (!(await this.log.acquire(p, this.owner, this.leaseMs))) { this.heldUntil[p] = 0; return }
        } catch (err) {
          // Kept until the lease would lapse: another node cannot take it before then either.
          this.warn('lease', { err: (err as Error).message }, 'webhook lease not renewed')
          return
        }
        this.heldUntil[p] = askedAt + this.leaseMs
        if (!this.workers[p] && !this.closing) this.workers[p] = this.work(p).finally(() => { this.workers[p] = undefined })
      }))
    } finally {
      this.claiming = false
    }
  }

  // --- delivery ----------------------------------------------------------------------------------

  /** One partition, batch after batch, while this node holds it. */
  private async work(p: number): Promise<void> {
    let cursor: string
    try { cursor = await this.log.cursor(p) } catch { return } // the next claim starts it again
    const durable = this.log.durable
    while (this.holds(p) && !(durable && this.closing)) {
      this.appendedSinceRead[p] = 0
      let entries: LogEntry[]
      try {
        const batch = await this.log.read(p, cursor, this.opts.batchSize)
        entries = batch.entries
        this.depth[p] = batch.depth
      } catch (err) {
        this.warn('read', { err: (err as Error).message }, 'webhook log unavailable')
        if (!(await this.pause(1_000))) return
        continue
      }
      if (entries.length === 0) {
        if (this.closing || !(await this.idle(p))) return
        continue
      }
      if (!(await this.deliver(p, entries))) return
      cursor = entries[entries.length - 1]!.id
      this.depth[p] = Math.max(0, this.depth[p]! - entries.length)
      try {
        if (!(await this.log.ack(p, this.owner, cursor))) { this.heldUntil[p] = 0; return }
      } catch (err) {
        // The next ack carries a later id; only a failover before it resends these.
        this.warn('ack', { err: (err as Error).message }, 'webhook delivery not recorded')
      }
      // A short batch: let the next one fill for batchMs, unless batchSize events come sooner.
      if (entries.length < this.opts.batchSize && !this.closing && !(await this.idle(p))) return
    }
  }

  /** True once the batch is settled (sent or dead-lettered); false when this node must stop. */
  private async deliver(p: number, entries: LogEntry[]): Promise<boolean> {
    const body = batchBody(entries)
    for (let attempt = 1; ; attempt++) {
      const error = await postBatch(this.opts.url, this.opts.secret, body, this.opts.timeoutMs, this.hardStop.signal)
      if (error === undefined) { this.sent += entries.length; return true }
      if (this.hardStop.signal.aborted) return false
      if (attempt >= this.opts.maxAttempts) { await this.bury(entries, error); return true }
      this.retries++
      this.warn('post', { err: error, attempt, events: entries.length }, 'webhook POST failed; retrying')
      // A durable log keeps the batch for whoever takes the partition next.
      if (this.closing && this.log.durable) return false
      if (!(await this.pause(retryDelayMs(attempt, this.retryBaseMs, this.retryCapMs))) || !this.holds(p)) return false
    }
  }

  private async bury(entries: LogEntry[], reason: string): Promise<void> {
    this.deadLetters += entries.length
    this.logger.error({ events: entries.length, attempts: this.opts.maxAttempts, reason, deadLetters: this.deadLetters }, 'webhook events given up (dead letters)')
    try {
      await this.log.deadLetter(entries.map((e) => e.data), reason)
    } catch (err) {
      this.warn('dead', { err: (err as Error).message }, 'dead letters not stored')
    }
  }

  // --- waiting -----------------------------------------------------------------------------------

  /** Waits batchMs, or until batchSize events were appended here; false when stopping. */
  private idle(p: number): Promise<boolean> {
    return new Promise((resolve) => {
      const signal = this.quiet.signal
      if (signal.aborted) { resolve(false); return }
      const done = (go: boolean) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', stop)
        this.wakers[p] = undefined
        resolve(go)
      }
      const stop = () => done(false)
      const timer = setTimeout(() => done(true), this.opts.batchMs)
      this.wakers[p] = () => done(true)
      signal.addEventListener('abort', stop, { once: true })
    })
  }

  /** false when stopping. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.quiet.signal })
      return true
    } catch {
      return false
    }
  }

  // --- close -------------------------------------------------------------------------------------

  private async shutDown(): Promise<void> {
    const deadline = Date.now() + this.closeWaitMs
    while (this.bufferedCount > 0 && Date.now() < deadline) {
      // Not past the deadline: an append waiting on an unreachable Redis may take long to fail.
      await Promise.race([this.flush(), sleep(Math.max(0, deadline - Date.now()))])
      if (this.bufferedCount > 0) await sleep(Math.min(200, Math.max(0, deadline - Date.now())))
    }
    if (this.bufferedCount > 0) {
      this.logger.error({ events: this.bufferedCount }, 'webhook events lost at close: the log did not take them')
      this.dropped += this.bufferedCount
    }
    // A durable log keeps the rest for the next owner: stop at the next step. A memory log's
    // events die with the process: deliver them, for as long as closeWaitMs allows.
    if (this.log.durable) this.quiet.abort()
    else for (const wake of this.wakers) wake?.()
    const running = this.workers.filter((w): w is Promise<void> => w !== undefined)
    await Promise.race([Promise.all(running), sleep(Math.max(0, deadline - Date.now()))])
    this.quiet.abort()
    this.hardStop.abort()
    await Promise.all(running)
    clearInterval(this.leaseTimer)
    // A renewal still in flight would take a lease back after the release below.
    while (this.claiming) await sleep(10)
    if (!this.log.durable) {
      const left = this.stats().pending
      if (left > 0) {
        this.logger.error({ events: left }, 'webhook events lost at close: not delivered in time')
        this.dropped += left
      }
    }
    await Promise.all(this.heldUntil.map((_, p) => this.log.release(p, this.owner).catch(() => {})))
    this.heldUntil.fill(0)
  }

  // --- logging -----------------------------------------------------------------------------------

  private drop(n: number, why: string): void {
    this.dropped += n
    this.warn('drop', { dropped: this.dropped, why }, 'webhook events dropped')
  }

  /** Logs at most once per 10 s per kind: a backend down for an hour must not flood the log. */
  private warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now()
    if (now - (this.lastLogged.get(kind) ?? 0) < LOG_EVERY_MS) return
    this.lastLogged.set(kind, now)
    this.logger.warn(fields, msg)
  }
}
