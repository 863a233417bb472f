import { describe, it, expect } from 'vitest'
import type { BrokerInfo } from '../adapters/discovery/index.ts'
import { createBalancer } from './balancer.ts'

function broker(id: string, patch: Partial<BrokerInfo> = {}): BrokerInfo {
  return { id, host: '10.0.0.1', cimPort: 11211, httpPort: 8081, mqttPort: 1883, wsPort: 9001, connections: 0, draining: false, startedAt: 0, ...patch }
}

const keys = Array.from({ length: 1000 }, (_, i) => String(1747309836375 + i * 7919))

/** A deterministic generator so `random` tests cannot flake. */
function seeded(seed = 42): () => number {
  let s = seed
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
}

function errorCode(fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('consistent-hash balancer', () => {
  const three = [broker('10.0.0.1:11211:8081'), broker('10.0.0.2:11211:8081'), broker('10.0.0.3:11211:8081')]

  it('spreads 1,000 keys over 3 brokers roughly evenly', () => {
    const b = createBalancer('consistent-hash')
    const counts = new Map<string, number>()
    for (const k of keys) { const id = b.choose(k, three).id; counts.set(id, (counts.get(id) ?? 0) + 1) }
    expect(counts.size).toBe(3)
    for (const n of counts.values()) { expect(n).toBeGreaterThan(250); expect(n).toBeLessThan(420) }
  })

  it('is stable: the same key always gets the same broker, whatever the list order or the route node', () => {
    const a = createBalancer('consistent-hash')
    const b = createBalancer('consistent-hash')
    for (const k of keys.slice(0, 100)) expect(a.choose(k, three).id).toBe(b.choose(k, [...three].reverse()).id)
  })

  it('moves only about 1/N of the keys when a 4th broker joins, all of them to the new broker', () => {
    const b = createBalancer('consistent-hash')
    const before = keys.map((k) => b.choose(k, three).id)
    const four = [...three, broker('10.0.0.4:11211:8081')]
    const after = keys.map((k) => b.choose(k, four).id)
    const moved = keys.filter((_, i) => before[i] !== after[i]).length
    expect(moved).toBeGreaterThan(100)
    expect(moved).toBeLessThanOrEqual(350)
    for (let i = 0; i < keys.length; i++) if (before[i] !== after[i]) expect(after[i]).toBe('10.0.0.4:11211:8081')
  })

  it('never chooses a draining broker, and moves only its keys', () => {
    const b = createBalancer('consistent-hash')
    const drained = three.map((x, i) => (i === 1 ? { ...x, draining: true } : x))
    const normal = keys.map((k) => b.choose(k, three).id)
    const now = keys.map((k) => b.choose(k, drained).id)
    expect(now).not.toContain(three[1].id)
    for (let i = 0; i < keys.length; i++) if (normal[i] !== three[1].id) expect(now[i]).toBe(normal[i])
  })
})

describe('other strategies', () => {
  const three = [broker('c', { connections: 5 }), broker('a', { connections: 9 }), broker('b', { connections: 2 })]

  it('round-robin cycles through the live brokers in id order', () => {
    const b = createBalancer('round-robin')
    expect(Array.from({ length: 6 }, () => b.choose('k', three).id)).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
    const drained = three.map((x) => (x.id === 'b' ? { ...x, draining: true } : x))
    expect(new Set(Array.from({ length: 4 }, () => b.choose('k', drained).id))).toEqual(new Set(['a', 'c']))
  })

  it('random uses every live broker and never a draining one', () => {
    const b = createBalancer('random', { random: seeded() })
    const drained = [...three, broker('d', { draining: true })]
    const seen = new Set(Array.from({ length: 200 }, () => b.choose('k', drained).id))
    expect(seen).toEqual(new Set(['a', 'b', 'c']))
  })

  it('least-connections picks the emptiest live broker, spreading ties', () => {
    const b = createBalancer('least-connections', { random: seeded() })
    expect(b.choose('k', three).id).toBe('b')
    expect(b.choose('k', three.map((x) => (x.id === 'b' ? { ...x, draining: true } : x))).id).toBe('c')
    const tied = [broker('x', { connections: 1 }), broker('y', { connections: 1 }), broker('z', { connections: 4 })]
    expect(new Set(Array.from({ length: 50 }, () => b.choose('k', tied).id))).toEqual(new Set(['x', 'y']))
  })

  it.each(['consistent-hash', 'round-robin', 'random', 'least-connections'] as const)(
    '%s fails with CIM_NO_BROKER when no broker is live',
    (strategy) => {
      const b = createBalancer(strategy)
      expect(errorCode(() => b.choose('k', []))).toBe('CIM_NO_BROKER')
      expect(errorCode(() => b.choose('k', [broker('a', { draining: true })]))).toBe('CIM_NO_BROKER')
    },
  )
})
