/**
 * device.connected / device.disconnected events (README "Events to your backend"), with the reason
 * a connection ended. aedes says only that a client is gone ('clientDisconnect'); why is learnt
 * from what happened just before, noted per client in a WeakMap (nothing on the client object, so
 * aedes' clients keep their shape):
 *
 * - `kicked`: a CONNECT with the same client id took the session over ([MQTT-3.1.4-2]);
 * - `timeout`: no packet within 1.5 × the keepalive ('keepaliveTimeout');
 * - `slow_consumer`: more than mqttMaxQueuedBytes waited for a client not reading (limits.ts);
 * - `revoked`: its tokens were revoked (MqttNode.disconnect);
 * - `draining`: the broker is closing;
 * - `error`: a protocol or socket error ('clientError', a packet over mqttMaxPacketBytes);
 * - `closed`: the device sent DISCONNECT or closed its connection.
 *
 * Nothing is noted or built while no sink listens (`events.active`).
 */
import type { Aedes, Client } from 'aedes'
import type { Events } from '../../events/index.ts'
import { catalogue } from '../../errors.ts'

export type DisconnectReason = 'closed' | 'kicked' | 'timeout' | 'slow_consumer' | 'draining' | 'revoked' | 'error'

export class DeviceEvents {
  readonly #reasons = new WeakMap<Client, DisconnectReason>()
  #draining = false

  constructor(private readonly events: Events) {}

  /** Listens to aedes' client events and notes takeovers (one wrapper per CONNECT, none per packet). */
  wire(broker: Aedes): void {
    broker.on('keepaliveTimeout', (client: Client) => this.note(client, 'timeout'))
    broker.on('clientError', (client: Client) => this.note(client, 'error'))
    // aedes closes the previous client of an id inside registerClient, before the new one is
    // registered: the one place a takeover can be told apart from a plain close.
    const self = broker as unknown as { clients: Record<string, Client>; registerClient(c: Client): void }
    const register = self.registerClient
    self.registerClient = (client: Client) => {
      const previous = self.clients[client.id]
      if (previous !== undefined && previous !== client) this.note(previous, 'kicked')
      register.call(self, client)
    }
  }

  /** A reason seen before the close; the first one wins (a keepalive timeout is also a client error). */
  note(client: Client, reason: DisconnectReason): void {
    if (this.events.active && !this.#reasons.has(client)) this.#reasons.set(client, reason)
  }

  /** A connection limit (limits.ts) dropped the client with this catalogue code. */
  limit(client: Client, code: string): void {
    this.note(client, code === catalogue.SlowConsumer.code ? 'slow_consumer' : 'error')
  }

  /** The broker is closing: every client that goes from now on goes because of it. */
  drain(): void {
    this.#draining = true
  }

  connected(client: Client): void {
    if (this.events.active) this.events.emit({ type: 'device.connected', clientId: client.id })
  }

  disconnected(client: Client): void {
    if (!this.events.active) return
    const noted = this.#reasons.get(client)
    // A takeover or a revocation is why it went even while draining; otherwise draining is.
    const reason = noted === 'kicked' || noted === 'revoked' ? noted : this.#draining ? 'draining' : noted ?? 'closed'
    this.events.emit({ type: 'device.disconnected', clientId: client.id, reason })
  }
}
