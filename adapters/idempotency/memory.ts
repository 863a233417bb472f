/** Idempotency records in a Map, each with its expiry (one process). */
import type { DoneRecord, Idempotency, IdempotencyRecord, PendingRecord } from './index.ts'

interface Slot { record: IdempotencyRecord; expiresAt: number }

/** Expired slots are removed on access and by a sweep every this many claims (bounded memory). */
const SWEEP_EVERY = 1000

export class MemoryIdempotency implements Idempotency {
  private readonly slots = new Map<string, Slot>()
  private claims = 0

  constructor(private readonly now: () => number = Date.now) {}

  private live(key: string): Slot | undefined {
    const slot = this.slots.get(key)
    if (slot && slot.expiresAt <= this.now()) {
      this.slots.delete(key)
      return undefined
    }
    return slot
  }

  async claim(key: string, pending: PendingRecord, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    if (++this.claims % SWEEP_EVERY === 0) this.sweep()
    const slot = this.live(key)
    if (slot) return { ...slot.record }
    this.slots.set(key, { record: { ...pending }, expiresAt: this.now() + ttlMs })
    return undefined
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const slot = this.live(key)
    return slot ? { ...slot.record } : undefined
  }

  async takeOver(key: string, token: string, next: PendingRecord): Promise<boolean> {
    const slot = this.live(key)
    if (!slot || slot.record.state !== 'pending' || slot.record.token !== token) return false
    slot.record = { ...next }
    return true
  }

  async complete(key: string, done: DoneRecord): Promise<IdempotencyRecord | undefined> {
    const slot = this.live(key)
    if (!slot) return undefined
    if (slot.record.state === 'pending') slot.record = { ...done }
    return { ...slot.record }
  }

  private sweep(): void {
    const now = this.now()
    for (const [key, slot] of this.slots) if (slot.expiresAt <= now) this.slots.delete(key)
  }

  async close(): Promise<void> {
    this.slots.clear()
  }
}
