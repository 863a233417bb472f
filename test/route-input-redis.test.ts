/**
 * Issue 9 item 3 with a real Redis: a `ttlSeconds` of 1e15 answered 500 yet stored the message
 * (the append script wrote before PEXPIRE failed), so a retrying backend duplicated it. Now the
 * API caps ttlSeconds at --inbox-ttl-seconds, and every inbox script checks its arguments first.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createMemoryAdapters } from '../adapters/index.ts'
import { RedisInbox } from '../adapters/inbox/redis.ts'
import { startAllInOne, type AllInOne } from './support/allinone.ts'
import { startRedis, type RedisServer } from './support/servers.ts'
import { postJson } from './support/wire.ts'

let redis: RedisServer
let node: AllInOne
let inbox: RedisInbox

beforeAll(async () => {
  redis = await startRedis()
  inbox = new RedisInbox({ redis: redis.url, prefix: 'ri:' })
  const memory = createMemoryAdapters()
  node = await startAllInOne({}, {
    ...memory, inbox,
    async close() { await memory.close(); await inbox.close() },
  })
})
afterAll(async () => {
  await node?.close()
  await redis?.stop()
})

describe('item 3: ttlSeconds and the Redis inbox scripts', () => {
  it('ttlSeconds 1e15 answers 400 and stores nothing; the inbox TTL itself is accepted', async () => {
    const id = (await postJson(`${node.routeUrl}/v1/users`, { userName: 'ri-ttl' })).body.userId as number
    for (const ttlSeconds of [1e15, node.config.inboxTtlSeconds + 1]) {
      const res = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'once', qos: 1, ttlSeconds })
      expect(res.status, String(ttlSeconds)).toBe(400)
      expect(res.body.code).toBe('CIM_INVALID_ARGUMENT')
      expect(res.body.message).toContain('ttlSeconds')
    }
    expect(await inbox.list(id)).toEqual([])
    const ok = await postJson(`${node.routeUrl}/v1/push/users/${id}`, { message: 'kept', qos: 1, ttlSeconds: node.config.inboxTtlSeconds })
    expect(ok.body.results[0].status).toBe('queued')
    expect((await inbox.list(id)).map((m) => m.text)).toEqual(['kept'])
  })

  it('the append script refuses an out-of-range lifetime before it writes anything', async () => {
    const direct = new RedisInbox({ redis: redis.url, prefix: 'ri-direct:' })
    try {
      await expect(direct.append(7, { msgId: 'm', text: 't', properties: {}, ts: Date.now(), ttlMs: 1e18 })).rejects.toThrow(/CIM_INVALID_ARGUMENT/)
      expect(await direct.list(7)).toEqual([])
      expect((await direct.floor(7)).seq).toBe(0)
      expect((await direct.stats()).stored).toBe(0)
    } finally {
      await direct.close()
    }
  })
})
