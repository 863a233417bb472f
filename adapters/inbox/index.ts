import { defaults } from '../../config.ts'
import { randomInt } from 'node:crypto'
import { codedError } from '../../errors.ts'

/**
 * Messages stored for a user until they are acknowledged: offline p2p messages (replayed on every
 * login) and at-least-once pushes. Ordered by a per-user `seq` that increases by 1.
 */
export interface InboxMessage {
  /** Unique and stable across redeliveries. */
  msgId: string
  /** Per-user, increasing by 1 from 1 within `epoch`. */
  seq: number
  /** The user's stream epoch this seq belongs to (see InboxFloor.epoch). */
  epoch: string
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
 * Where a user's stored stream stands (Inbox.floor). A stream is a seq counter plus its `epoch`,
 * an id made when the counter is made: when the counter is lost (a Redis that restarted without
 * its data), the next append starts seq 1 again under a new epoch, so a client that acked seq 57
 * of the old stream can tell that seq 1 is new rather than a duplicate (docs/protocol.md, Epochs).
 */
export interface InboxFloor {
  /** Every seq ≤ it, in this epoch, was acknowledged or expired. */
  seq: number
  /** The stream's epoch; '' when the user has no stream yet (nothing was ever stored, or it was lost). */
  epoch: string
}

const EPOCH_RANDOM_RANGE = 36 ** 4
/**
 * An epoch for a stream made now: the time in base 36 plus 4 random base-36 digits, so it differs
 * from the user's earlier epochs even when clocks disagree or two nodes make one in the same ms.
 */
export function newEpoch(now: number): string {
  // At most EPOCH_MAX_BYTES (proto/push-frame.ts): 9 base-36 digits of ms last until the year 5188.
  return now.toString(36) + randomInt(EPOCH_RANDOM_RANGE).toString(36).padStart(4, '0')
}

/** One user's share of an inbox: what waits for an ack. */
export interface InboxPending {
  /** Messages stored for the user (in Redis, may include some past their expiry not yet swept). */
  messages: number
  /** storedBytesOf() summed over them. */
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
   * Stores a message and assigns its seq (and, when the user has no seq counter, makes one under a
   * new epoch, in the same atomic step, so seq 1 never comes under an old epoch). Throws the coded error CIM_INBOX_FULL at a per-user cap
   * (messages or bytes) and CIM_STORAGE_FULL at the global one, having stored nothing.
   */
  append(userId: number, msg: InboxAppend): Promise<InboxMessage>
  /** Unexpired messages with seq > afterSeq, in seq order. */
  list(userId: number, afterSeq?: number, limit?: number): Promise<InboxMessage[]>
  /**
   * Where the user's sequence stands: every seq ≤ `seq` was acknowledged or expired, so any
   * message still to come has a higher seq — within `epoch`. `seq` is the lowest stored seq − 1,
   * or the last assigned seq when nothing is stored (0 for a user with no stream). Read in one
   * atomic step with the epoch; told to proto=2 clients at login.
   */
  floor(userId: number): Promise<InboxFloor>
  /**
   * Removes every message with seq ≤ uptoSeq (cumulative ack). Returns how many were removed. With
   * `epoch`, only while the user's stream still has that epoch ('' = no stream): an ack made in a
   * stream that was since lost and restarted must not remove the new stream's messages.
   */
  ack(userId: number, uptoSeq: number, epoch?: string): Promise<number>
  /** One user's stored messages and their storedBytesOf() (the admin console's inbox depth). */
  pending(userId: number): Promise<InboxPending>
  stats(): Promise<InboxStats>
  close(): Promise<void>
}
