/**
 * Client-side delivery guarantees for proto=2 pushes (docs/protocol.md, Acks and replay): pushes
 * carry a `msgId` stable across redeliveries and, when stored for at-least-once delivery, a
 * per-user `seq` increasing by 1. The broker redelivers everything above the last ACK after its
 * ack timeout and at each login, so the client must drop what it already has (by seq and by
 * msgId), hand the rest to the app in seq order, and ACK the highest seq received with no gap
 * before it.
 */

/** A bounded set of recently seen message ids; the oldest id is forgotten first. */
export class RecentIds {
  private readonly ids = new Set<string>()

  /** @param capacity ids remembered. Default 4096 — far more than one login's replay burst. */
  constructor(private readonly capacity = 4096) {
    if (capacity < 1) throw new RangeError('capacity must be at least 1')
  }

  /** Records `id`; returns false when it was already there (a duplicate). */
  add(id: string): boolean {
    if (this.ids.has(id)) {
      // Refresh recency: a message redelivered again and again must stay known.
      this.ids.delete(id)
      this.ids.add(id)
      return false
    }
    this.ids.add(id)
    if (this.ids.size > this.capacity) {
      // Sets iterate in insertion order, so the first entry is the least recently seen.
      const oldest = this.ids.values().next().value as string
      this.ids.delete(oldest)
    }
    return true
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  get size(): number {
    return this.ids.size
  }
}

/**
 * Puts seq'd items back in order, drops repeated seqs, and computes the cumulative ACK.
 *
 * - The starting point is the broker's LOGIN_REPLY `ackedSeq` (`advanceTo`): every seq up to it
 *   was acked or expired. Without one (an older server) the first seq seen sets it.
 * - An item at or below the ack point, or one already held, is a duplicate (a redelivery).
 * - An item past a gap is held until the gap fills — by the push in flight, the broker's
 *   redelivery after its ack timeout, or the next login's replay. The ACK never passes a gap: a
 *   seq acked without having arrived would be removed from the inbox and lost. The one exception
 *   is a gap the broker says will never fill: replayed and redelivered items carry `prevSeq`, and
 *   every seq strictly between it and the item's own was acked or expired.
 * - Held items are bounded: past `maxHeld` the highest one is dropped. That is safe because it was
 *   never acked, so the broker sends it again.
 * - Seqs count within a stream `epoch` (LOGIN_REPLY and stored pushes carry it). Another epoch than
 *   the window's means the server lost the user's seq counter and began again at 1 (`enterEpoch`):
 *   the old ack point no longer applies, and keeping it would drop the new stream's first seqs as
 *   duplicates. Only msgIds then tell a repeat (the caller's RecentIds).
 */
export class SeqWindow<T> {
  private base: number | undefined
  private streamEpoch: string | undefined
  private readonly held = new Map<number, T>()

  /** @param maxHeld items held behind a gap at most. Default 4096. */
  constructor(private readonly maxHeld = 4096) {
    if (maxHeld < 1) throw new RangeError('maxHeld must be at least 1')
  }

  /** Highest seq received with no gap before it (the ACK's requestId); undefined before any. */
  get ackSeq(): number | undefined {
    return this.base
  }

  /** The stream epoch the ack point counts in; undefined until a server names one. */
  get epoch(): string | undefined {
    return this.streamEpoch
  }

  /**
   * A LOGIN_REPLY or stored push named the stream `epoch`. The first epoch seen is adopted as it is
   * (the window may hold seqs from a server that named none). Another one than the window's starts
   * the window again at `floor` (the LOGIN_REPLY's `ackedSeq`; for a push 0, as every new stream
   * begins at seq 1) and returns what was held, in seq order: the old stream is over, no gap in
   * it will fill, and those items were never delivered.
   */
  enterEpoch(epoch: string, floor = 0): T[] {
    const previous = this.streamEpoch
    this.streamEpoch = epoch
    if (previous === undefined || previous === epoch) return []
    const out = this.releaseBelow(Infinity)
    this.base = floor
    return out
  }

  /** Items waiting for a gap to fill. */
  get holding(): number {
    return this.held.size
  }

  /**
   * The server says every seq ≤ `floor` was acked or expired (LOGIN_REPLY `ackedSeq`). Moves the
   * ack point up to it (never down) and returns the held items that are now in order.
   */
  advanceTo(floor: number): T[] {
    if (this.base !== undefined && floor <= this.base) return []
    const out = this.releaseBelow(floor + 1)
    this.base = floor
    return out.concat(this.drain())
  }

  /**
   * Accepts one item. `ready`: the items now deliverable, in seq order (possibly none).
   * `duplicate`: this seq arrived before (it is not delivered again).
   */
  accept(seq: number, item: T, prevSeq?: number): { ready: T[]; duplicate: boolean } {
    if (this.base === undefined) this.base = seq - 1
    if (seq <= this.base) return { ready: [], duplicate: true }
    let ready: T[] = []
    // The seqs between prevSeq and this one will never come: stop waiting for them.
    if (prevSeq !== undefined && prevSeq <= this.base && seq > this.base + 1) {
      ready = this.releaseBelow(seq)
      this.base = seq - 1
    }
    const duplicate = this.held.has(seq)
    if (!duplicate) {
      this.held.set(seq, item)
      if (seq > this.base + 1) {
        if (this.held.size > this.maxHeld) this.held.delete(Math.max(...this.held.keys()))
        return { ready, duplicate }
      }
    }
    return { ready: ready.concat(this.drain()), duplicate }
  }

  /** Removes and returns, in seq order, the held items below `seq`. */
  private releaseBelow(seq: number): T[] {
    const below = [...this.held.keys()].filter((k) => k < seq).sort((a, b) => a - b)
    return below.map((k) => {
      const v = this.held.get(k) as T
      this.held.delete(k)
      return v
    })
  }

  private drain(): T[] {
    const out: T[] = []
    for (let next = (this.base as number) + 1; this.held.has(next); next++) {
      out.push(this.held.get(next) as T)
      this.held.delete(next)
      this.base = next
    }
    return out
  }
}

/** A message as the app sees it. */
export interface CimMessage {
  text: string
  /** 0 when the push carried no sender (upstream always sends one). */
  sendUserId: number
  sendUserName: string
  receiveUserId: number
  /** proto=2: unique per message, stable across redeliveries. */
  msgId?: string
  /** proto=2: per-user sequence of an at-least-once message. */
  seq?: number
  /** proto=2: server time the message was accepted (ms). */
  ts?: number
  /** True for texts of an OFFLINE replay batch. */
  offline: boolean
  /** Every property of the frame (sender metadata and any the backend added). */
  properties: Record<string, string>
}

/** A positive safe integer from a property, else undefined. */
export function intProperty(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/**
 * The `seq` of an at-least-once delivery, or undefined for any other push, whose `seq` (if any)
 * is not the broker's and must never move the ack window (docs/protocol.md, Pushes): a seq counts
 * only with a `msgId` and, from a broker whose LOGIN_REPLY said `qosMarked` "1", only on a frame it
 * marked `qos` "1". A broker that does not announce the mark (older versions) is trusted as before.
 */
export function deliverySeq(properties: Record<string, string>, qosMarked: boolean): number | undefined {
  const seq = intProperty(properties.seq)
  if (seq === undefined || !properties.msgId) return undefined
  if (qosMarked && properties.qos !== '1') return undefined
  return seq
}

/**
 * The app messages one push frame carries. Like the upstream CIMClientHandle: a frame with
 * `batchResMsg` yields one message per text, otherwise `resMsg` is the one text. `seq` is set
 * only for an at-least-once delivery (deliverySeq; `qosMarked` as the LOGIN_REPLY said).
 */
export function messagesOf(f: { resMsg: string; responseId: number; cmd: number; properties: Record<string, string>; batchResMsg: string[] }, offlineCmd: number, qosMarked = false): CimMessage[] {
  const p = f.properties
  const common = {
    sendUserId: intProperty(p.sendUserId) ?? 0,
    sendUserName: p.sendUserName ?? '',
    receiveUserId: intProperty(p.receiveUserId) ?? f.responseId,
    msgId: p.msgId || undefined,
    seq: deliverySeq(p, qosMarked),
    ts: intProperty(p.ts),
    offline: f.cmd === offlineCmd,
    properties: p,
  }
  const texts = f.batchResMsg.length > 0 ? f.batchResMsg : [f.resMsg]
  return texts.map((text) => ({ text, ...common }))
}
