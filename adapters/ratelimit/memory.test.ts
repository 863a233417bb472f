import { beforeEach, expect, it } from 'vitest'
import { runRateCounterContract } from './contract.ts'
import { MemoryRateCounter } from './memory.ts'

let shared: MemoryRateCounter
beforeEach(() => { shared = new MemoryRateCounter() })
runRateCounterContract('memory', async () => shared)

it('stays within maxKeys: expired windows go first, then the oldest key', async () => {
  let now = 0
  const c = new MemoryRateCounter(3, () => now)
  for (const k of ['a', 'b', 'c']) await c.hit(k, 100)
  await c.hit('d', 100)
  expect(c.size).toBe(3)
  expect((await c.hit('a', 100)).count).toBe(1) // 'a' was dropped
  now = 2_000 // expired, and the last sweep (at most one a second) long ago
  await c.hit('e', 100)
  expect(c.size).toBe(1)
})
