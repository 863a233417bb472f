import { inboxRefusal, newEpoch, resolveInboxLimits, storedBytesOf } from './index.ts'
import type { Inbox, InboxAppend, InboxFloor, InboxLimits, InboxMessage, InboxPending, InboxStats } from './index.ts'

interface Stored { message: InboxMessage; bytes: number }
/**
 * One user's messages in seq order. `nextExpiry` is at most the earliest expiresAt among them
 * (Infinity when empty): a sweep before it is a comparison, not a pass over the box. `epoch` is
 * made with the box (the user's seq counter): a new process starts every user's stream afresh.
 */
interface UserBox { lastSeq: number; epoch: string; entries: Stored[]; bytes: number; nextExpiry: number }

/** At the global cap, every box is swept for expired messages at most this often (a sweep is O(users)). */
const FULL_SWEEP_INTERVAL_MS = 1_000

export class MemoryInbox implements Inbox {
  private readonly boxes = new Map<number, UserBox>()
  private readonly limits: InboxLimits
  private expired = 0
  /** storedBytesOf() summed over every box. */
  private totalBytes = 0
  private lastFullSweep = -Infinity

  constructor(limits: Partial<InboxLimits> = {}, private readonly now: () => number = Date.now) {
    this.limits = resolveInboxLimits(limits)
  }

  /** Removes entries that `keep` refuses from a box, giving back their bytes; returns how many. */
  private remove(box: UserBox, keep: (m: InboxMessage) => boolean): number {
    const before = box.entries.length
    let freed = 0
    box.entries = box.entries.filter((e) => {
      if (keep(e.message)) return true
      freed += e.bytes
      return false
    })
    box.bytes -= freed
    this.totalBytes -= freed
    let next = Infinity
    for (const e of box.entries) if (e.message.expiresAt < next) next = e.message.expiresAt
    box.nextExpiry = next
    return before - box.entries.length
  }

  /** Drops expired messages from a box and counts them. */
  private sweep(box: UserBox, now = this.now()): void {
    if (box.nextExpiry > now) return
    this.expired += this.remove(box, (m) => m.expiresAt > now)
  }

  async append(userId: number, msg: InboxAppend): Promise<InboxMessage> {
    let box = this.boxes.get(userId)
    if (!box) this.boxes.set(userId, (box = { lastSeq: 0, epoch: newEpoch(this.now()), entries: [], bytes: 0, nextExpiry: Infinity }))
    this.sweep(box)
    const bytes = storedBytesOf(msg)
    if (box.entries.length >= this.limits.maxPerUser) throw inboxRefusal(this.limits, userId, 'messages')
    if (box.bytes + bytes > this.limits.maxBytesPerUser) throw inboxRefusal(this.limits, userId, 'bytes')
    if (this.totalBytes + bytes > this.limits.maxTotalBytes) {
      // Other users' expired messages may still hold bytes: sweep them all, but not on every refusal.
      const now = this.now()
      if (now - this.lastFullSweep >= FULL_SWEEP_INTERVAL_MS) {
        this.lastFullSweep = now
        for (const b of this.boxes.values()) this.sweep(b, now)
      }
      if (this.totalBytes + bytes > this.limits.maxTotalBytes) throw inboxRefusal(this.limits, userId, 'total')
    }
    const message: InboxMessage = {
      msgId: msg.msgId, seq: ++box.lastSeq, epoch: box.epoch, text: msg.text, properties: { ...msg.properties },
      ts: msg.ts, expiresAt: msg.ts + msg.ttlMs,
    }
    box.entries.push({ message, bytes })
    if (message.expiresAt < box.nextExpiry) box.nextExpiry = message.expiresAt
    box.bytes += bytes
    this.totalBytes += bytes
    return message
  }

  async list(userId: number, afterSeq = 0, limit = Infinity): Promise<InboxMessage[]> {
    const box = this.boxes.get(userId)
    if (!box) return []
    this.sweep(box)
    const out: InboxMessage[] = []
    for (const e of box.entries) {
      if (out.length >= limit) break
      if (e.message.seq > afterSeq) out.push(e.message)
    }
    return out
  }

  async floor(userId: number): Promise<InboxFloor> {
    const box = this.boxes.get(userId)
    if (!box) return { seq: 0, epoch: '' }
    this.sweep(box)
    return { seq: box.entries.length > 0 ? box.entries[0].message.seq - 1 : box.lastSeq, epoch: box.epoch }
  }

  async ack(userId: number, uptoSeq: number, epoch?: string): Promise<number> {
    const box = this.boxes.get(userId)
    if (!box || (epoch !== undefined && epoch !== box.epoch)) return 0
    // Entries are in seq order: the acked ones are a prefix (nextExpiry stays a lower bound).
    let n = 0
    let freed = 0
    while (n < box.entries.length && box.entries[n].message.seq <= uptoSeq) freed += box.entries[n++].bytes
    if (n === 0) return 0
    box.entries.splice(0, n)
    box.bytes -= freed
    this.totalBytes -= freed
    if (box.entries.length === 0) box.nextExpiry = Infinity
    return n
  }

  async pending(userId: number): Promise<InboxPending> {
    const box = this.boxes.get(userId)
    if (!box) return { messages: 0, bytes: 0 }
    this.sweep(box)
    return { messages: box.entries.length, bytes: box.bytes }
  }

  async stats(): Promise<InboxStats> {
    let stored = 0
    const now = this.now()
    for (const box of this.boxes.values()) {
      this.sweep(box, now)
      stored += box.entries.length
    }
    return { stored, expired: this.expired, bytes: this.totalBytes }
  }

  async close(): Promise<void> {}
}
