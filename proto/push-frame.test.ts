import { describe, expect, it } from 'vitest'
import { SharedBody, epochTail, seqTail, sharedProperties } from '../broker/cim/frames.ts'
import { encodeRecipientTail } from './codec.ts'
import { BROKER_OVERHEAD_BYTES, EPOCH_MAX_BYTES, pushBodyBound, reservedPropertyIn } from './push-frame.ts'

describe('pushBodyBound', () => {
  it('is at least the body of the largest frame the broker writes for a push (issue 9 item 4)', () => {
    const max = Number.MAX_SAFE_INTEGER
    for (const [text, properties] of [['', {}], ['hé'.repeat(3000), { sendUserId: '0', sendUserName: 'system', k: 'v'.repeat(200) }]] as const) {
      // A replayed stored message to a proto=2 client: every broker property at its longest.
      const extra = { msgId: '00000000-0000-0000-0000-000000000000', ts: String(max), prevSeq: String(max) }
      const frame = SharedBody.of(text, sharedProperties(properties, extra)).frameFor(Buffer.concat([encodeRecipientTail(max), seqTail(max), epochTail('z'.repeat(EPOCH_MAX_BYTES))]))
      const body = frame.length - (frame.length - 1 > 127 ? 2 : 1) // strip the length varint
      expect(pushBodyBound(text, properties)).toBeGreaterThanOrEqual(body)
      expect(pushBodyBound(text, properties) - body).toBeLessThan(32)
    }
    expect(BROKER_OVERHEAD_BYTES).toBeLessThan(210)
  })

  it('names the first reserved property', () => {
    expect(reservedPropertyIn({ kind: 'a', seq: '1' })).toBe('seq')
    expect(reservedPropertyIn({ kind: 'a' })).toBeUndefined()
    expect(reservedPropertyIn(undefined)).toBeUndefined()
  })
})
