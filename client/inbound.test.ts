import { describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { RecentIds, SeqWindow, messagesOf } from './inbound.ts'

describe('RecentIds (duplicate suppression by msgId)', () => {
  it('reports a repeated id as a duplicate', () => {
    const ids = new RecentIds(10)
    expect(ids.add('a')).toBe(true)
    expect(ids.add('b')).toBe(true)
    expect(ids.add('a')).toBe(false)
  })

  it('is bounded and forgets the least recently seen id first', () => {
    const ids = new RecentIds(3)
    ids.add('a'); ids.add('b'); ids.add('c')
    ids.add('a') // seen again: now the most recent
    ids.add('d') // evicts b, the oldest
    expect(ids.size).toBe(3)
    expect(ids.has('b')).toBe(false)
    expect(ids.has('a')).toBe(true)
    expect(ids.add('b')).toBe(true)
  })
})

/** accept() as a list of ready items, or null for a duplicate. */
function acc<T>(w: SeqWindow<T>, seq: number, item: T, prevSeq?: number): T[] | null {
  const r = w.accept(seq, item, prevSeq)
  return r.duplicate ? null : r.ready
}

describe('SeqWindow (ordering and cumulative ack)', () => {
  it('delivers in order and acks the highest contiguous seq', () => {
    const w = new SeqWindow<string>()
    expect(w.ackSeq).toBeUndefined()
    expect(acc(w, 1, 'a')).toEqual(['a'])
    expect(acc(w, 2, 'b')).toEqual(['b'])
    expect(w.ackSeq).toBe(2)
  })

  it('starts from the first seq seen (an earlier run acked the ones before it)', () => {
    const w = new SeqWindow<string>()
    expect(acc(w, 51, 'x')).toEqual(['x'])
    expect(w.ackSeq).toBe(51)
  })

  it('holds an item past a gap and releases the run once the gap fills', () => {
    const w = new SeqWindow<string>()
    acc(w, 1, 'a')
    expect(acc(w, 3, 'c')).toEqual([])
    expect(acc(w, 4, 'd')).toEqual([])
    expect(w.holding).toBe(2)
    expect(w.ackSeq).toBe(1) // 3 and 4 arrived, but 2 is missing: the ack must not pass it
    expect(acc(w, 2, 'b')).toEqual(['b', 'c', 'd'])
    expect(w.ackSeq).toBe(4)
    expect(w.holding).toBe(0)
  })

  it('never moves the ack point past a gap, however long it lasts', () => {
    const w = new SeqWindow<string>()
    acc(w, 1, 'a')
    for (let i = 3; i < 50; i++) expect(acc(w, i, String(i))).toEqual([])
    expect(w.ackSeq).toBe(1)
  })

  it('treats a seq at or below the ack point, or one already held, as a duplicate', () => {
    const w = new SeqWindow<string>()
    acc(w, 5, 'e')
    expect(acc(w, 4, 'd')).toBeNull()
    expect(acc(w, 5, 'e')).toBeNull()
    acc(w, 7, 'g')
    expect(acc(w, 7, 'g')).toBeNull()
    expect(w.ackSeq).toBe(5)
  })

  it('keeps the first copy when the same seq is held twice', () => {
    const w = new SeqWindow<string>()
    acc(w, 1, 'a')
    acc(w, 3, 'c1')
    expect(acc(w, 3, 'c2')).toBeNull()
    expect(acc(w, 2, 'b')).toEqual(['b', 'c1'])
  })

  it('advanceTo sets the start from the server, releases held items below it, never goes back', () => {
    const w = new SeqWindow<string>()
    expect(w.advanceTo(10)).toEqual([])
    expect(acc(w, 12, 'l')).toEqual([])
    expect(acc(w, 11, 'k')).toEqual(['k', 'l'])
    acc(w, 14, 'n'); acc(w, 16, 'p')
    expect(w.advanceTo(8)).toEqual([]) // below: ignored
    expect(w.advanceTo(15)).toEqual(['n', 'p'])
    expect(w.ackSeq).toBe(16)
  })

  it('prevSeq at or below the ack point skips the seqs that will never come', () => {
    const w = new SeqWindow<string>()
    acc(w, 1, 'a')
    acc(w, 4, 'd')
    expect(acc(w, 6, 'f', 1)).toEqual(['d', 'f'])
    expect(w.ackSeq).toBe(6)
    // prevSeq above the ack point says nothing about the seqs below it: keep waiting.
    expect(acc(w, 9, 'i', 8)).toEqual([])
    expect(w.ackSeq).toBe(6)
  })

  it('a redelivered copy of a held seq whose gap the broker says is gone releases it', () => {
    const w = new SeqWindow<string>()
    acc(w, 1, 'a')
    acc(w, 4, 'd')
    expect(w.accept(4, 'd again', 1)).toEqual({ ready: ['d'], duplicate: true })
    expect(w.ackSeq).toBe(4)
  })

  it('holds at most maxHeld items, dropping the highest (never acked, so sent again)', () => {
    const w = new SeqWindow<string>(2)
    acc(w, 1, 'a')
    acc(w, 5, 'e'); acc(w, 3, 'c'); acc(w, 4, 'd')
    expect(w.holding).toBe(2)
    expect(acc(w, 2, 'b')).toEqual(['b', 'c', 'd'])
    expect(acc(w, 5, 'e')).toEqual(['e']) // the dropped one, redelivered
  })
})

describe('messagesOf', () => {
  const frame = (over: Partial<{ resMsg: string; cmd: number; properties: Record<string, string>; batchResMsg: string[] }>) => ({
    resMsg: '', responseId: 7, cmd: BaseCommand.MESSAGE, properties: {}, batchResMsg: [], ...over,
  })

  it('reads sender metadata and the proto=2 properties', () => {
    const [m] = messagesOf(frame({
      resMsg: 'hi',
      properties: { sendUserId: '1700000000001', sendUserName: 'bob', receiveUserId: '7', msgId: 'm1', seq: '3', ts: '1700000000123' },
    }), BaseCommand.OFFLINE)
    expect(m).toMatchObject({ text: 'hi', sendUserId: 1700000000001, sendUserName: 'bob', receiveUserId: 7, msgId: 'm1', seq: 3, ts: 1700000000123, offline: false })
  })

  it('turns an OFFLINE batch into one offline message per text', () => {
    const ms = messagesOf(frame({ cmd: BaseCommand.OFFLINE, batchResMsg: ['one', 'two'], properties: { sendUserName: 'bob' } }), BaseCommand.OFFLINE)
    expect(ms.map((m) => [m.text, m.offline, m.sendUserName])).toEqual([['one', true, 'bob'], ['two', true, 'bob']])
  })
})

describe('SeqWindow epochs (the server lost the seq counter and began again at 1)', () => {
  it('adopts the first epoch, and on another one starts again at the floor, handing back what it held', () => {
    const w = new SeqWindow<string>()
    expect(w.enterEpoch('e1', 0)).toEqual([])
    w.advanceTo(0)
    for (let seq = 1; seq <= 57; seq++) w.accept(seq, `old ${seq}`)
    w.accept(59, 'old 59') // held behind a gap that the lost stream will never fill
    expect(w.ackSeq).toBe(57)
    expect(w.enterEpoch('e1')).toEqual([]) // the same epoch: nothing changes
    expect(w.ackSeq).toBe(57)
    // A push of the new stream: the old ack point no longer applies; seq 1 is new, not a duplicate.
    expect(w.enterEpoch('e2')).toEqual(['old 59'])
    expect(w.epoch).toBe('e2')
    expect(w.ackSeq).toBe(0)
    expect(w.accept(1, 'new 1')).toEqual({ ready: ['new 1'], duplicate: false })
    expect(w.ackSeq).toBe(1)
    // A LOGIN_REPLY of yet another stream names its floor.
    w.enterEpoch('e3', 4)
    expect(w.ackSeq).toBe(4)
    expect(w.accept(5, 'e3 5')).toEqual({ ready: ['e3 5'], duplicate: false })
  })
})
