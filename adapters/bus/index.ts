/**
 * Cross-node delivery. "Publish remotely, deliver locally": a route publishes one message to the
 * broker that holds the user (`brokerChannel(id)`), or one message on `BROADCAST_CHANNEL` that
 * every broker delivers to its own connections. Nothing is ever republished.
 */
export type BusMessage = { type: string } & Record<string, unknown>
export type BusHandler = (message: BusMessage) => void
export type Unsubscribe = () => Promise<void>

export interface Bus {
  /**
   * Sends a JSON-serialisable message to every subscriber of `channel`; resolves with how many
   * bus nodes took it (one node may deliver to several local subscribers). 0 means nobody
   * listens: a request to a broker that died before discovery dropped it ends at once instead of
   * waiting out its timeout (rpc.ts).
   */
  publish(channel: string, message: BusMessage): Promise<number>
  subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>
  close(): Promise<void>
}

export const BROADCAST_CHANNEL = 'cim:broadcast'
export const brokerChannel = (brokerId: string) => `cim:broker:${brokerId}`
export const replyChannel = (nodeId: string) => `cim:reply:${nodeId}`
