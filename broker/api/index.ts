/**
 * The broker's bus API: what a route (or another broker) may ask a broker to do. Requests go to
 * `brokerChannel(id)` or, for a broadcast, `BROADCAST_CHANNEL`; answers come back through BusRpc.
 * Everything here is plain JSON, so it crosses Redis pub/sub unchanged.
 */

/** Push text to users connected to this broker (one bus message per broker, however many users). */
export interface PushRequest {
  type: 'push'
  userIds: number[]
  text: string
  /** Sender metadata; the broker adds receiveUserId (and msgId/seq/ts for proto=2 clients). */
  properties: Record<string, string>
  /** Set when the message is stored in the inbox (qos 1): each recipient's seq for this message. */
  seqs?: Record<string, number>
  msgId?: string
  /** When the route accepted the message (ms); the `ts` proto=2 clients get. Default: the broker's clock. */
  ts?: number
}

/** Push to every CIM connection of this broker. */
export interface BroadcastRequest {
  type: 'broadcast'
  text: string
  properties: Record<string, string>
  msgId?: string
}

/** Disconnect a user (admin kick, or a newer login elsewhere with the kick-old policy). */
export interface KickRequest {
  type: 'kick'
  userId: number
  /** Only this connection; absent = whatever connection the user has here. */
  connId?: string
  /** Catalogue code sent to proto=2 clients in the KICK frame. */
  code: string
  reason: string
}

/** Publish an MQTT message through this broker's aedes (which reaches every node via its mq). */
export interface PublishRequest {
  type: 'publish'
  topic: string
  /** base64 payload, so binary survives JSON. */
  payload: string
  qos: 0 | 1 | 2
  retain: boolean
}

/** Ask the broker to replay a user's stored messages now (CIM-compatible fetchOfflineMsgs). */
export interface ReplayRequest {
  type: 'replay'
  userId: number
}

export type BrokerRequest = PushRequest | BroadcastRequest | KickRequest | PublishRequest | ReplayRequest

export interface PushReply {
  type: 'push-result'
  /** Written to the user's live connection here. */
  delivered: number[]
  /** Not connected here. */
  offline: number[]
  /**
   * Connected here, but the stored message waits behind this connection's inbox replay (or
   * redelivery), which writes it in seq order in a moment.
   */
  queued?: number[]
}
export interface BroadcastReply { type: 'broadcast-result'; brokerId: string; users: number }
export interface KickReply { type: 'kick-result'; kicked: boolean }
export interface PublishReply { type: 'publish-result'; ok: boolean; error?: string }
export interface ReplayReply { type: 'replay-result'; delivered: number }
