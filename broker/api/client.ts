/**
 * The route's handle on the brokers: one method per request kind of the bus API (index.ts), all
 * through one generic `request`, over BusRpc. A broker that does not answer within the timeout,
 * or answers with an ErrorReply (e.g. an older broker that does not know the kind), counts as not
 * having delivered: each method's fallback says what that means for its caller.
 */
import type { Logger } from 'pino'
import { BROADCAST_CHANNEL, brokerChannel, type Bus, type BusMessage } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import type { Discovery } from '../../adapters/discovery/index.ts'
import {
  callHandler, errorReply, type Answer, isErrorReply, isReply, type BroadcastReply, type BrokerHandlers, type ErrorReply, type PublishReply,
  type PushReply, type Reply, type Request, type RequestBody, type RequestKind,
} from './index.ts'
import { localBroker } from './local.ts'

/** One method per request kind: a kind added to BrokerApi does not compile until it has one here. */
type OneMethodPerKind = { [K in RequestKind]: (...args: never[]) => Promise<unknown> }

export class BrokerClient implements OneMethodPerKind {
  private readonly rpc: BusRpc
  /**
   * Told how long each bus request took (ms; an unanswered one counts with the timeout): the
   * route's metrics set it. Not called for brokers in this process, which answer in a call.
   */
  onRoundTrip: ((kind: RequestKind, ms: number) => void) | undefined

  constructor(
    private readonly bus: Bus,
    private readonly discovery: Discovery,
    private readonly timeoutMs: number,
    nodeId?: string,
    /** Where refused requests (ErrorReply answers) are reported; unset: not reported. */
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {
    this.rpc = new BusRpc(bus, nodeId)
  }

  start(): Promise<void> {
    return this.rpc.start()
  }

  /** Asks one broker; undefined when it did not answer in time or refused the request. */
  async request<K extends RequestKind>(brokerId: string, kind: K, req: RequestBody<K>): Promise<Reply<K> | undefined> {
    const answer = await this.ask(brokerId, kind, req)
    return answer === undefined ? undefined : this.accept(kind, answer)
  }

  /**
   * The broker's answer, or undefined when none came in time. A broker in this process (local.ts)
   * is called directly; its handler failing is answered as the bus would (CIM_INTERNAL).
   */
  private async ask<K extends RequestKind>(brokerId: string, kind: K, req: RequestBody<K>): Promise<Answer<K> | undefined> {
    const handlers = localBroker(this.bus, brokerId)
    if (handlers) return this.callLocal(handlers, kind, req)
    const start = this.onRoundTrip && performance.now()
    const [answer] = await this.rpc.request(brokerChannel(brokerId), { type: kind, ...req }, 1, this.timeoutMs)
    if (start !== undefined) this.onRoundTrip?.(kind, performance.now() - start)
    return answer
  }

  private async callLocal<K extends RequestKind>(handlers: BrokerHandlers, kind: K, req: RequestBody<K>): Promise<Reply<K> | ErrorReply> {
    try {
      return await callHandler(handlers, kind, { type: kind, ...req } as Request<K>)
    } catch (err) {
      return errorReply(kind, 'Internal', err instanceof Error ? err.message : String(err))
    }
  }

  /** The reply to a `kind` request, or undefined (reported) when the broker answered otherwise. */
  private accept<K extends RequestKind>(kind: K, answer: Answer<K>): Reply<K> | undefined {
    if (isReply(kind, answer)) return answer
    if (isErrorReply(answer)) this.logger?.warn({ kind, code: answer.code, message: answer.message }, 'broker refused a bus request')
    else this.logger?.warn({ kind, answer: answer.type }, 'broker answered a bus request with an unexpected reply')
    return undefined
  }

  /** Delivers to the given users on one broker; users the broker does not hold come back offline. */
  async push(brokerId: string, req: RequestBody<'push'>): Promise<PushReply> {
    return await (this.pushHere(brokerId, req) ?? this.request(brokerId, 'push', req)) ?? { type: 'push-result', delivered: [], offline: req.userIds }
  }

  /**
   * The answer of a broker in this process, in this call when its handler answers at once (the
   * push handler does): the hot path of `cim start` then takes no promise for the hop. Undefined
   * when the broker is elsewhere: use push().
   */
  pushHere(brokerId: string, req: RequestBody<'push'>): PushReply | Promise<PushReply> | undefined {
    const handlers = localBroker(this.bus, brokerId)
    if (!handlers) return undefined
    try {
      return handlers.push({ type: 'push', ...req })
    } catch (err) {
      // As a failed handler is answered over the bus (CIM_INTERNAL): counted as not delivered.
      this.logger?.warn({ kind: 'push', code: 'CIM_INTERNAL', message: err instanceof Error ? err.message : String(err) }, 'broker refused a bus request')
      return { type: 'push-result', delivered: [], offline: req.userIds }
    }
  }

  /** One bus message that every live broker delivers locally; resolves with each broker's count. */
  async broadcast(req: RequestBody<'broadcast'>): Promise<BroadcastReply[]> {
    const expected = this.discovery.brokers().length
    const start = this.onRoundTrip && performance.now()
    const answers = await this.rpc.request(BROADCAST_CHANNEL, { type: 'broadcast' as const, ...req }, expected, this.timeoutMs)
    if (start !== undefined) this.onRoundTrip?.('broadcast', performance.now() - start)
    const replies: BroadcastReply[] = []
    for (const answer of answers) {
      const reply = this.accept('broadcast', answer)
      if (reply) replies.push(reply)
    }
    return replies
  }

  async kick(brokerId: string, req: RequestBody<'kick'>): Promise<boolean> {
    return (await this.request(brokerId, 'kick', req))?.kicked ?? false
  }

  /**
   * Without an answer the result is `undefined`, not a failure: the broker may have published
   * (its answer lost or late), so a caller must not publish again elsewhere (a second delivery).
   * An ErrorReply (a broker that does not know the kind) did not publish: `ok: false`.
   */
  async publish(brokerId: string, req: RequestBody<'publish'>): Promise<PublishReply | undefined> {
    const answer = await this.ask(brokerId, 'publish', req)
    if (answer === undefined) return undefined
    return this.accept('publish', answer) ?? { type: 'publish-result', ok: false, error: 'broker refused the request' }
  }

  /**
   * Asks every live broker to close the MQTT client `deviceId`: true when one of them held it.
   * Broadcast rather than a presence lookup, so a connection whose presence claim is still in
   * flight is closed too.
   */
  async disconnectDevice(req: RequestBody<'disconnectDevice'>): Promise<boolean> {
    const expected = this.discovery.brokers().length
    const start = this.onRoundTrip && performance.now()
    const answers = await this.rpc.request(BROADCAST_CHANNEL, { type: 'disconnectDevice' as const, ...req }, expected, this.timeoutMs)
    if (start !== undefined) this.onRoundTrip?.('disconnectDevice', performance.now() - start)
    return answers.some((answer) => this.accept('disconnectDevice', answer)?.disconnected === true)
  }

  async replay(brokerId: string, userId: number): Promise<number> {
    return (await this.request(brokerId, 'replay', { userId }))?.delivered ?? 0
  }

  close(): Promise<void> {
    return this.rpc.close()
  }
}
