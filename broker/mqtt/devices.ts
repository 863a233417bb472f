/**
 * Devices connected to this node and their presence entries. Each connection gets its own connId,
 * so a late release from an old connection never erases the entry of a newer one (a reconnect,
 * or a takeover of the same client id on another node).
 */
import { randomUUID } from 'node:crypto'
import type { Client } from 'aedes'
import type { Logger } from 'pino'
import type { PresenceEntry, PresenceTable } from '../../adapters/presence/index.ts'

interface DeviceConnection {
  client: Client
  connId: string
  since: number
  claimed: boolean
  gone: boolean
}

export interface DeviceConnectionsOptions {
  presence: PresenceTable
  brokerId: string
  /** Presence entry TTL; the broker heartbeat refreshes it. */
  ttlMs: number
  logger: Logger
}

export class DeviceConnections {
  private readonly byId = new Map<string, DeviceConnection>()
  private readonly byClient = new WeakMap<Client, DeviceConnection>()
  private readonly pending = new Set<Promise<unknown>>()

  constructor(private readonly opts: DeviceConnectionsOptions) {}

  /** Records a ready client (after CONNACK) under a fresh connId. */
  add(client: Client): void {
    const conn: DeviceConnection = { client, connId: randomUUID(), since: Date.now(), claimed: false, gone: false }
    // aedes closes an older client with the same id before registering the new one
    // ([MQTT-3.1.4-2]), so overwriting here never hides a live connection.
    this.byId.set(client.id, conn)
    this.byClient.set(client, conn)
  }

  /**
   * Claims presence for the client (replacing any older entry: the newest connection wins, as
   * MQTT's takeover does). A client that left while the claim was in flight is released again.
   */
  claim(client: Client): void {
    const conn = this.byClient.get(client)
    if (!conn || conn.gone) return
    const { presence, brokerId, ttlMs, logger } = this.opts
    const entry = { id: client.id, brokerId, connId: conn.connId, since: conn.since }
    this.track(
      presence.claim(entry, { replace: true, ttlMs }).then(
        () => {
          conn.claimed = true
          if (conn.gone) return this.release(client.id, conn)
        },
        (err: unknown) => logger.error({ err, clientId: client.id }, 'mqtt device presence claim failed'),
      ),
    )
  }

  /** Forgets a client that disconnected and releases its presence entry. */
  remove(client: Client): void {
    const conn = this.byClient.get(client)
    if (!conn || conn.gone) return
    conn.gone = true
    if (this.byId.get(client.id) === conn) this.byId.delete(client.id)
    if (conn.claimed) this.track(this.release(client.id, conn))
  }

  /** Client ids connected here. */
  ids(): string[] {
    return [...this.byId.keys()]
  }

  /**
   * The presence entries of the clients connected here (the broker's presence heartbeat, which
   * writes back any the store lost). A client whose claim failed is in it too: it is connected.
   */
  entries(): PresenceEntry[] {
    const { brokerId } = this.opts
    const out: PresenceEntry[] = []
    for (const [id, conn] of this.byId) out.push({ id, brokerId, connId: conn.connId, since: conn.since })
    return out
  }

  get size(): number {
    return this.byId.size
  }

  /** Waits for presence claims and releases in flight (used on close). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  private release(id: string, conn: DeviceConnection): Promise<void> {
    return this.opts.presence.release(id, conn.connId).then(
      () => undefined,
      (err: unknown) => this.opts.logger.error({ err, clientId: id }, 'mqtt device presence release failed'),
    )
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
  }
}
