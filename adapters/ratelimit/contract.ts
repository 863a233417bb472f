/** The behaviour every RateCounter implementation must show. Two `make()` calls in one test share the data (two route nodes). */
import { describe, it, expect, afterEach } from 'vitest'
import type { RateCounter } from './index.ts'
import { sleep } from '../../test/support/wait.ts'

export function runRateCounterContract(name: string, make: () => Promise<RateCounter>): void {
  describe(`RateCounter contract: ${name}`, () => {
    const opened: RateCounter[] = []
    const open = async () => { const c = await make(); opened.push(c); return c }
    afterEach(async () => { for (const c of opened.splice(0)) await c.close() })

    it('counts hits per key within a window, across handles, and starts again after it', async () => {
      const [a, b] = [await open(), await open()]
      expect(await a.hit('k', 300)).toMatchObject({ count: 1 })
      expect((await b.hit('k', 300)).count).toBe(2)
      const third = await a.hit('k', 300)
      expect(third.count).toBe(3)
      expect(third.ttlMs).toBeGreaterThan(0)
      expect(third.ttlMs).toBeLessThanOrEqual(300)
      expect((await b.hit('other', 300)).count).toBe(1)
      await sleep(350)
      expect(await a.hit('k', 300)).toMatchObject({ count: 1 })
    })
  })
}
