import { inboxRefusal, resolveInboxLimits, storedBytesOf } from './index.ts'
import type { Inbox, InboxAppend, InboxLimits, InboxMessage, InboxStats } from './index.ts'

interface Stored { message: InboxMessage; bytes: number }
interface UserBox { lastSeq: number; entries: Stored[]; bytes: number }

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
    return before - box.entries.length
  }

  /** Drops expired messages from a box and counts them. */
  private sweep(box: UserBox, now = this.now()): void {
    this.expired += this.remove(box, (m) => m.expiresAt > now)
  }

  async append(userId: number, msg: InboxAppend): Promise<InboxMessage> {
    let box = this.boxes.get(userId)
    if (!box) this.boxes.set(userId, (box = { lastSeq: 0, entries: [], bytes: 0 }))
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
      msgId: msg.msgId, seq: ++box.lastSeq, text: msg.text, properties: { ...msg.properties },
      ts: msg.ts, expiresAt: msg.ts + msg.ttlMs,
    }
    box.entries.push({ message, bytes })
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

  async floor(userId: number): Promise<number> {
    const box = this.boxes.get(userId)
    if (!box) return 0
    this.sweep(box)
    return box.entries.length > 0 ? box.entries[0].message.seq - 1 : box.lastSeq
  }

  async ack(userId: number, uptoSeq: number): Promise<number> {
    const box = this.boxes.get(userId)
    if (!box) return 0
    return this.remove(box, (m) => m.seq > uptoSeq)
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
