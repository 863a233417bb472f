import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runRateCounterContract } from './contract.ts'
import { FLUSH_MS, HOT_FROM, RedisRateCounter } from './redis.ts'
import { sleep } from '../../test/support/wait.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
let prefix = ''
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })
beforeEach(() => { prefix = `cim:t-${randomUUID()}:` })

runRateCounterContract('redis', async () => new RedisRateCounter({ redis: redis.url, prefix }))

describe('a busy key', () => {
  it('is counted locally from HOT_FROM hits on, and the cluster-wide total catches up within a flush', async () => {
    const a = new RedisRateCounter({ redis: redis.url, prefix })
    const b = new RedisRateCounter({ redis: redis.url, prefix })
    try {
      for (let i = 0; i < HOT_FROM; i++) await a.hit('k', 10_000)
      // Hot on `a`: answered at once, without a round trip, and still counting up.
      const local = a.hit('k', 10_000)
      expect(local).not.toBeInstanceOf(Promise)
      expect((local as { count: number }).count).toBe(HOT_FROM + 1)
      for (let i = 0; i < 99; i++) a.hit('k', 10_000)
      await sleep(FLUSH_MS * 5)
      // The other node sees every hit `a` counted: 1,000 exact + 100 flushed, then its own.
      expect((await b.hit('k', 10_000)).count).toBe(HOT_FROM + 101)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('hands hits still counted locally to Redis on close', async () => {
    const a = new RedisRateCounter({ redis: redis.url, prefix })
    const b = new RedisRateCounter({ redis: redis.url, prefix })
    for (let i = 0; i < HOT_FROM; i++) await a.hit('k', 10_000)
    for (let i = 0; i < 10; i++) a.hit('k', 10_000)
    await a.close()
    expect((await b.hit('k', 10_000)).count).toBe(HOT_FROM + 11)
    await b.close()
  })
})
