/** The loss check's verdict arithmetic: it must catch each way delivery can go wrong. */
import { describe, expect, it } from 'vitest'
import { verify } from './loss.ts'

const got = (userId: number, ns: number[], seqs = ns.map((_, i) => i + 1)) =>
  ({ userId, got: ns.map((n, i) => [`m${n}`, seqs[i], `${userId}:${n}`] as [string, number, string]) })

describe('loss check verify()', () => {
  const sent = new Map([[1, [0, 1, 2, 3]], [2, [0, 1]]])

  it('counts a perfect run as all delivered', () => {
    expect(verify([got(1, [0, 1, 2, 3]), got(2, [0, 1])], sent)).toEqual({ delivered: 6, lost: 0, duplicatesSeen: 0, outOfOrder: 0 })
  })

  it('catches a lost message, a duplicate the app saw, and a message out of order', () => {
    expect(verify([got(1, [0, 2, 1, 2]), got(2, [0])], sent)).toEqual({ delivered: 4, lost: 2, duplicatesSeen: 1, outOfOrder: 1 })
  })

  it('catches seqs going backwards and another user\'s message', () => {
    expect(verify([got(1, [0, 1, 2, 3], [1, 3, 2, 4]), { userId: 2, got: [['x', 1, '1:0'], ['y', 2, '2:0'], ['z', 3, '2:1']] }], sent))
      .toEqual({ delivered: 6, lost: 0, duplicatesSeen: 0, outOfOrder: 2 })
  })
})
