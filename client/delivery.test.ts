import { describe, expect, it } from 'vitest'
import { BaseCommand } from '../proto/codec.ts'
import { RecentIds, SeqWindow, messagesOf } from './delivery.ts'

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

describe('SeqWindow (ordering and cumulative ack)', () => {
  it('delivers in order and acks the highest contiguous seq', () => {
    const w = new SeqWindow<string>()
    expect(w.ackSeq).toBeUndefined()
    expect(w.accept(1, 'a')).toEqual(['a'])
    expect(w.accept(2, 'b')).toEqual(['b'])
    expect(w.ackSeq).toBe(2)
  })

  it('starts from the first seq seen (an earlier run acked the ones before it)', () => {
    const w = new SeqWindow<string>()
    expect(w.accept(51, 'x')).toEqual(['x'])
    expect(w.ackSeq).toBe(51)
  })

  it('holds an item past a gap and releases the run once the gap fills', () => {
    const w = new SeqWindow<string>()
    w.accept(1, 'a')
    expect(w.accept(3, 'c')).toEqual([])
    expect(w.accept(4, 'd')).toEqual([])
    expect(w.holding).toBe(2)
    expect(w.ackSeq).toBe(1) // 3 and 4 arrived, but 2 is missing: the ack must not pass it
    expect(w.accept(2, 'b')).toEqual(['b', 'c', 'd'])
    expect(w.ackSeq).toBe(4)
    expect(w.holding).toBe(0)
  })

  it('skipGap releases only up to the next gap', () => {
    const w = new SeqWindow<string>()
    w.accept(1, 'a')
    w.accept(3, 'c'); w.accept(4, 'd'); w.accept(7, 'g')
    expect(w.skipGap()).toEqual(['c', 'd'])
    expect(w.ackSeq).toBe(4)
    expect(w.holding).toBe(1)
    expect(w.skipGap()).toEqual(['g'])
    expect(w.ackSeq).toBe(7)
    expect(w.skipGap()).toEqual([])
  })

  it('passes through an item at or below the ack point (a late one; msgIds catch duplicates)', () => {
    const w = new SeqWindow<string>()
    w.accept(5, 'e')
    expect(w.accept(4, 'd')).toEqual(['d'])
    expect(w.ackSeq).toBe(5)
  })

  it('keeps the first copy when the same seq is held twice', () => {
    const w = new SeqWindow<string>()
    w.accept(1, 'a')
    w.accept(3, 'c1'); w.accept(3, 'c2')
    expect(w.accept(2, 'b')).toEqual(['b', 'c1'])
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
