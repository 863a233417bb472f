/**
 * The broker's side of the bus API (broker/api/index.ts): subscribes to its own channel and the
 * broadcast channel, delivers locally, and answers through BusRpc.reply. Nothing is republished.
 * Requests are dispatched through a BrokerHandlers table, one entry per kind of BrokerApi.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { BROADCAST_CHANNEL, brokerChannel, type Bus, type BusMessage, type Unsubscribe } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import type { CimServer } from '../cim/server.ts'
import { SharedBody, seqTail, sharedProperties } from '../cim/frames.ts'
import { catchUp, writeUpstream } from '../cim/replay.ts'
import { QUEUE, SKIP } from '../cim/stream.ts'
import {
  callHandler, errorReply, isRequest, type BroadcastReply, type BroadcastRequest, type BrokerHandlers, type ErrorReply,
  type KickReply, type KickRequest, type PublishReply, type PublishRequest, type PushReply, type PushRequest,
  type ReplayReply, type Reply, type DisconnectDeviceReply, type DisconnectDeviceRequest,
} from './index.ts'
import type { MqttNode } from '../types.ts'
import { registerLocalBroker } from './local.ts'

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
  /** One handler per request kind (BrokerApi): a kind added there does not compile until it is here. */
  private readonly handlers: BrokerHandlers = {
    push: (req) => this.push(req),
    broadcast: (req) => this.broadcast(req),
    kick: (req) => this.kick(req),
    publish: (req) => this.publish(req),
    replay: (req) => this.replay(req.userId),
    disconnectDevice: (req) => this.disconnectDevice(req),
  }

  constructor(private readonly opts: DeliveryOptions) {}

  async start(brokerId: string): Promise<void> {
    this.brokerId = brokerId
    // Only reply() is used, which publishes to the requester's reply channel: no subscription.
    this.rpc = new BusRpc(this.opts.bus, `broker:${brokerId}`)
    const handler = (m: BusMessage) => this.handle(m)
    this.unsubscribes.push(await this.opts.bus.subscribe(brokerChannel(brokerId), handler))
    this.unsubscribes.push(await this.opts.bus.subscribe(BROADCAST_CHANNEL, handler))
    // A route in this process on the same bus calls the table directly (local.ts).
    const unregister = registerLocalBroker(this.opts.bus, brokerId, this.handlers)
    this.unsubscribes.push(async () => unregister())
  }

  async stop(): Promise<void> {
    const list = this.unsubscribes.splice(0)
    await Promise.all(list.map((u) => u().catch(() => {})))
  }

  /**
   * Every message on this broker's channels is a request, and every request is answered: an
   * unknown kind (a newer route during a rolling upgrade) with CIM_UNKNOWN_REQUEST, a failed
   * handler with CIM_INTERNAL, so the caller neither waits out its timeout nor guesses.
   */
  private handle(m: BusMessage): void {
    if (!isRequest(m)) {
      this.opts.logger.warn({ type: m.type, replyTo: m.replyTo }, 'unknown bus request kind')
      this.answer(m, errorReply(m.type, 'UnknownRequest', m.type))
      return
    }
    let answer: Reply | Promise<Reply>
    try {
      answer = callHandler(this.handlers, m.type, m)
    } catch (err) {
      this.failed(m, err)
      return
    }
    if (answer instanceof Promise) answer.then((a) => this.answer(m, a), (err: unknown) => this.failed(m, err))
    else this.answer(m, answer)
  }

  private failed(m: BusMessage, err: unknown): void {
    this.opts.logger.error({ err, type: m.type }, 'bus request failed')
    this.answer(m, errorReply(m.type, 'Internal', err instanceof Error ? err.message : String(err)))
  }

  private answer(m: BusMessage, answer: Reply | ErrorReply): void {
    this.rpc!.reply(m, answer).catch((err: unknown) => this.opts.logger.error({ err, type: m.type }, 'bus reply failed'))
  }

  /**
   * Writes to each listed user connected here; the rest come back offline. A stored message (with
   * a seq) is offered to the connection's at-least-once stream (cim/stream.ts): it waits behind an
   * inbox read in progress (answered `queued`), is skipped when that read already wrote it, and
   * otherwise is written and awaits its ACK (upstream clients: acked once the socket took it).
   */
  push(req: PushRequest): PushReply {
    const cim = this.opts.cim
    const delivered: number[] = []
    const offline: number[] = []
    const queued: number[] = []
    let plain: SharedBody | undefined
    let extended: SharedBody | undefined
    const ts = String(req.ts ?? Date.now())
    const msgId = req.msgId ?? randomUUID()
    const now = Date.now()
    for (const userId of req.userIds) {
      const s = cim.loggedIn(userId)
      if (s === undefined) {
        offline.push(userId)
        continue
      }
      const seq = req.seqs?.[String(userId)]
      if (seq !== undefined) {
        const offer = s.stream!.offer(seq, req.epochs?.[String(userId)])
        if (offer === QUEUE) {
          queued.push(userId)
          continue
        }
        if (offer === SKIP) {
          delivered.push(userId) // the replay (or a redelivery) wrote it already
          continue
        }
      }
      let ok: boolean
      if (s.proto2) {
        extended ??= SharedBody.of(req.text, sharedProperties(req.properties, { msgId, ts }))
        const tail = seq === undefined ? s.tail! : Buffer.concat([s.tail!, seqTail(seq), s.stream!.epochTail])
        ok = s.write2(extended.prefix(tail.length), tail)
        if (ok && seq !== undefined) {
          s.stream!.written(seq, now)
          if (cim.events.active) s.stream!.remember(seq, msgId)
        }
      } else {
        plain ??= SharedBody.of(req.text, sharedProperties(req.properties))
        if (seq === undefined) ok = s.write2(plain.prefix(s.tail!.length), s.tail!)
        else {
          writeUpstream(s, plain.frameFor(s.tail!), seq, now, false, msgId)
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
  broadcast(req: BroadcastRequest): BroadcastReply {
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

  kick(req: KickRequest): KickReply {
    const s = this.opts.cim.users.get(req.userId)
    if (s === undefined || (req.connId !== undefined && s.connId !== req.connId)) return { type: 'kick-result', kicked: false }
    s.end(req.code, req.reason, 'info')
    return { type: 'kick-result', kicked: true }
  }

  async publish(req: PublishRequest): Promise<PublishReply> {
    const node = this.opts.mqtt()
    if (!node) return { type: 'publish-result', ok: false, error: 'MQTT node not started' }
    try {
      await node.publish({ topic: req.topic, payload: Buffer.from(req.payload, 'base64'), qos: req.qos, retain: req.retain })
      return { type: 'publish-result', ok: true }
    } catch (err) {
      const { message, code } = err as Error & { code?: unknown }
      return { type: 'publish-result', ok: false, error: message, ...(typeof code === 'string' && code.startsWith('CIM_') && { code }) }
    }
  }

  /** Closes the MQTT client with this id if it is connected here (its tokens were revoked). */
  disconnectDevice(req: DisconnectDeviceRequest): DisconnectDeviceReply {
    const disconnected = this.opts.mqtt()?.disconnect(req.deviceId, req.code, req.reason) ?? false
    return { type: 'disconnectDevice-result', brokerId: this.brokerId, disconnected }
  }

  /** fetchOfflineMsgs: upstream clients get what is stored as one OFFLINE batch, proto=2 clients everything unacked. */
  async replay(userId: number): Promise<ReplayReply> {
    const s = this.opts.cim.loggedIn(userId)
    const delivered = s ? await catchUp(s, s.proto2 ? s.stream!.ackedSeq : 0, 'fetch') : 0
    return { type: 'replay-result', delivered }
  }
}
