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
 * - `epoch`: which of the user's streams these seqs count in (adapters/inbox InboxFloor). A stored
 *   message of another epoch means the inbox lost the user's seq counter and began again at 1
 *   (`restart`): every number above starts over at 0.
 */
import { epochTail } from './frames.ts'

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
   * msgIds of written, unacked messages by seq, for push.acked events: kept only while some sink
   * listens (`remember`), made on the first one, so a session without events holds none.
   */
  #msgIds: Map<number, string> | null = null
  #epoch: string
  /** The `epoch` property's bytes, encoded once per epoch: every stored push to this session ends with them. */
  #epochTail: Buffer | null = null

  /**
   * @param floor every seq up to it was acked or expired (the inbox floor read at login).
   * @param clientAcks the client ACKs (proto=2); otherwise a write taken by the socket counts as acked.
   * @param epoch the epoch of the stream `floor` counts in ('' when the user has none yet).
   */
  constructor(floor: number, readonly clientAcks: boolean, epoch = '') {
    this.#sent = this.#max = this.#acked = floor
    this.#epoch = epoch
  }

  get epoch(): string {
    return this.#epoch
  }

  get epochTail(): Buffer {
    return (this.#epochTail ??= epochTail(this.#epoch))
  }

  /**
   * The inbox holds the user's messages under another `epoch`: it lost the seq counter (a Redis
   * that restarted without its data) and seqs began again at 1. What this stream knew counts in
   * the old epoch, so it starts over at 0; an inbox read in flight reads again from there (catchUp).
   */
  restart(epoch: string): void {
    this.#epoch = epoch
    this.#epochTail = null
    this.#sent = this.#max = this.#acked = 0
    this.#pending = 0
    this.#waitingSince = 0
    this.#msgIds = null
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

  /**
   * A live push of stored message `seq` (of `epoch`, when the route named it): write it, queue it
   * behind the inbox read, or skip it (already written). A new epoch restarts the stream first.
   */
  offer(seq: number, epoch?: string): Offer {
    if (epoch !== undefined && epoch !== this.#epoch) this.restart(epoch)
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

  /** Stored message `seq` carrying `msgId` was written: its push.acked event will name it. */
  remember(seq: number, msgId: string): void {
    (this.#msgIds ??= new Map()).set(seq, msgId)
  }

  /**
   * The remembered messages with seq ≤ `upto`, in seq order, forgotten as they are returned (an
   * ack is cumulative: everything up to it arrived).
   */
  takeAcked(upto: number): Array<[seq: number, msgId: string]> {
    const map = this.#msgIds
    const out: Array<[number, string]> = []
    if (map === null) return out
    for (const entry of map) {
      if (entry[0] > upto) continue
      out.push(entry)
      map.delete(entry[0])
    }
    // Mostly in order already (written in seq order); a redelivery may have re-set some.
    return out.sort((a, b) => a[0] - b[0])
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
