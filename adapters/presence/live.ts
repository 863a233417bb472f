/**
 * Presence as read by anyone asking "is X reachable, and where": an entry whose broker discovery
 * no longer lists reads as absent. A crashed broker's entries live on until their TTL runs out,
 * but nobody can reach its users and devices any more, and asking it would only cost a delivery
 * timeout. Every such read goes through here; writes (claim, release, refresh) and counts use the
 * table itself.
 */
import type { Discovery } from '../discovery/index.ts'
import type { Presence, PresenceEntry, PresencePage, PresenceTable } from './index.ts'

export class LivePresenceTable {
  constructor(private readonly table: PresenceTable, private readonly discovery: Discovery) {}

  /** `entry`, unless it is absent or its broker is no longer listed. */
  live(entry: PresenceEntry | undefined): PresenceEntry | undefined {
    return entry && this.discovery.isListed(entry.brokerId) ? entry : undefined
  }

  async get(id: string): Promise<PresenceEntry | undefined> {
    return this.live(await this.table.get(id))
  }

  /** One slot per id, in order; undefined where offline. */
  async getMany(ids: string[]): Promise<Array<PresenceEntry | undefined>> {
    const entries = await this.table.getMany(ids)
    // In place: this is on the push path, once per request.
    for (let i = 0; i < entries.length; i++) entries[i] = this.live(entries[i])
    return entries
  }

  /** One page of the table, without the entries of unlisted brokers (so it may be shorter). */
  async list(cursor: string | undefined, limit: number): Promise<PresencePage> {
    const page = await this.table.list(cursor, limit)
    const items = page.items.filter((e) => this.discovery.isListed(e.brokerId))
    return page.next ? { items, next: page.next } : { items }
  }

  /** Every live entry (pages through the whole table). */
  async all(): Promise<PresenceEntry[]> {
    const out: PresenceEntry[] = []
    let cursor: string | undefined
    do {
      const page = await this.list(cursor, 1000)
      out.push(...page.items)
      cursor = page.next
    } while (cursor)
    return out
  }
}

export interface LivePresence {
  users: LivePresenceTable
  devices: LivePresenceTable
}

const views = new WeakMap<object, LivePresence>()

/** The live view of an adapter set's presence, made once per adapter set. */
export function livePresence(adapters: { presence: Presence; discovery: Discovery }): LivePresence {
  let view = views.get(adapters)
  if (!view) {
    view = {
      users: new LivePresenceTable(adapters.presence.users, adapters.discovery),
      devices: new LivePresenceTable(adapters.presence.devices, adapters.discovery),
    }
    views.set(adapters, view)
  }
  return view
}
