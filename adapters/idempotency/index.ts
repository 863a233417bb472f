/**
 * Idempotency keys of pushes: the first request with a key claims it (atomically, across route
 * nodes), runs, and stores its answer; a repeat within the window gets that answer and sends
 * nothing. The claim-wait-take-over protocol on top of these primitives is runOnce (once.ts).
 * Records carry the request's fingerprint (fingerprint.ts), so a key reused for a different
 * request is refused rather than answered with another request's result. Records written before
 * fingerprints existed have none and match any request, as they did then.
 */

/** A request is running under this key. */
export interface PendingRecord {
  state: 'pending'
  /** Identifies the claimant, so only it (or whoever took over from it) can change the record. */
  token: string
  /** The server-assigned message id the push uses; a take-over reuses it so clients drop copies. */
  msgId: string
  /** When the claimant started (ms). 0 = abandoned (it failed): the next request takes over at once. */
  at: number
  /** SHA-256 of the request (fingerprint.ts); absent in records of earlier versions. */
  fingerprint?: string
}

/** The request finished; `answer` is its JSON answer, returned to every repeat. */
export interface DoneRecord {
  state: 'done'
  msgId: string
  at: number
  answer: string
  /** The fingerprint of the request that produced `answer`, carried over from its pending record. */
  fingerprint?: string
}

export type IdempotencyRecord = PendingRecord | DoneRecord

export interface Idempotency {
  /**
   * Creates `key` holding `pending` for `ttlMs` unless it exists (Redis SET NX PX). Resolves
   * undefined when this call claimed it, else with the record found.
   */
  claim(key: string, pending: PendingRecord, ttlMs: number): Promise<IdempotencyRecord | undefined>
  get(key: string): Promise<IdempotencyRecord | undefined>
  /**
   * Replaces the pending record held by `token` with `next` (taking over an abandoned or stuck
   * claim, or marking one's own claim abandoned). Keeps the expiry. Resolves whether it did.
   */
  takeOver(key: string, token: string, next: PendingRecord): Promise<boolean>
  /**
   * Stores the answer while the key is pending, whoever holds it; the first answer stays. Keeps
   * the expiry. Resolves with the record now stored (undefined if the key expired meanwhile).
   */
  complete(key: string, done: DoneRecord): Promise<IdempotencyRecord | undefined>
  close(): Promise<void>
}
