/**
 * Request/reply over any Bus: the route needs to know whether a push reached a live connection.
 * Each node subscribes once to its own reply channel; requests carry `replyTo` and a correlation id.
 */
import { randomUUID } from 'node:crypto'
import { replyChannel, type Bus, type BusMessage, type Unsubscribe } from './index.ts'

/**
 * A message BusRpc sends: any JSON object with a `type`, BusRpc adds its correlation fields. The
 * methods take it as a type parameter so that typed interfaces (broker/api) pass as they are.
 */
type Outgoing = { readonly type: string }

interface Pending {
  replies: BusMessage[]
  expected: number
  resolve: (replies: BusMessage[]) => void
  timer: NodeJS.Timeout
}

export class BusRpc {
  private readonly pending = new Map<string, Pending>()
  private unsubscribe: Unsubscribe | undefined
  private seq = 0
  readonly nodeId: string

  constructor(private readonly bus: Bus, nodeId: string = randomUUID()) {
    this.nodeId = nodeId
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(replyChannel(this.nodeId), (m) => {
      const corr = m.corr
      if (typeof corr !== 'string') return // not a reply
      const p = this.pending.get(corr)
      if (!p) return // a late reply after its timeout
      p.replies.push(m)
      if (p.replies.length >= p.expected) this.finish(corr)
    })
  }

  private finish(corr: string): void {
    const p = this.pending.get(corr)
    if (!p) return
    this.pending.delete(corr)
    clearTimeout(p.timer)
    p.resolve(p.replies)
  }

  /**
   * Publishes `message` on `channel` and collects up to `expected` replies, resolving early when
   * all arrived, at once when no bus node heard the request, or with what came when `timeoutMs`
   * passes. The replies are untyped JSON: the caller
   * narrows them with a type guard (broker/api/index.ts, isReply).
   */
  request<M extends Outgoing>(channel: string, message: M, expected: number, timeoutMs: number): Promise<BusMessage[]> {
    const corr = `${this.nodeId}:${++this.seq}`
    return new Promise((resolve, reject) => {
      if (expected <= 0) return resolve([])
      const timer = setTimeout(() => this.finish(corr), timeoutMs)
      this.pending.set(corr, { replies: [], expected, resolve, timer })
      this.bus.publish(channel, { ...message, corr, replyTo: replyChannel(this.nodeId) }).then((receivers) => {
        // Nobody heard it (a broker killed before discovery dropped it): no answer can come, so
        // do not wait out the timeout. (A count above 0 says little: one bus node may hold
        // several brokers' subscriptions, in tests and embedded setups.)
        if (receivers === 0) this.finish(corr)
      }, (err: unknown) => {
        this.pending.delete(corr)
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /** Answers a request received on some channel (the broker side). */
  async reply<M extends Outgoing>(request: BusMessage, answer: M): Promise<void> {
    if (typeof request.replyTo !== 'string') return
    await this.bus.publish(request.replyTo, { ...answer, corr: request.corr })
  }

  async close(): Promise<void> {
    for (const corr of [...this.pending.keys()]) this.finish(corr)
    await this.unsubscribe?.()
  }
}
