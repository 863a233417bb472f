import type { ClaimResult, Presence, PresenceEntry, PresencePage, PresenceTable } from './index.ts'

interface Stored { entry: PresenceEntry; expiresAt: number }

/** Map-backed table; expiry is checked when an entry is read, so no timers are needed. */
export class MemoryPresenceTable implements PresenceTable {
  private readonly entries = new Map<string, Stored>()

  constructor(private readonly now: () => number = Date.now) {}

  private live(id: string): Stored | undefined {
    const s = this.entries.get(id)
    if (s && s.expiresAt <= this.now()) {
      this.entries.delete(id)
      return undefined
    }
    return s
  }

  async claim(entry: PresenceEntry, opts: { replace: boolean; ttlMs: number }): Promise<ClaimResult> {
    const current = this.live(entry.id)
    if (current && current.entry.connId !== entry.connId && !opts.replace) return { ok: false, current: current.entry }
    this.entries.set(entry.id, { entry: { ...entry }, expiresAt: this.now() + opts.ttlMs })
    return current && current.entry.connId !== entry.connId ? { ok: true, replaced: current.entry } : { ok: true }
  }

  async get(id: string): Promise<PresenceEntry | undefined> {
    return this.live(id)?.entry
  }

  async getMany(ids: string[]): Promise<Array<PresenceEntry | undefined>> {
    return ids.map((id) => this.live(id)?.entry)
  }

  async release(id: string, connId: string): Promise<boolean> {
    const s = this.live(id)
    if (!s || s.entry.connId !== connId) return false
    this.entries.delete(id)
    return true
  }

  async refresh(brokerId: string, entries: PresenceEntry[], ttlMs: number): Promise<number> {
    const expiresAt = this.now() + ttlMs
    let recreated = 0
    for (const entry of entries) {
      const s = this.live(entry.id)
      if (s) {
        if (s.entry.brokerId === brokerId) s.expiresAt = expiresAt
      } else {
        this.entries.set(entry.id, { entry: { ...entry }, expiresAt })
        recreated++
      }
    }
    return recreated
  }

  async removeBroker(brokerId: string): Promise<number> {
    let n = 0
    for (const [id, s] of this.entries) {
      if (s.entry.brokerId === brokerId) { this.entries.delete(id); n++ }
    }
    return n
  }

  async list(cursor: string | undefined, limit: number): Promise<PresencePage> {
    // Keys in insertion order; the cursor is the offset into a sorted snapshot of the ids.
    const ids = [...this.entries.keys()].sort()
    const start = cursor ? ids.findIndex((id) => id > cursor) : 0
    const items: PresenceEntry[] = []
    let i = start < 0 ? ids.length : start
    for (; i < ids.length && items.length < limit; i++) {
      const s = this.live(ids[i])
      if (s) items.push(s.entry)
    }
    return i < ids.length && items.length > 0 ? { items, next: items[items.length - 1].id } : { items }
  }

  async count(): Promise<number> {
    let n = 0
    for (const id of [...this.entries.keys()]) if (this.live(id)) n++
    return n
  }
}

export class MemoryPresence implements Presence {
  readonly users: PresenceTable
  readonly devices: PresenceTable
  constructor(now: () => number = Date.now) {
    this.users = new MemoryPresenceTable(now)
    this.devices = new MemoryPresenceTable(now)
  }
  /** Memory never loses entries behind the broker's back. */
  onReconnect(): () => void {
    return () => {}
  }

  async close(): Promise<void> {}
}
