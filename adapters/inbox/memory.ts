import { codedError } from '../../errors.ts'
import type { Inbox, InboxAppend, InboxLimits, InboxMessage, InboxStats } from './index.ts'

interface UserBox { lastSeq: number; messages: InboxMessage[] }

export class MemoryInbox implements Inbox {
  private readonly boxes = new Map<number, UserBox>()
  private expired = 0

  constructor(
    private readonly limits: InboxLimits = { maxPerUser: 1000 },
    private readonly now: () => number = Date.now,
  ) {}

  /** Drops expired messages from the head of a box and counts them. */
  private sweep(box: UserBox): void {
    const now = this.now()
    const before = box.messages.length
    box.messages = box.messages.filter((m) => m.expiresAt > now)
    this.expired += before - box.messages.length
  }

  async append(userId: number, msg: InboxAppend): Promise<InboxMessage> {
    let box = this.boxes.get(userId)
    if (!box) this.boxes.set(userId, (box = { lastSeq: 0, messages: [] }))
    this.sweep(box)
    if (box.messages.length >= this.limits.maxPerUser) throw codedError('InboxFull', userId, this.limits.maxPerUser)
    const stored: InboxMessage = {
      msgId: msg.msgId, seq: ++box.lastSeq, text: msg.text, properties: { ...msg.properties },
      ts: msg.ts, expiresAt: msg.ts + msg.ttlMs,
    }
    box.messages.push(stored)
    return stored
  }

  async list(userId: number, afterSeq = 0, limit = Infinity): Promise<InboxMessage[]> {
    const box = this.boxes.get(userId)
    if (!box) return []
    this.sweep(box)
    return box.messages.filter((m) => m.seq > afterSeq).slice(0, limit)
  }

  async floor(userId: number): Promise<number> {
    const box = this.boxes.get(userId)
    if (!box) return 0
    this.sweep(box)
    return box.messages.length > 0 ? box.messages[0].seq - 1 : box.lastSeq
  }

  async ack(userId: number, uptoSeq: number): Promise<number> {
    const box = this.boxes.get(userId)
    if (!box) return 0
    const before = box.messages.length
    box.messages = box.messages.filter((m) => m.seq > uptoSeq)
    return before - box.messages.length
  }

  async stats(): Promise<InboxStats> {
    let stored = 0
    for (const box of this.boxes.values()) {
      this.sweep(box)
      stored += box.messages.length
    }
    return { stored, expired: this.expired }
  }

  async close(): Promise<void> {}
}
