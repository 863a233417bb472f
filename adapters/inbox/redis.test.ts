import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { runInboxContract } from './contract.ts'
import { RedisInbox } from './redis.ts'
import { startRedis, type RedisServer } from '../../test/support/servers.ts'
import { storedBytesOf, type InboxAppend } from './index.ts'
import { Redis } from 'ioredis'
import { sleep } from '../../test/support/wait.ts'

let redis: RedisServer
beforeAll(async () => { redis = await startRedis() })
afterAll(async () => { await redis?.stop() })

const freshPrefix = () => `cim:t-${randomUUID()}:`
const msg = (text: string, ttlMs = 60_000): InboxAppend => ({ msgId: `m-${text}`, text, properties: { k: 'v' }, ts: Date.now(), ttlMs })

runInboxContract('redis', async (limits) => new RedisInbox({ redis: redis.url, prefix: freshPrefix(), ...limits }))

describe('Redis inbox across nodes', () => {
  it('two nodes appending at once share one seq sequence and one cap', async () => {
    const prefix = freshPrefix()
    const a = new RedisInbox({ redis: redis.url, prefix, maxPerUser: 25 })
    const b = new RedisInbox({ redis: redis.url, prefix, maxPerUser: 25 })
    try {
      const attempts = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(42, msg(String(i))))
      const results = await Promise.allSettled(attempts)
      const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []))
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code: string }] : []))
      expect(stored.sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      expect(refused.length).toBe(15)
      for (const e of refused) expect(e.code).toBe('CIM_INBOX_FULL')
      expect((await b.list(42)).length).toBe(25)
      expect(await a.stats()).toMatchObject({ stored: 25, expired: 0 })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('expired messages free room under the cap and are counted, even for users nobody reads', async () => {
    const inbox = new RedisInbox({ redis: redis.url, prefix: freshPrefix(), maxPerUser: 2 })
    try {
      await inbox.append(1, msg('short', 50))
      await inbox.append(1, msg('long'))
      for (let u = 100; u < 105; u++) await inbox.append(u, msg('short', 50))
      await sleep(120)
      expect((await inbox.append(1, msg('next'))).seq).toBe(3)
      expect((await inbox.list(1)).map((m) => m.text)).toEqual(['long', 'next'])
      expect(await inbox.stats()).toMatchObject({ stored: 2, expired: 6 })
      expect(await inbox.list(1, 0, 1)).toMatchObject([{ seq: 2, text: 'long', properties: { k: 'v' } }])
    } finally {
      await inbox.close()
    }
  })

  it('at the cap, finds the user\'s own expired messages even behind a backlog of other users', async () => {
    let now = 1_000_000
    const inbox = new RedisInbox({ redis: redis.url, prefix: freshPrefix(), maxPerUser: 2, now: () => now })
    const at = (text: string, ts: number, ttlMs: number): InboxAppend => ({ msgId: text, text, properties: {}, ts, ttlMs })
    try {
      // 300 expired messages of other users, older than user 1's: more than one sweep batch.
      await Promise.all(Array.from({ length: 300 }, (_, i) => inbox.append(1000 + i, at(`o${i}`, now, 10))))
      await inbox.append(1, at('short', now, 100))
      await inbox.append(1, at('long', now, 60_000))
      now += 1_000
      expect((await inbox.append(1, at('next', now, 60_000))).seq).toBe(3)
      await expect(inbox.append(1, at('over', now, 60_000))).rejects.toMatchObject({ code: 'CIM_INBOX_FULL' })
      expect(await inbox.stats()).toMatchObject({ stored: 2, expired: 301 })
    } finally {
      await inbox.close()
    }
  })

  it('two nodes appending at once share one global bytes cap', async () => {
    const prefix = freshPrefix()
    const one = storedBytesOf(msg('0'))
    const a = new RedisInbox({ redis: redis.url, prefix, maxTotalBytes: one * 10 })
    const b = new RedisInbox({ redis: redis.url, prefix, maxTotalBytes: one * 10 })
    try {
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).append(i + 1, msg(String(i % 10)))))
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(10)
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'CIM_STORAGE_FULL' })
      expect(await a.stats()).toMatchObject({ stored: 10, bytes: one * 10 })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('expiry gives the global bytes back even after the per-user keys vanished (their backstop TTL)', async () => {
    const prefix = freshPrefix()
    const inbox = new RedisInbox({ redis: redis.url, prefix, maxTotalBytes: 10_000 })
    const client = new Redis(redis.url)
    try {
      const big = (text: string, ttlMs = 60_000): InboxAppend => ({ msgId: text[0], text, properties: {}, ts: Date.now(), ttlMs })
      await inbox.append(1, big('a'.repeat(3_000), 50))
      await inbox.append(2, big('b'.repeat(3_000), 50))
      await client.del(`${prefix}inbox:q:1`, `${prefix}inbox:m:1`, `${prefix}inbox:bytes:1`)
      await sleep(120)
      expect(await inbox.stats()).toEqual({ stored: 0, expired: 2, bytes: 0 })
      expect(await client.keys(`${prefix}inbox:bytes*`)).toEqual([])
      expect(await client.hlen(`${prefix}inbox:sizes`)).toBe(0)
      await inbox.append(1, big('c'.repeat(8_000)))
      expect((await inbox.stats()).bytes).toBe(storedBytesOf(big('c'.repeat(8_000))))
    } finally {
      client.disconnect()
      await inbox.close()
    }
  })
})

describe('Redis inbox epochs', () => {
  it('a user\'s keys lost (Redis restarted without its data) restart the stream at seq 1 under a new epoch', async () => {
    const prefix = freshPrefix()
    const inbox = new RedisInbox({ redis: redis.url, prefix })
    const client = new Redis(redis.url)
    try {
      for (let i = 1; i <= 57; i++) await inbox.append(5, msg(String(i)))
      expect(await inbox.ack(5, 57)).toBe(57)
      const old = await inbox.floor(5)
      expect(old.seq).toBe(57)
      // What a restart without persistence leaves of this prefix: nothing.
      await client.del(...await client.keys(`${prefix}*`))
      expect(await inbox.floor(5)).toEqual({ seq: 0, epoch: '' })
      const restarted = await inbox.append(5, msg('after'))
      expect(restarted.seq).toBe(1)
      expect(restarted.epoch).not.toBe(old.epoch)
      expect(await inbox.ack(5, 57, old.epoch)).toBe(0)
      expect((await inbox.list(5)).map((m) => [m.seq, m.epoch])).toEqual([[1, restarted.epoch]])
      // Only the counter lost (the epoch key kept): a counter made anew still means a new epoch.
      await client.del(`${prefix}inbox:seq:5`)
      const again = await inbox.append(5, msg('again'))
      expect(again.seq).toBe(1)
      expect(again.epoch).not.toBe(restarted.epoch)
    } finally {
      client.disconnect()
      await inbox.close()
    }
  })

  it('a counter stored before epochs existed gets one at the next login (floor), which appends keep', async () => {
    const prefix = freshPrefix()
    const inbox = new RedisInbox({ redis: redis.url, prefix })
    const client = new Redis(redis.url)
    try {
      await inbox.append(6, msg('a'))
      await inbox.ack(6, 1)
      await client.del(`${prefix}inbox:epoch:6`)
      const floor = await inbox.floor(6)
      expect(floor.seq).toBe(1)
      expect(floor.epoch).not.toBe('')
      expect(await inbox.append(6, msg('b'))).toMatchObject({ seq: 2, epoch: floor.epoch })
    } finally {
      client.disconnect()
      await inbox.close()
    }
  })
})
