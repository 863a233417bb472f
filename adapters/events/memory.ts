/**
 * The webhook log in process: one array per partition, bounded over all partitions (the
 * `webhookQueueMax` setting), so a backend that stays down costs a fixed amount of memory and
 * what does not fit is counted as dropped by the webhook. Leases are kept as in Redis, so two
 * sinks sharing one store (two nodes in one process) never deliver the same partition.
 */
import { DEAD_LETTERS_KEPT, EVENT_LOG_PARTITIONS, type DeadLetter, type EventLog, type LogEntry } from './index.ts'

interface Partition {
  /** Undelivered entries, oldest first; `ids[i]` is the id of `data[i]`. */
  data: string[]
  ids: number[]
  /** Ids handed out (the next is nextId + 1). */
  nextId: number
  delivered: number
  lease?: { owner: string; until: number }
}

export class MemoryEventLog implements EventLog {
  readonly partitions = EVENT_LOG_PARTITIONS
  readonly durable = false
  private readonly parts: Partition[] = Array.from({ length: EVENT_LOG_PARTITIONS }, () => ({ data: [], ids: [], nextId: 0, delivered: 0 }))
  private size = 0
  private readonly dead: DeadLetter[] = []

  /** @param maxEntries undelivered entries kept over all partitions; appends beyond are refused. */
  constructor(private readonly maxEntries = 100_000) {}

  async append(partition: number, entries: readonly string[]): Promise<number> {
    const p = this.parts[partition]!
    const n = Math.min(entries.length, Math.max(0, this.maxEntries - this.size))
    for (let i = 0; i < n; i++) {
      p.data.push(entries[i]!)
      p.ids.push(++p.nextId)
    }
    this.size += n
    return n
  }

  async cursor(partition: number): Promise<string> {
    return `${this.parts[partition]!.delivered}-0`
  }

  async read(partition: number, after: string, count: number): Promise<{ entries: LogEntry[]; depth: number }> {
    const p = this.parts[partition]!
    const from = seqOf(after)
    const entries: LogEntry[] = []
    for (let i = 0; i < p.ids.length && entries.length < count; i++) {
      if (p.ids[i]! > from) entries.push({ id: `${p.ids[i]}-0`, data: p.data[i]! })
    }
    return { entries, depth: p.ids.length }
  }

  async acquire(partition: number, owner: string, ttlMs: number): Promise<boolean> {
    const p = this.parts[partition]!
    const now = Date.now()
    if (p.lease && p.lease.owner !== owner && p.lease.until > now) return false
    p.lease = { owner, until: now + ttlMs }
    return true
  }

  async release(partition: number, owner: string): Promise<void> {
    const p = this.parts[partition]!
    if (p.lease?.owner === owner) p.lease = undefined
  }

  async ack(partition: number, owner: string, throughId: string): Promise<boolean> {
    const p = this.parts[partition]!
    if (p.lease?.owner !== owner || p.lease.until <= Date.now()) return false
    const through = seqOf(throughId)
    let n = 0
    while (n < p.ids.length && p.ids[n]! <= through) n++
    p.ids.splice(0, n)
    p.data.splice(0, n)
    this.size -= n
    if (through > p.delivered) p.delivered = through
    return true
  }

  async deadLetter(entries: readonly string[], reason: string): Promise<void> {
    const at = Date.now()
    for (const data of entries) this.dead.push({ data, reason, at })
    if (this.dead.length > DEAD_LETTERS_KEPT) this.dead.splice(0, this.dead.length - DEAD_LETTERS_KEPT)
  }

  async readDeadLetters(count: number): Promise<DeadLetter[]> {
    return this.dead.slice(-count).reverse()
  }

  async close(): Promise<void> {}
}

function seqOf(id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}
