import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runAccountsContract } from './contract.ts'
import { RedisAccounts } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const freshPrefix = () => `cim:t-${randomUUID()}:`

runAccountsContract('redis', async () => new RedisAccounts({ redis: redis.url, prefix: freshPrefix() }))

describe('Redis accounts across nodes', () => {
  it('two nodes registering the same names at once agree on every account, with unique ids', async () => {
    const prefix = freshPrefix()
    const a = new RedisAccounts({ redis: redis.url, prefix })
    const b = new RedisAccounts({ redis: redis.url, prefix })
    try {
      const names = Array.from({ length: 30 }, (_, i) => `u${i}`)
      const [fromA, fromB] = await Promise.all([a, b].map((node) => Promise.all(names.map((n) => node.register(n)))))
      expect(fromB.map((x) => x.userId)).toEqual(fromA.map((x) => x.userId))
      expect(new Set(fromA.map((x) => x.userId)).size).toBe(30)
      // Each name was created exactly once, by one of the two nodes.
      for (let i = 0; i < 30; i++) expect(Number(fromA[i].created) + Number(fromB[i].created)).toBe(1)
      expect(await b.getByName('u7')).toEqual({ userId: fromA[7].userId, userName: 'u7' })
    } finally {
      await a.close()
      await b.close()
    }
  })
})
