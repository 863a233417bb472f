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
  /**
   * Heartbeat, and how presence heals (README "Durable data"): for each entry broker `brokerId`
   * holds, extends its TTL while the stored entry still points at `brokerId`, and writes it again
   * when nothing is stored (the store restarted empty, or the entry expired while the broker could
   * not reach it). An entry of another broker is never touched: the user moved, and the newer claim
   * wins. Resolves how many entries it re-created.
   */
  refresh(brokerId: string, entries: PresenceEntry[], ttlMs: number): Promise<number>
  /** Removes every entry held by a broker known to be gone. Returns how many. */
  removeBroker(brokerId: string): Promise<number>
  /** Pages through live entries; `limit` is a hint, pages may be shorter or slightly longer. */
  list(cursor: string | undefined, limit: number): Promise<PresencePage>
  count(): Promise<number>
}

export interface Presence {
  users: PresenceTable
  devices: PresenceTable
  /**
   * Calls `listener` whenever the store may have lost entries behind the brokers' backs: the
   * connection to Redis was lost and is ready again (a restart, a failover to a replica). Brokers
   * then refresh everything they hold at once instead of at their next heartbeat. Memory never
   * calls it. Returns the unsubscribe.
   */
  onReconnect(listener: () => void): () => void
  close(): Promise<void>
}
