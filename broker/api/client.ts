/**
 * The route's handle on the brokers: one typed method per broker request, over BusRpc.
 * A broker that does not answer within the timeout counts as not having delivered.
 */
import { BROADCAST_CHANNEL, brokerChannel, type Bus, type BusMessage } from '../../adapters/bus/index.ts'
import { BusRpc } from '../../adapters/bus/rpc.ts'
import type { Discovery } from '../../adapters/discovery/index.ts'
import type {
  BroadcastReply, BroadcastRequest, KickReply, KickRequest, PublishReply, PublishRequest,
  PushReply, PushRequest, ReplayReply,
} from './index.ts'

export class BrokerClient {
  private readonly rpc: BusRpc

  constructor(bus: Bus, private readonly discovery: Discovery, private readonly timeoutMs: number, nodeId?: string) {
    this.rpc = new BusRpc(bus, nodeId)
  }

  start(): Promise<void> {
    return this.rpc.start()
  }

  private async one<T>(brokerId: string, req: BusMessage): Promise<T | undefined> {
    const [reply] = await this.rpc.request(brokerChannel(brokerId), req, 1, this.timeoutMs)
    return reply as T | undefined
  }

  /** Delivers to the given users on one broker; users the broker does not hold come back offline. */
  async push(brokerId: string, req: Omit<PushRequest, 'type'>): Promise<PushReply> {
    const reply = await this.one<PushReply>(brokerId, { type: 'push', ...req })
    return reply ?? { type: 'push-result', delivered: [], offline: req.userIds }
  }

  /** One bus message that every live broker delivers locally; resolves with each broker's count. */
  async broadcast(req: Omit<BroadcastRequest, 'type'>): Promise<BroadcastReply[]> {
    const expected = this.discovery.brokers().length
    const replies = await this.rpc.request(BROADCAST_CHANNEL, { type: 'broadcast', ...req }, expected, this.timeoutMs)
    return replies as unknown as BroadcastReply[]
  }

  async kick(brokerId: string, req: Omit<KickRequest, 'type'>): Promise<boolean> {
    return (await this.one<KickReply>(brokerId, { type: 'kick', ...req }))?.kicked ?? false
  }

  async publish(brokerId: string, req: Omit<PublishRequest, 'type'>): Promise<PublishReply> {
    return (await this.one<PublishReply>(brokerId, { type: 'publish', ...req })) ?? { type: 'publish-result', ok: false, error: 'broker did not answer' }
  }

  async replay(brokerId: string, userId: number): Promise<number> {
    return (await this.one<ReplayReply>(brokerId, { type: 'replay', userId }))?.delivered ?? 0
  }

  close(): Promise<void> {
    return this.rpc.close()
  }
}
