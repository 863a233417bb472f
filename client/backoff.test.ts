import { describe, expect, it } from 'vitest'
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts'

describe('backoffDelay', () => {
  const lowest = () => 0
  const highest = () => 0.999999

  it('starts between minMs and twice minMs', () => {
    expect(backoffDelay(0, DEFAULT_BACKOFF, lowest)).toBe(500)
    expect(backoffDelay(0, DEFAULT_BACKOFF, highest)).toBe(1000)
  })

  it('doubles its range per attempt', () => {
    expect([1, 2, 3].map((a) => backoffDelay(a, DEFAULT_BACKOFF, lowest))).toEqual([1000, 2000, 4000])
    expect([1, 2, 3].map((a) => backoffDelay(a, DEFAULT_BACKOFF, highest))).toEqual([2000, 4000, 8000])
  })

  it('never exceeds maxMs and keeps jitter at the cap', () => {
    for (const attempt of [10, 50, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, highest)).toBe(30_000)
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, lowest)).toBe(15_000)
    }
  })

  it('spreads clients over the range (jitter)', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(2, DEFAULT_BACKOFF)))
    expect(seen.size).toBeGreaterThan(10)
    for (const d of seen) expect(d).toBeGreaterThanOrEqual(2000)
    for (const d of seen) expect(d).toBeLessThanOrEqual(4000)
  })

  it('honours custom bounds, including maxMs below the first ceiling', () => {
    expect(backoffDelay(0, { minMs: 100, maxMs: 150 }, highest)).toBe(150)
    expect(backoffDelay(0, { minMs: 100, maxMs: 150 }, lowest)).toBe(100)
    expect(backoffDelay(3, { minMs: 0, maxMs: 10 }, highest)).toBe(0)
  })
})
