/**
 * Where the push path last found each online user, kept for a second. In a cluster a presence
 * read is a Redis round trip per push; a user who stays on one broker (the common case) needs it
 * once a second instead. Being wrong costs little and loses nothing: a broker asked about a user it
 * no longer holds answers "offline", and pushToUsers then reads presence afresh and follows the
 * user (route/push-path.ts). Only positive answers are kept — a user who just logged in is never
 * reported offline from here — and every hit still goes through the live view, so a broker that
 * discovery dropped is never asked.
 */
import type { PresenceEntry } from '../adapters/presence/index.ts'
import type { LivePresenceTable } from '../adapters/presence/live.ts'

/** How long a found entry is reused. */
export const RECENT_PRESENCE_MS = 1_000
/** Entries kept at most (~200 bytes each); the oldest go first. */
const MAX_ENTRIES = 100_000

interface Recent { entry: PresenceEntry; until: number }

export class RecentPresence {
  private readonly recent = new Map<string, Recent>()

  constructor(private readonly table: LivePresenceTable, private readonly ttlMs = RECENT_PRESENCE_MS, private readonly now: () => number = Date.now) {}

  /** One slot per id, in order; undefined where offline. Reads the table only for ids not seen lately. */
  async getMany(ids: string[]): Promise<Array<PresenceEntry | undefined>> {
    const now = this.now()
    const out: Array<PresenceEntry | undefined> = new Array(ids.length)
    let missing: number[] | undefined
    for (let i = 0; i < ids.length; i++) {
      const r = this.recent.get(ids[i])
      if (r !== undefined && r.until > now) out[i] = this.table.live(r.entry)
      else (missing ??= []).push(i)
    }
    if (missing === undefined) return out
    const read = await this.table.getMany(missing.length === ids.length ? ids : missing.map((i) => ids[i]))
    for (let k = 0; k < missing.length; k++) {
      const e = read[k]
      out[missing[k]] = e
      if (e !== undefined) this.remember(ids[missing[k]], e, now)
      else this.recent.delete(ids[missing[k]])
    }
    return out
  }

  /** Reads afresh (a broker said the user is not there), remembering what is found now. */
  async refresh(ids: string[]): Promise<Array<PresenceEntry | undefined>> {
    for (const id of ids) this.recent.delete(id)
    return this.getMany(ids)
  }

  private remember(id: string, entry: PresenceEntry, now: number): void {
    if (this.recent.size >= MAX_ENTRIES && !this.recent.has(id)) this.recent.delete(this.recent.keys().next().value as string)
    this.recent.set(id, { entry, until: now + this.ttlMs })
  }
}
