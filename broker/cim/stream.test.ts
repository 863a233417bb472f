import { describe, expect, it } from 'vitest'
import { QUEUE, SKIP, Stream, WRITE } from './stream.ts'

const ACK_TIMEOUT = 1000

/** A stream past its login replay (which found nothing), at `floor`. */
function live(floor = 0, clientAcks = true): Stream {
  const s = new Stream(floor, clientAcks)
  s.endCatchUp(0, 'login', 0, false)
  return s
}

describe('Stream', () => {
  it('starts at the acked floor, catching up (the login replay comes first)', () => {
    const s = new Stream(7, true)
    expect([s.sentSeq, s.maxSeq, s.ackedSeq, s.waitingSince]).toEqual([7, 7, 7, 0])
    expect(s.catchingUp).toBe(true)
    expect(s.startCatchUp()).toBe(false) // the login replay is the read in flight
  })

  it('offers: write a new seq, skip one already written, queue while an inbox read is in flight', () => {
    const s = live(3)
    expect(s.offer(4)).toBe(WRITE)
    expect(s.offer(3)).toBe(SKIP)
    expect(s.offer(1)).toBe(SKIP)
    expect(s.startCatchUp()).toBe(true)
    expect(s.offer(9)).toBe(QUEUE)
    expect(s.offer(8)).toBe(QUEUE)
    expect(s.pendingSeq).toBe(9)
  })

  it('advances the written run only when contiguous, and starts the ack clock once', () => {
    const s = live(0)
    s.written(2, 100) // 1 not written yet: the run stays at 0
    expect([s.sentSeq, s.maxSeq, s.waitingSince]).toEqual([0, 2, 100])
    s.written(1, 200)
    expect([s.sentSeq, s.maxSeq, s.waitingSince]).toEqual([1, 2, 100])
    expect(s.offer(2)).toBe(WRITE) // written out of order, so a redelivery may still be needed
  })

  it('an inbox write completes the run up to its seq (what the read skipped is gone)', () => {
    const s = new Stream(0, true)
    s.writtenFromInbox(5, 100)
    expect([s.sentSeq, s.maxSeq, s.waitingSince]).toEqual([5, 5, 100])
  })

  it('acks progress monotonically; acks at or below the floor or the last ack are ignored', () => {
    const s = live(10)
    expect(s.acked(10, 50)).toBe(false)
    expect(s.acked(4, 50)).toBe(false)
    s.written(11, 100)
    s.written(12, 100)
    expect(s.acked(11, 300)).toBe(true)
    expect([s.ackedSeq, s.waitingSince]).toEqual([11, 300]) // 12 still outstanding: clock restarts
    expect(s.acked(11, 400)).toBe(false)
    expect(s.waitingSince).toBe(300)
    expect(s.acked(12, 500)).toBe(true)
    expect(s.waitingSince).toBe(0) // nothing outstanding
  })

  it('an ack beyond what was written moves the run and the maximum with it', () => {
    const s = live(0)
    expect(s.acked(6, 100)).toBe(true)
    expect([s.sentSeq, s.maxSeq, s.ackedSeq, s.waitingSince]).toEqual([6, 6, 6, 0])
    expect(s.offer(5)).toBe(SKIP)
  })

  it('catch-up: reads until the pushes that waited are covered; seqs the inbox no longer holds are done', () => {
    const s = new Stream(0, true)
    expect(s.offer(3)).toBe(QUEUE)
    s.writtenFromInbox(1, 100) // the login read returned only seq 1
    expect(s.caughtUp).toBe(false) // 3 waited: read again after 1
    s.writtenFromInbox(2, 100) // the second read returned 2 (3 was acked elsewhere or expired)
    expect(s.caughtUp).toBe(false)
    s.endCatchUp(200, 'login', 2, false)
    expect([s.sentSeq, s.catchingUp]).toEqual([3, false])
    expect(s.offer(3)).toBe(SKIP)
    expect(s.offer(4)).toBe(WRITE)
  })

  it('a failed read leaves waiting pushes unwritten and keeps the ack clock running', () => {
    const s = new Stream(0, true)
    expect(s.offer(3)).toBe(QUEUE)
    s.endCatchUp(200, 'login', 0, true)
    expect([s.sentSeq, s.waitingSince, s.catchingUp]).toEqual([0, 200, false])
    expect(s.dueForRedelivery(200 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
  })

  it('is due for redelivery only after the ack timeout without progress, and not during a read', () => {
    const s = live(0)
    expect(s.dueForRedelivery(10_000, ACK_TIMEOUT)).toBe(false) // nothing outstanding
    s.written(1, 1000)
    expect(s.dueForRedelivery(1000 + ACK_TIMEOUT - 1, ACK_TIMEOUT)).toBe(false)
    expect(s.dueForRedelivery(1000 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
    expect(s.waitingSince).toBe(1000 + ACK_TIMEOUT) // the clock restarted: not due again at once
    expect(s.dueForRedelivery(1000 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(false)
    expect(s.startCatchUp()).toBe(true)
    expect(s.dueForRedelivery(10_000, ACK_TIMEOUT)).toBe(false) // the read in flight covers it
  })

  it('after a redelivery the clock restarts if it wrote something, and stops if the inbox was empty', () => {
    const s = live(0)
    s.written(1, 100)
    expect(s.dueForRedelivery(100 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
    s.startCatchUp()
    s.writtenFromInbox(1, 1500)
    s.endCatchUp(1600, 'redeliver', 1, false)
    expect(s.waitingSince).toBe(1600)
    expect(s.dueForRedelivery(1600 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
    s.startCatchUp()
    s.endCatchUp(3000, 'redeliver', 0, false) // the message expired meanwhile
    expect(s.waitingSince).toBe(0)
    expect(s.dueForRedelivery(100_000, ACK_TIMEOUT)).toBe(false)
  })

  it('a failed redelivery is tried again after the next ack timeout', () => {
    const s = live(0)
    s.written(1, 100)
    expect(s.dueForRedelivery(100 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
    s.startCatchUp()
    s.endCatchUp(1100, 'redeliver', 0, true)
    expect(s.dueForRedelivery(1100 + ACK_TIMEOUT, ACK_TIMEOUT)).toBe(true)
  })

  it('redelivers above the client ACK (proto=2), or above the written run (upstream: the socket acks)', () => {
    const proto2 = live(0, true)
    proto2.written(1, 0)
    proto2.written(2, 0)
    expect(proto2.redeliverAfter).toBe(0)
    proto2.acked(1, 10)
    expect(proto2.redeliverAfter).toBe(1)

    const upstream = live(0, false)
    upstream.written(1, 0)
    upstream.written(2, 0)
    expect(upstream.redeliverAfter).toBe(2) // written means taken; acks follow from the socket
    upstream.written(4, 0) // 3 not written yet
    expect(upstream.redeliverAfter).toBe(2)
  })
})

describe('Stream epochs', () => {
  it('a push of another epoch restarts the stream at 0 (the inbox began its seqs again at 1)', () => {
    const s = new Stream(0, true, 'e1')
    s.endCatchUp(0, 'login', 0, false)
    for (let seq = 1; seq <= 57; seq++) {
      expect(s.offer(seq, 'e1')).toBe(WRITE)
      s.written(seq, 1)
    }
    expect(s.acked(57, 2)).toBe(true)
    expect(s.offer(1, 'e1')).toBe(SKIP)
    const oldTail = s.epochTail
    expect(s.offer(1, 'e2')).toBe(WRITE)
    expect([s.epoch, s.sentSeq, s.ackedSeq, s.maxSeq]).toEqual(['e2', 0, 0, 0])
    expect(s.epochTail).not.toEqual(oldTail)
    expect(s.epochTail.toString()).toContain('e2')
    // A push that names no epoch (a route that predates them) keeps the stream's.
    s.written(1, 3)
    expect(s.offer(2)).toBe(WRITE)
    expect(s.epoch).toBe('e2')
  })

  it('a stream without an epoch writes no epoch property', () => {
    expect(new Stream(0, true).epochTail.length).toBe(0)
  })
})
