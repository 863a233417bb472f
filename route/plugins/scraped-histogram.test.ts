import { describe, expect, it } from 'vitest'
import { Histogram, Registry } from 'prom-client'
import { ScrapedHistogram } from './scraped-histogram.ts'

const BUCKETS = [0.001, 0.01, 0.1, 1]
const OBSERVED: Array<[string, string, number]> = [
  ['GET', '200', 0.0005], ['GET', '200', 0.001], ['GET', '200', 0.05], ['POST', '400', 2], ['POST', '400', 0.2], ['GET', '200', 0.0101],
]

describe('ScrapedHistogram', () => {
  it('exposes exactly what a prom-client Histogram given the same observations exposes', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const scraped = new ScrapedHistogram({ name: 'h_seconds', help: 'h', labelNames: ['method', 'status'] as const, buckets: BUCKETS, registers: [ours] })
    const reference = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['method', 'status'] as const, buckets: BUCKETS, registers: [theirs] })
    for (const [method, status, v] of OBSERVED) {
      scraped.child(method, status).observe(v)
      reference.observe({ method, status }, v)
    }
    const text = await ours.metrics()
    expect(text).toBe(await theirs.metrics())
    expect(text).toMatch(/^h_seconds_bucket\{le="0.001",method="GET",status="200"\} 2$/m)
    expect(text).toMatch(/^h_seconds_count\{method="POST",status="400"\} 2$/m)
    // The JSON form too (prom-client adds `exemplar: null` to its own values; no exemplars here).
    const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON(), (k, v) => (k === 'exemplar' ? undefined : v)))
    expect(await json(ours)).toEqual(await json(theirs))
  })

  it('keeps one child per label set', () => {
    const h = new ScrapedHistogram({ name: 'x', help: 'x', labelNames: ['k'] as const, buckets: BUCKETS, registers: [] })
    expect(h.child('a')).toBe(h.child('a'))
    expect(h.child('a')).not.toBe(h.child('b'))
  })
})
