/**
 * The at-least-once stream of one logged-in CIM session: where its stored (qos 1) messages stand.
 * The only writer of this state (docs/protocol.md, "Acks and replay"); delivery (broker/api/
 * handler.ts), the inbox reads (replay.ts) and the ack-timeout sweep (server.ts) ask it.
 *
 * A handful of numbers, no per-message state, no timer: a session makes one at login, so an idle
 * connection stays small. Times are passed in (`now`, ms) so callers read the clock once per batch.
 *
 * - `sentSeq`: every stored message with seq ≤ it was written to this connection, or is gone.
 * - `maxSeq`: the highest seq written. `ackedSeq`: the highest acked — by the client's cumulative
 *   ACK (proto=2), or because the socket took the frames (upstream clients never ACK).
 * - While an inbox read is in flight (`catchingUp`: the login replay, a redelivery, a fetch), live
 *   pushes wait for it (`pendingSeq`), so live seq N never overtakes stored N−1.
 * - `waitingSince`: since when written messages wait for ack progress; after the ack timeout the
 *   sweep redelivers everything above `redeliverAfter` on the same connection.
 */

/** What to do with a live stored push: write it now, leave it to the inbox read in flight, or skip it. */
export const WRITE = 0
export const QUEUE = 1
export const SKIP = 2
export type Offer = typeof WRITE | typeof QUEUE | typeof SKIP

/** Why the inbox is read: the login replay, an ack-timeout redelivery, or fetchOfflineMsgs. */
export type CatchUpReason = 'login' | 'redeliver' | 'fetch'

export class Stream {
  #sent: number
  #max: number
  #acked: number
  #waitingSince = 0
  /** Starts true: the login replay runs first, and pushes that arrive meanwhile wait for it. */
  #catchingUp = true
  #pending = 0

  /**
   * @param floor every seq up to it was acked or expired (the inbox floor read at login).
   * @param clientAcks the client ACKs (proto=2); otherwise a write taken by the socket counts as acked.
   */
  constructor(floor: number, readonly clientAcks: boolean) {
    this.#sent = this.#max = this.#acked = floor
  }

  get sentSeq(): number {
    return this.#sent
  }

  get maxSeq(): number {
    return this.#max
  }

  get ackedSeq(): number {
    return this.#acked
  }

  get waitingSince(): number {
    return this.#waitingSince
  }

  get catchingUp(): boolean {
    return this.#catchingUp
  }

  get pendingSeq(): number {
    return this.#pending
  }

  /** A live push of stored message `seq`: write it, queue it behind the inbox read, or skip it (already written). */
  offer(seq: number): Offer {
    if (this.#catchingUp) {
      if (seq > this.#pending) this.#pending = seq
      return QUEUE
    }
    return seq <= this.#sent ? SKIP : WRITE
  }

  /** Stored message `seq` was written (a live push): advance the run and start the ack clock. */
  written(seq: number, now: number): void {
    if (seq === this.#sent + 1) this.#sent = seq
    if (seq > this.#max) this.#max = seq
    if (this.#waitingSince === 0) this.#waitingSince = now
  }

  /**
   * Stored message `seq` was written from an inbox read: every seq below it that the read did not
   * return is acked or expired, so the written run reaches `seq`.
   */
  writtenFromInbox(seq: number, now: number): void {
    if (seq > this.#sent) this.#sent = seq
    this.written(seq, now)
  }

  /**
   * Everything up to `upto` arrived. Returns false when that is no news (at or below the ack point,
   * which starts at the floor); otherwise the caller removes it from the inbox.
   */
  acked(upto: number, now: number): boolean {
    if (upto <= this.#acked) return false
    this.#acked = upto
    // The client has everything up to `upto`: nothing at or below it needs writing again here.
    if (upto > this.#sent) this.#sent = upto
    if (upto > this.#max) this.#max = upto
    this.#waitingSince = this.#max > upto ? now : 0
    return true
  }

  /** Where a redelivery reads the inbox from: above the client's ACK, or above the written run (upstream). */
  get redeliverAfter(): number {
    return this.clientAcks ? this.#acked : this.#sent
  }

  /**
   * The sweep asks: has nothing been acked for `ackTimeoutMs` while messages are outstanding (and
   * no inbox read is in flight)? If so the clock restarts and the caller redelivers.
   */
  dueForRedelivery(now: number, ackTimeoutMs: number): boolean {
    if (this.#waitingSince === 0 || this.#catchingUp || now - this.#waitingSince < ackTimeoutMs) return false
    this.#waitingSince = now
    return true
  }

  /** An inbox read starts. False when one is already in flight (it covers this one). */
  startCatchUp(): boolean {
    if (this.#catchingUp) return false
    this.#catchingUp = true
    return true
  }

  /** After an inbox read wrote a batch: whether pushes that waited meanwhile are all covered. */
  get caughtUp(): boolean {
    return this.#pending <= this.#sent
  }

  /**
   * The inbox read ended, having read to the end (`failed` false) or not. When it read to the end,
   * pushes that waited for seqs the inbox no longer holds (acked or expired) need nothing more. A
   * redelivery restarts the ack clock if it wrote something; if the inbox held nothing above the
   * ack point, what was outstanding expired and nothing is awaited. A failed login replay or
   * redelivery keeps the clock running, so the sweep tries again after the ack timeout.
   */
  endCatchUp(now: number, reason: CatchUpReason, written: number, failed: boolean): void {
    if (!failed && this.#pending > this.#sent) this.#sent = this.#pending
    this.#catchingUp = false
    if (reason === 'redeliver') this.#waitingSince = written > 0 || failed ? now : 0
    else if (failed && reason === 'login' && this.#waitingSince === 0) this.#waitingSince = now
  }
}
