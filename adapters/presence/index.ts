/**
 * Who is connected where. Two tables with the same shape: app users (keyed by userId) and MQTT
 * devices (keyed by client id). Every entry has a TTL that its broker's heartbeat refreshes, so a
 * crashed broker leaves nothing that blocks a later login once the TTL runs out (upstream cim
 * keeps login state with no TTL and answers "repeat login" forever after a crash).
 */
export interface PresenceEntry {
  /** userId as a decimal string, or the MQTT client id. */
  id: string
  /** userName for users; absent for devices. */
  name?: string
  brokerId: string
  /** Identifies one connection, so a late disconnect never erases a newer login. */
  connId: string
  /** When the connection logged in (ms since epoch). */
  since: number
}

export type ClaimResult =
  | { ok: true; replaced?: PresenceEntry }
  | { ok: false; current: PresenceEntry }

export interface PresencePage {
  items: PresenceEntry[]
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string
}

export interface PresenceTable {
  /**
   * Atomically records `entry`. When another live entry exists: with `replace` it is overwritten
   * and returned as `replaced`; without, nothing changes and the current entry is returned.
   * Re-claiming with the same connId always succeeds (refresh).
   */
  claim(entry: PresenceEntry, opts: { replace: boolean; ttlMs: number }): Promise<ClaimResult>
  get(id: string): Promise<PresenceEntry | undefined>
  getMany(ids: string[]): Promise<Array<PresenceEntry | undefined>>
  /** Removes the entry only while it still belongs to `connId`. Returns whether it did. */
  release(id: string, connId: string): Promise<boolean>
  /** Heartbeat: extends the TTL of these ids while they still point at `brokerId`. */
  refresh(brokerId: string, ids: string[], ttlMs: number): Promise<void>
  /** Removes every entry held by a broker known to be gone. Returns how many. */
  removeBroker(brokerId: string): Promise<number>
  /** Pages through live entries; `limit` is a hint, pages may be shorter or slightly longer. */
  list(cursor: string | undefined, limit: number): Promise<PresencePage>
  count(): Promise<number>
}

export interface Presence {
  users: PresenceTable
  devices: PresenceTable
  close(): Promise<void>
}
