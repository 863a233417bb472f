import { defaults } from '../../config.ts'
import { codedError } from '../../errors.ts'

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
  /** storedBytesOf() summed over the stored messages (what the byte caps count). */
  bytes: number
}

/**
 * The caps of an inbox. A full inbox refuses and evicts nothing (README "Limits"): past a per-user
 * cap an append fails with CIM_INBOX_FULL, past the global one with CIM_STORAGE_FULL. Acked and
 * expired messages give their bytes back.
 */
export interface InboxLimits {
  /** Messages per user. Default 1000 (--inbox-max-per-user). */
  maxPerUser: number
  /** storedBytesOf() per user. Default 8 MiB (--inbox-max-bytes-per-user). */
  maxBytesPerUser: number
  /** storedBytesOf() over all users. Default 1 GiB (--inbox-max-total-bytes). */
  maxTotalBytes: number
}

/** The settings' defaults (config.ts). */
export const DEFAULT_INBOX_LIMITS: Readonly<InboxLimits> = Object.freeze({
  maxPerUser: defaults.inboxMaxPerUser, maxBytesPerUser: defaults.inboxMaxBytesPerUser, maxTotalBytes: defaults.inboxMaxTotalBytes,
})

/** `limits` with every cap it leaves out (or undefined) at its default. */
export function resolveInboxLimits(limits: Partial<InboxLimits>): InboxLimits {
  return {
    maxPerUser: limits.maxPerUser ?? DEFAULT_INBOX_LIMITS.maxPerUser,
    maxBytesPerUser: limits.maxBytesPerUser ?? DEFAULT_INBOX_LIMITS.maxBytesPerUser,
    maxTotalBytes: limits.maxTotalBytes ?? DEFAULT_INBOX_LIMITS.maxTotalBytes,
  }
}

/** The refusal of an append past a cap: which cap, in its own unit. */
export function inboxRefusal(limits: InboxLimits, userId: number, cap: 'messages' | 'bytes' | 'total'): Error & { code: string } {
  if (cap === 'messages') return codedError('InboxFull', userId, `${limits.maxPerUser} messages`)
  if (cap === 'bytes') return codedError('InboxFull', userId, `${limits.maxBytesPerUser} bytes`)
  return codedError('StorageFull', `the inboxes hold ${limits.maxTotalBytes} bytes (--inbox-max-total-bytes); nothing was evicted`)
}

/**
 * What a stored message costs beyond its payload, counted so that the byte caps bound real memory
 * and millions of empty messages cannot slip under them. Measured: Redis used_memory grows by
 * 460-750 bytes per message beyond the payload (entries in q, due, m and sizes, the JSON field
 * names, allocator rounding); the memory inbox's heap by about 250.
 */
export const STORED_MESSAGE_OVERHEAD_BYTES = 512

/**
 * What a stored message counts against the byte caps: its msgId, text and properties as JSON, in
 * UTF-8 (so text that JSON escapes, up to 6 bytes for 1, counts as Redis stores it), plus
 * STORED_MESSAGE_OVERHEAD_BYTES. The same in every implementation, and what the route multiplies
 * by the number of users to bound one request (--max-stored-bytes-per-request; README "Limits").
 */
export function storedBytesOf(msg: Pick<InboxAppend, 'msgId' | 'text' | 'properties'>): number {
  return STORED_MESSAGE_OVERHEAD_BYTES + Buffer.byteLength(JSON.stringify([msg.msgId, msg.text, msg.properties]))
}

export interface Inbox {
  /**
   * Stores a message and assigns its seq. Throws the coded error CIM_INBOX_FULL at a per-user cap
   * (messages or bytes) and CIM_STORAGE_FULL at the global one, having stored nothing.
   */
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
