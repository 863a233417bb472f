/**
 * Messages stored for a user until they are acknowledged: offline p2p messages (replayed on every
 * login) and at-least-once pushes. Ordered by a per-user `seq` that increases by 1.
 */
export interface InboxMessage {
  /** Unique and stable across redeliveries. */
  msgId: string
  /** Per-user, increasing by 1 from 1. */
  seq: number
  text: string
  properties: Record<string, string>
  /** Server time the message was accepted (ms). */
  ts: number
  /** After this time (ms) the message is dropped and counted as expired. */
  expiresAt: number
}

export interface InboxAppend {
  msgId: string
  text: string
  properties: Record<string, string>
  ts: number
  ttlMs: number
}

export interface InboxStats {
  /** Messages currently stored (may include some past their expiry not yet swept). */
  stored: number
  /** Messages dropped because their TTL passed before an ack. */
  expired: number
}

export interface InboxLimits {
  /** Per-user cap; an append past it fails with CIM_INBOX_FULL and evicts nothing. Default 1000. */
  maxPerUser: number
}

export interface Inbox {
  /** Stores a message and assigns its seq. Throws the coded error CIM_INBOX_FULL when at the cap. */
  append(userId: number, msg: InboxAppend): Promise<InboxMessage>
  /** Unexpired messages with seq > afterSeq, in seq order. */
  list(userId: number, afterSeq?: number, limit?: number): Promise<InboxMessage[]>
  /**
   * Where the user's sequence stands: every seq ≤ the answer was acknowledged or expired, so any
   * message still to come has a higher seq. The lowest stored seq − 1, or the last assigned seq
   * when nothing is stored (0 for a user who never had a message). Told to proto=2 clients at login.
   */
  floor(userId: number): Promise<number>
  /** Removes every message with seq ≤ uptoSeq (cumulative ack). Returns how many were removed. */
  ack(userId: number, uptoSeq: number): Promise<number>
  stats(): Promise<InboxStats>
  close(): Promise<void>
}
