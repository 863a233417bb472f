/**
 * The broker's side of the bus API (broker/api/index.ts): subscribes to its own channel and the
 * broadcast channel, delivers locally, and answers through BusRpc.reply. Nothing is republished.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { BROADCAST_CHANNEL, brokerChannel, type Bus, type BusMessage, type Unsubscribe } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import type { CimServer } from '../cim/server.ts'
import { SharedBody, seqTail, sharedProperties } from '../cim/frames.ts'
import { catchUp, noteWritten, writeUpstream } from '../cim/replay.ts'
import type {
  BroadcastReply, BroadcastRequest, BrokerRequest, KickReply, KickRequest, PublishReply, PublishRequest,
  PushReply, PushRequest, ReplayReply,
} from './index.ts'
import type { MqttNode } from '../types.ts'

export interface DeliveryOptions {
  bus: Bus
  cim: CimServer
  /** The MQTT node, once built (publish requests before that fail with an answer). */
  mqtt: () => MqttNode | undefined
  logger: Logger
}

export class Delivery {
  private unsubscribes: Unsubscribe[] = []
  private rpc: BusRpc | undefined
  private brokerId = ''

  constructor(private readonly opts: DeliveryOptions) {}

  async start(brokerId: string): Promise<void> {
    this.brokerId = brokerId
    // Only reply() is used, which publishes to the requester's reply channel: no subscription.
    this.rpc = new BusRpc(this.opts.bus, `broker:${brokerId}`)
    const handler = (m: BusMessage) => this.handle(m as unknown as BrokerRequest & BusMessage)
    this.unsubscribes.push(await this.opts.bus.subscribe(brokerChannel(brokerId), handler))
    this.unsubscribes.push(await this.opts.bus.subscribe(BROADCAST_CHANNEL, handler))
  }

  async stop(): Promise<void> {
    const list = this.unsubscribes.splice(0)
    await Promise.all(list.map((u) => u().catch(() => {})))
  }

  private handle(m: BrokerRequest & BusMessage): void {
    let answer: Promise<BusMessage> | BusMessage
    try {
      switch (m.type) {
        case 'push': answer = this.push(m); break
        case 'broadcast': answer = this.broadcast(m); break
        case 'kick': answer = this.kick(m); break
        case 'publish': answer = this.publish(m); break
        case 'replay': answer = this.replay(m.userId); break
        default: return // replies and messages meant for other parts
      }
    } catch (err) {
      this.opts.logger.error({ err, type: m.type }, 'bus request failed')
      return
    }
    Promise.resolve(answer)
      .then((a) => this.rpc!.reply(m, a))
      .catch((err) => this.opts.logger.error({ err, type: m.type }, 'bus reply failed'))
  }

  /**
   * Writes to each listed user connected here; the rest come back offline. A stored message (with
   * a seq) goes through the connection's at-least-once stream (cim/replay.ts): it waits behind a
   * replay in progress (answered `queued`), is skipped when the replay already wrote it, and
   * otherwise is written and awaits its ACK (upstream clients: acked once the socket took it).
   */
  push(req: PushRequest): PushReply & BusMessage {
    const cim = this.opts.cim
    const delivered: number[] = []
    const offline: number[] = []
    const queued: number[] = []
    let plain: SharedBody | undefined
    let extended: SharedBody | undefined
    const ts = String(req.ts ?? Date.now())
    const msgId = req.msgId ?? randomUUID()
    for (const userId of req.userIds) {
      const s = cim.loggedIn(userId)
      if (s === undefined) {
        offline.push(userId)
        continue
      }
      const seq = req.seqs?.[String(userId)]
      if (seq !== undefined) {
        if (s.catchingUp) {
          if (seq > s.pendingSeq) s.pendingSeq = seq
          queued.push(userId)
          continue
        }
        if (seq <= s.sentSeq) {
          delivered.push(userId) // the replay (or a redelivery) wrote it already
          continue
        }
      }
      let ok: boolean
      if (s.proto2) {
        extended ??= SharedBody.of(req.text, sharedProperties(req.properties, { msgId, ts }))
        const tail = seq === undefined ? s.tail! : Buffer.concat([s.tail!, seqTail(seq)])
        ok = s.write2(extended.prefix(tail.length), tail)
        if (ok && seq !== undefined) noteWritten(s, seq)
      } else {
        plain ??= SharedBody.of(req.text, sharedProperties(req.properties))
        if (seq === undefined) ok = s.write2(plain.prefix(s.tail!.length), s.tail!)
        else {
          writeUpstream(s, plain.frameFor(s.tail!), seq)
          ok = true
        }
      }
      if (ok) delivered.push(userId)
      else offline.push(userId)
    }
    cim.stats.deliveries += delivered.length
    return { type: 'push-result', delivered, offline, queued }
  }

  /**
   * Every logged-in session here gets the message. The body is encoded once (twice when proto=2
   * clients are present: they also get msgId/ts); per recipient it is two buffer references.
   */
  broadcast(req: BroadcastRequest): BroadcastReply & BusMessage {
    const cim = this.opts.cim
    const plain = SharedBody.of(req.text, sharedProperties(req.properties))
    let extended: SharedBody | undefined
    let users = 0
    for (const s of cim.users.values()) {
      const tail = s.tail!
      let body = plain
      if (s.proto2) body = extended ??= SharedBody.of(req.text, sharedProperties(req.properties, { msgId: req.msgId ?? randomUUID(), ts: String(Date.now()) }))
      if (s.write2(body.prefix(tail.length), tail)) users++
    }
    cim.stats.broadcasts++
    cim.stats.deliveries += users
    return { type: 'broadcast-result', brokerId: this.brokerId, users }
  }

  kick(req: KickRequest): KickReply & BusMessage {
    const s = this.opts.cim.users.get(req.userId)
    if (s === undefined || (req.connId !== undefined && s.connId !== req.connId)) return { type: 'kick-result', kicked: false }
    s.end(req.code, req.reason, 'info')
    return { type: 'kick-result', kicked: true }
  }

  async publish(req: PublishRequest): Promise<PublishReply & BusMessage> {
    const node = this.opts.mqtt()
    if (!node) return { type: 'publish-result', ok: false, error: 'MQTT node not started' }
    try {
      await node.publish({ topic: req.topic, payload: Buffer.from(req.payload, 'base64'), qos: req.qos, retain: req.retain })
      return { type: 'publish-result', ok: true }
    } catch (err) {
      return { type: 'publish-result', ok: false, error: (err as Error).message }
    }
  }

  /** fetchOfflineMsgs: upstream clients get what is stored as one OFFLINE batch, proto=2 clients everything unacked. */
  async replay(userId: number): Promise<ReplayReply & BusMessage> {
    const s = this.opts.cim.loggedIn(userId)
    const delivered = s ? await catchUp(s, s.proto2 ? s.ackedSeq : 0, 'fetch') : 0
    return { type: 'replay-result', delivered }
  }
}
