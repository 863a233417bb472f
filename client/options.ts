/** CimClient's options and events (JSDoc gives each default). */
import type { BackoffOptions } from './backoff.ts'
import type { CimMessage } from './inbound.ts'
import type { ServerInfo } from './route.ts'

/** CIM over TLS (docs/security.md, TLS). */
export interface CimTlsOptions {
  /** CA certificate(s), PEM, to trust instead of the system's (e.g. a private CA); also for an https:// routeUrl. */
  ca?: string | Buffer
  /** Name the certificate must carry (and SNI). Default: the broker host of the login answer. */
  servername?: string
  /** Refuse a certificate that does not verify. Default true (false only for a test bench). */
  rejectUnauthorized?: boolean
  /**
   * The brokers' CIM-over-TLS port, for routes whose login answer names only the plain port (the
   * upstream /login answer). Default: the answer's cimTlsPort when it has one, else 11443.
   */
  port?: number
}

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
  /** Connect to the broker's CIM TLS port with TLS instead of the plain CIM port. */
  tls?: CimTlsOptions
  /**
   * Login property `token` (docs/security.md, Tokens): a JWT for this user. A function works like
   * `tokenProvider`. A fixed token that the broker refuses (expired, revoked) ends reconnecting.
   */
  token?: string | (() => string | Promise<string>)
  /**
   * Returns a fresh login token, e.g. from your backend: called at each login and reconnect, and
   * once more (before backing off) when a login is refused with CIM_TOKEN_EXPIRED.
   */
  tokenProvider?: () => Promise<string>
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
