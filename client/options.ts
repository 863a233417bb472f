/** CimClient's options and events (JSDoc gives each default). */
import type { BackoffOptions } from './backoff.ts'
import type { CimMessage } from './inbound.ts'
import type { ServerInfo } from './route.ts'

export interface CimClientOptions {
  /** Route base URL, e.g. http://127.0.0.1:8083. */
  routeUrl: string
  userName: string
  /** Registered id. Absent: registered by name through /registerAccount at connect(). */
  userId?: number
  /**
   * Speak the proto=2 extensions (LOGIN_REPLY, KICK, ACK, msgId/seq). Default true. An upstream
   * cim server sends no LOGIN_REPLY, so against one use false (else connect() times out).
   */
  proto2?: boolean
  /** Ping after this many ms without writing (upstream: 10 s). Default 10,000. */
  heartbeatMs?: number
  /** Drop the connection and reconnect after this many ms without reading. Default 3 × heartbeatMs. */
  readTimeoutMs?: number
  /** Reconnect backoff; `false` disables reconnecting. Default {minMs: 500, maxMs: 30,000}. */
  reconnect?: Partial<BackoffOptions> | false
  /** Login property `token`; a function is called at each (re)login, so it can refresh. */
  token?: string | (() => string | Promise<string>)
  /** Called for each message (the 'message' event fires too). */
  onMessage?: (msg: CimMessage) => void
  /** TCP connect + LOGIN_REPLY wait. Default 5,000 ms. */
  loginTimeoutMs?: number
  /** Route HTTP request timeout. Default 5,000 ms. */
  requestTimeoutMs?: number
  /**
   * Stored messages held behind a missing seq at most (the broker fills the gap by redelivery);
   * past it the newest are dropped, unacked, to come again. Default 4096.
   */
  maxHeld?: number
  /** Recent msgIds remembered to drop redeliveries. Default 4096. */
  dedupCapacity?: number
  /** Largest accepted frame body. Default 64 KiB. */
  maxFrameBytes?: number
}

export type CimClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

export interface ConnectedInfo extends ServerInfo {
  userId: number
  userName: string
  /** From LOGIN_REPLY (proto=2). */
  brokerId?: string
  reconnect: boolean
}

export interface DisconnectedInfo {
  reason: string
  /** KICK code when the server said why. */
  code?: string
  /** Whether the client will log in again by itself. */
  willReconnect: boolean
}

export interface KickInfo {
  code: string
  reason: string
}

export interface CimClientEvents {
  message: [CimMessage]
  connected: [ConnectedInfo]
  disconnected: [DisconnectedInfo]
  /** Replaced by a newer login (CIM_KICKED), disconnected by an operator, or refused: no reconnect. */
  kicked: [KickInfo]
  /** Failed reconnect attempts, fatal login answers, exceptions thrown by onMessage. Emitted only when listened to. */
  error: [Error]
}
