/**
 * Issue 9 item 11, end to end over real HTTP, real brokers and real Redis: the inbox refuses
 * (never evicts) past its per-user bytes cap (CIM_INBOX_FULL) and its global cap
 * (CIM_STORAGE_FULL), acks and expiry give the bytes back, one request cannot store more than
 * --max-stored-bytes-per-request (413 before anything is stored), and batches are bounded by
 * --max-batch-items (README "Limits").
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import type { Config } from '../config.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { startNodes, type StoreKind, type TestNodes } from './support/nodes.ts'
import { getJson, postJson } from './support/wire.ts'
import { sleep } from './support/wait.ts'

let redis: RedisServer
let probe: Redis
beforeAll(async () => {
  redis = await startRedis()
  probe = new Redis(redis.url)
})
afterAll(async () => {
  probe?.disconnect()
  await redis?.stop()
})

const opened: TestNodes[] = []
afterEach(async () => {
  for (const n of opened.splice(0)) await n.close()
})

const KB = 1024

describe.each(['memory', 'redis'] as StoreKind[])('inbox and request bounds (%s)', (kind) => {
  async function start(overrides: Partial<Config> = {}): Promise<TestNodes> {
    const n = await startNodes(kind, overrides, { redisUrl: redis.url })
    opened.push(n)
    return n
  }
  async function users(n: TestNodes, count: number): Promise<number[]> {
    const ids: number[] = []
    for (let i = 0; i < count; i += 500) {
      const chunk = await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => n.adapters.accounts.register(`u${i + j}-${Math.random()}`)))
      ids.push(...chunk.map((a) => a.userId))
    }
    return ids
  }
  const pushOne = async (n: TestNodes, id: number, body: object) => (await postJson(`${n.routeUrl}/v1/push/users/${id}`, body)).body.results[0]
  const stored = async (n: TestNodes, id: number) => (await n.adapters.inbox.list(id)).map((m) => m.text)
  /** What the store holds: Redis keys (and used memory) under the node's prefix, or memory inbox stats. */
  async function footprint(n: TestNodes): Promise<{ stored: number; keys: number }> {
    const stats = await n.adapters.inbox.stats()
    return { stored: stats.stored, keys: kind === 'redis' ? (await probe.keys('*inbox*')).length : 0 }
  }

  it('a per-user bytes cap refuses with CIM_INBOX_FULL (saying bytes), keeps what it had; acks and expiry free bytes', async () => {
    const n = await start({ inboxMaxBytesPerUser: 25 * KB, inboxTtlSeconds: 60 })
    const [id] = await users(n, 1)
    const ten = 'x'.repeat(10 * KB)
    expect((await pushOne(n, id, { message: ten, qos: 1, ttlSeconds: 1 })).status).toBe('queued')
    expect((await pushOne(n, id, { message: ten, qos: 1 })).status).toBe('queued')
    expect(await pushOne(n, id, { message: ten, qos: 1 })).toEqual({ userId: id, status: 'rejected', code: 'CIM_INBOX_FULL' })
    expect((await stored(n, id)).length).toBe(2)
    const p2p = await postJson(`${n.routeUrl}/p2pRoute`, { userId: (await users(n, 1))[0], receiveUserId: id, msg: ten })
    expect(p2p.body).toMatchObject({ code: '4000', message: expect.stringMatching(/full \(1000 messages or 25600 bytes\)/) })
    // Expiry gives the first message's bytes back.
    await sleep(1_100)
    expect((await pushOne(n, id, { message: ten, qos: 1 })).status).toBe('queued')
    expect((await getJson(`${n.routeUrl}/v1/stats`)).body.inbox).toMatchObject({ stored: 2, expired: 1 })
    // An ack gives both back: two more fit.
    const seqs = (await n.adapters.inbox.list(id)).map((m) => m.seq)
    expect(await n.adapters.inbox.ack(id, seqs[seqs.length - 1])).toBe(2)
    expect((await pushOne(n, id, { message: ten, qos: 1 })).status).toBe('queued')
    expect((await pushOne(n, id, { message: ten, qos: 1 })).status).toBe('queued')
    expect((await stats(n)).bytes).toBeGreaterThanOrEqual(20 * KB)
  })

  it('a global cap refuses with CIM_STORAGE_FULL for every user; an ack makes room again', async () => {
    const n = await start({ inboxMaxTotalBytes: 35 * KB })
    const ids = await users(n, 4)
    const ten = 'y'.repeat(10 * KB)
    const res = await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids, message: ten, qos: 1 })
    expect(res.status).toBe(200)
    expect(res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status).sort())
      .toEqual(['CIM_STORAGE_FULL', 'queued', 'queued', 'queued'])
    const full = res.body.results.find((r: { code?: string }) => r.code)!.userId as number
    expect(await stored(n, full)).toEqual([])
    const queuedId = ids.find((id) => id !== full)!
    await n.adapters.inbox.ack(queuedId, 1)
    expect((await pushOne(n, full, { message: ten, qos: 1 })).status).toBe('queued')
    expect((await stats(n)).maxTotalBytes).toBe(35 * KB)
  })

  it('a push to 10,000 ids × 60 KB is refused with 413 before anything is stored', async () => {
    const n = await start({ maxBatchItems: 10_000 })
    const ids = await users(n, 10_000)
    const before = await footprint(n)
    const usedBefore = kind === 'redis' ? await usedMemory() : 0
    const started = Date.now()
    const res = await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids, message: 'z'.repeat(60 * KB), qos: 1 })
    expect(res.status).toBe(413)
    expect(res.body).toMatchObject({ code: 'CIM_PAYLOAD_TOO_LARGE', message: expect.stringMatching(/max-stored-bytes-per-request/) })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await footprint(n)).toEqual(before)
    if (kind === 'redis') expect(await usedMemory() - usedBefore).toBeLessThan(5 * 1024 * KB)
  }, 60_000)

  it('at the defaults, 1,000 ids × 20 KB (20 MB) is refused with 413 and nothing is stored', async () => {
    const n = await start()
    const ids = await users(n, 1_000)
    const res = await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids, message: 'w'.repeat(20 * KB), qos: 1 })
    expect(res.status).toBe(413)
    expect((await footprint(n)).stored).toBe(0)
    // qos 0 stores nothing, so the same request is not bounded by it.
    expect((await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids, message: 'w'.repeat(20 * KB) })).status).toBe(200)
  }, 30_000)

  it('userIds past --max-batch-items answer 400', async () => {
    const n = await start({ maxBatchItems: 3 })
    const ids = await users(n, 4)
    const res = await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids, message: 'hi', qos: 1 })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ code: 'CIM_INVALID_ARGUMENT', message: expect.stringMatching(/max-batch-items/) })
    expect((await footprint(n)).stored).toBe(0)
    expect((await postJson(`${n.routeUrl}/v1/push/users`, { userIds: ids.slice(0, 3), message: 'hi', qos: 1 })).status).toBe(200)
  })

  it('/p2pRoute with 150,000 batchMsg items is refused (3000) quickly and stores nothing', async () => {
    const n = await start()
    const [from, to] = await users(n, 2)
    const started = Date.now()
    const res = await postJson(`${n.routeUrl}/p2pRoute`, { userId: from, receiveUserId: to, batchMsg: Array.from({ length: 150_000 }, () => 'x') })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ code: '3000', message: expect.stringMatching(/max-batch-items/) })
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(await stored(n, to)).toEqual([])
  })

  it('/p2pRoute batchMsg must fit one frame in total; a batch that does is stored in order', async () => {
    const n = await start()
    const [from, to] = await users(n, 2)
    const tooBig = await postJson(`${n.routeUrl}/p2pRoute`, { userId: from, receiveUserId: to, batchMsg: Array.from({ length: 5 }, () => 'b'.repeat(20 * KB)) })
    expect(tooBig.body).toMatchObject({ code: '3000', message: expect.stringMatching(/batchMsg/) })
    expect(await stored(n, to)).toEqual([])
    expect((await postJson(`${n.routeUrl}/p2pRoute`, { userId: from, receiveUserId: to, batchMsg: ['one', 'two'] })).body.code).toBe('7000')
    expect(await stored(n, to)).toEqual(['one', 'two'])
  })

  async function stats(n: TestNodes) {
    return (await getJson(`${n.routeUrl}/v1/stats`)).body.inbox as { bytes: number; maxTotalBytes: number }
  }
})

async function usedMemory(): Promise<number> {
  const info = await probe.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)![1])
}
