/**
 * Client-side delivery guarantees for proto=2 pushes (DESIGN.md "Extensions"): pushes carry a
 * `msgId` stable across redeliveries and, when stored for at-least-once delivery, a per-user `seq`
 * increasing by 1. The broker redelivers everything above the last ACK at each login, so the client
 * must drop what it already has (by msgId), hand the rest to the app in seq order, and ACK the
 * highest seq received with no gap before it.
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
 * Puts seq'd items back in order and computes the cumulative ACK.
 *
 * - The first seq seen sets the starting point: a fresh process does not know which seqs an
 *   earlier run already acknowledged, and the broker replays from the first unacknowledged one.
 * - An item at or below the acked point passes straight through (duplicates are the msgId
 *   filter's job, not this class's).
 * - An item past a gap is held until the gap fills (two route nodes may publish seq n and n+1 in
 *   either order). `skipGap()` gives up on the first gap — the caller calls it after a reorder
 *   window, since a seq that never arrives expired from the inbox — so acks keep advancing.
 */
export class SeqWindow<T> {
  private base: number | undefined
  private readonly held = new Map<number, T>()

  /** Highest seq received with no gap before it (the ACK's requestId); undefined before any. */
  get ackSeq(): number | undefined {
    return this.base
  }

  /** Items waiting for a gap to fill. */
  get holding(): number {
    return this.held.size
  }

  /** Accepts one item; returns the items now deliverable, in seq order (possibly none). */
  accept(seq: number, item: T): T[] {
    if (this.base === undefined) this.base = seq - 1
    if (seq <= this.base) return [item]
    if (seq > this.base + 1) {
      if (!this.held.has(seq)) this.held.set(seq, item)
      return []
    }
    this.base = seq
    return [item, ...this.drain()]
  }

  /** Gives up on the first gap: releases the held items up to the next gap, in order. */
  skipGap(): T[] {
    if (this.held.size === 0) return []
    const lowest = Math.min(...this.held.keys())
    this.base = lowest - 1
    return this.drain()
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
 * The app messages one push frame carries. Like the upstream CIMClientHandle: a frame with
 * `batchResMsg` yields one message per text, otherwise `resMsg` is the one text.
 */
export function messagesOf(f: { resMsg: string; responseId: number; cmd: number; properties: Record<string, string>; batchResMsg: string[] }, offlineCmd: number): CimMessage[] {
  const p = f.properties
  const common = {
    sendUserId: intProperty(p.sendUserId) ?? 0,
    sendUserName: p.sendUserName ?? '',
    receiveUserId: intProperty(p.receiveUserId) ?? f.responseId,
    msgId: p.msgId || undefined,
    seq: intProperty(p.seq),
    ts: intProperty(p.ts),
    offline: f.cmd === offlineCmd,
    properties: p,
  }
  const texts = f.batchResMsg.length > 0 ? f.batchResMsg : [f.resMsg]
  return texts.map((text) => ({ text, ...common }))
}
