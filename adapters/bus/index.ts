/**
 * Cross-node delivery. "Publish remotely, deliver locally": a route publishes one message to the
 * broker that holds the user (`brokerChannel(id)`), or one message on `BROADCAST_CHANNEL` that
 * every broker delivers to its own connections. Nothing is ever republished.
 */
export type BusMessage = { type: string } & Record<string, unknown>
export type BusHandler = (message: BusMessage) => void
export type Unsubscribe = () => Promise<void>

export interface Bus {
  /** Sends a JSON-serialisable message to every subscriber of `channel`. */
  publish(channel: string, message: BusMessage): Promise<void>
  subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>
  close(): Promise<void>
}

export const BROADCAST_CHANNEL = 'cim:broadcast'
export const brokerChannel = (brokerId: string) => `cim:broker:${brokerId}`
export const replyChannel = (nodeId: string) => `cim:reply:${nodeId}`
